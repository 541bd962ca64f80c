"""Answer quality on the test splits, side by side, in one run:

- **cosine top-1**: the sentence of the top 8 passages closest to the question (e5), never
  abstaining: the plain baseline;
- **previous answerer**: the hand-tuned extractive answerer of commit `LEGACY_COMMIT`, run from a
  git worktree in a subprocess over the same index files;
- **learned selector**: this checkout's `Assistant`.

    python bench/answers.py [--skip-legacy] [--limit N]
    python bench/answers.py --split validation --failures   # for tuning: never the test splits


With `--split validation`: irev dev, the validation web articles, the follow-ups' dev third,
and `followups_web.jsonl` (the rewriter's dev conversations over the web train articles: the
selector was trained on questions of those articles, so its figures flatter the ranking).

Sets (test splits only, see eval/splits.py): irev test over the shipped index (`data/index`, as
built by `make run`), web-article test questions over the index of the 56 web articles
(`data/training/web`, built by `python -m eval.training`), follow-up conversations test over
the shipped index; and PIAF test (top-1 sentence holds the answer span) over the PIAF index.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LEGACY_COMMIT = "dfadcee"
TOP_K = 8

_LEGACY_DRIVER = """
import json, sys
from pathlib import Path
from assistant.answer import Assistant
from assistant.store import Store
from ingest.embedding import load_embedder
job = json.load(sys.stdin)
# the model the indexes were built with (this checkout's, as a local path the old code loads)
embedder = load_embedder(job["model"], Path(job["models_dir"]))
out = {}
for name, spec in job["sets"].items():
    assistant = Assistant(Path(spec["index_dir"]), embedder, Store("sqlite://"), top_k=8)
    rows = []
    for q in spec["questions"]:
        a = assistant.ask(q["question"], history=q["turns"])
        rows.append({"answer": a.answer, "grounded": a.grounded,
                     "cited": [c.text for c in a.citations],
                     "standalone": a.standalone_question or q["question"]})
    out[name] = rows
json.dump(out, sys.stdout, ensure_ascii=False)
"""


# The split each set reports: `test` for the README; `validation` (irev and follow-ups: their
# dev part) while tuning.
SPLITS = {"test": {"irev": "test", "web": "test", "followups": "test"},
          "validation": {"irev": "dev", "web": "validation", "followups": "dev"}}


def load_sets(limit: int | None, split: str = "test") -> dict[str, dict]:
    from eval.datasets import load_dataset
    from eval.splits import followup_split, irev_split, web_split

    datasets = ROOT / "eval" / "datasets"
    data = ROOT / "data"
    wanted = SPLITS[split]
    sets = {
        f"irev ({wanted['irev']})": (datasets / "irev.jsonl", irev_split, data / "index",
                                     wanted["irev"]),
        f"web articles ({wanted['web']})": (datasets / "web.jsonl", web_split,
                                            data / "training" / "web", wanted["web"]),
        f"follow-ups ({wanted['followups']})": (datasets / "followups.jsonl", followup_split,
                                                data / "index", wanted["followups"]),
    }
    if split == "validation":  # the rewriter's second dev set: over the web train articles
        sets["follow-ups on web articles (dev)"] = (
            datasets / "followups_web.jsonl", lambda _: "dev", data / "training" / "web", "dev")
    out = {}
    for name, (path, split_of, index_dir, keep) in sets.items():
        questions = [q for q in load_dataset(path) if split_of(q.id) == keep
                     and q.answerable is not None and (q.facts or not q.answerable)]
        out[name] = {"index_dir": str(index_dir), "questions": [
            {"id": q.id, "question": q.question, "turns": q.turns, "facts": q.facts,
             "answerable": q.answerable, "standalone": q.standalone}
            for q in questions[:limit]]}
    return out


def run_legacy(sets: dict, models_dir: Path) -> dict:
    """The previous answerer, from a worktree of `LEGACY_COMMIT`, with the embedder this
    checkout's indexes were built with (its own default would embed the questions with another
    model than the passages)."""
    from ingest.embedding import DEFAULT_MODEL_NAME, resolve_model

    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "legacy"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), LEGACY_COMMIT],
                       cwd=ROOT, check=True, capture_output=True)
        try:
            job = json.dumps({"sets": sets, "models_dir": str(models_dir),
                              "model": resolve_model(DEFAULT_MODEL_NAME, models_dir)})
            done = subprocess.run([sys.executable, "-c", _LEGACY_DRIVER], input=job, text=True,
                                  capture_output=True, cwd=tree, check=True,
                                  env={"PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1",
                                       "PATH": "/usr/bin:/bin", "TOKENIZERS_PARALLELISM": "0"})
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           check=False, capture_output=True)
    return json.loads(done.stdout)


def run_ours(sets: dict, embedder, selector) -> tuple[dict, dict]:
    from assistant.answer import build_assistant
    from assistant.extractive import candidates
    from assistant.rewrite import rewrite, standalone_turns
    from assistant.store import Store

    ours, baseline = {}, {}
    for name, spec in sets.items():
        assistant = build_assistant(Path(spec["index_dir"]), embedder, Store("sqlite://"),
                                    top_k=TOP_K, selector=selector)
        rows, base = [], []
        for q in spec["questions"]:
            a = assistant.ask(q["question"], history=q["turns"])
            rows.append({"answer": a.answer, "grounded": a.grounded,
                         "cited": [c.text for c in a.citations],
                         "standalone": a.standalone_question or q["question"]})
            history = standalone_turns(q["turns"])
            standalone = rewrite(q["question"], history)
            hits = assistant.search(standalone, TOP_K)
            found = candidates(hits, assistant.index, keep_all=True)
            query = assistant.index.embed_query(standalone)
            best = max(found, key=lambda c: float(c.vector @ query), default=None)
            base.append({"answer": best.sentence if best else "", "grounded": bool(best),
                         "cited": [best.hit.text] if best else [], "standalone": standalone})
        ours[name], baseline[name] = rows, base
    return ours, baseline


def held(q: dict, r: dict) -> bool:
    """The answer was given and holds every expected fact."""
    from eval.facts import holds

    return r["grounded"] and holds(r["answer"], q["facts"])


def right(q: dict, r: dict) -> bool:
    """Answerable: the fact is held; unanswerable: the assistant refused."""
    return held(q, r) if q["answerable"] else not r["grounded"]


def measure(spec: dict, rows: list[dict]) -> dict:
    from eval.facts import holds
    from ingest.text import tokenize

    rewrites = [len(set(tokenize(q["standalone"])) & set(tokenize(r["standalone"])))
                / max(1, len(set(tokenize(q["standalone"]))))
                for q, r in zip(spec["questions"], rows, strict=True) if q.get("standalone")]

    answerable = [(q, r) for q, r in zip(spec["questions"], rows, strict=True) if q["answerable"]]
    unanswerable = [(q, r) for q, r in zip(spec["questions"], rows, strict=True)
                    if not q["answerable"]]
    n = max(1, len(answerable))
    return {
        "answerable": len(answerable), "unanswerable": len(unanswerable),
        "fact": sum(held(q, r) for q, r in answerable) / n,
        "cited_holds": sum(r["grounded"] and any(holds(t, q["facts"]) for t in r["cited"])
                           for q, r in answerable) / n,
        "false_abstention": sum(not r["grounded"] for _, r in answerable) / n,
        "refused": (sum(right(q, r) for q, r in unanswerable) / len(unanswerable)
                    if unanswerable else None),
        # share of the expected stand-alone question's words in the rewrite (follow-ups)
        "rewrite_recall": sum(rewrites) / len(rewrites) if rewrites else None,
    }


def print_failures(sets: dict, ours: dict) -> None:
    from bench.common import console

    for name, spec in sets.items():
        for q, r in zip(spec["questions"], ours[name], strict=True):
            if right(q, r):
                continue
            kind = "answerable" if q["answerable"] else "UNANSWERABLE"
            console.print(f"--- {name} {q['id']} {kind}\nQ: {r['standalone']}\n"
                          f"facts: {q['facts']}\nA: {r['answer'][:400]}", markup=False)


def piaf_test(embedder, limit: int | None, split: str, selector) -> dict:
    """Top-1 sentence holds the answer span: e5 cosine vs the learned selector (PIAF test)."""
    import numpy as np

    from assistant.extractive import score
    from assistant.live_index import LiveIndex
    from eval.datasets import load_squad
    from eval.facts import normalise_fact
    from eval.splits import piaf_split

    squad = load_squad(ROOT.parent / "shared/benchmarks/piaf/piaf-v1.0.json")
    titles = {d.id: d.title for d in squad.documents}
    questions = [q for q in squad.questions if q.answers and piaf_split(titles[q.context_id])
                 == split][:limit]
    index = LiveIndex(ROOT / "data" / "training" / "piaf", embedder)
    cosine = model = usable = 0
    for q in questions:
        hits = index.search(q.question, TOP_K)
        found, rows, pairs = score(q.question, hits, index, selector.similarity)
        probabilities = selector.probabilities(rows, pairs) if found else []
        wanted = [normalise_fact(a) for a in q.answers]

        def positive(c, q=q, wanted=wanted) -> bool:
            return c.hit.document_id == f"{q.context_id}.txt" and any(
                w in normalise_fact(c.sentence) for w in wanted)

        if not any(positive(c) for c in found):
            continue
        usable += 1
        query = index.embed_query(q.question)
        cosine += positive(max(found, key=lambda c: float(c.vector @ query)))
        model += positive(found[int(np.argmax(probabilities))])
    return {"questions": len(questions), "with_positive": usable,
            "cosine": cosine / max(1, usable), "model": model / max(1, usable)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-legacy", action="store_true")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--split", choices=sorted(SPLITS), default="test",
                        help="validation: the tuning splits (the README reports test only)")
    parser.add_argument("--selector", type=Path, default=None,
                        help="a selector file other than the shipped one (for tuning)")
    parser.add_argument("--failures", action="store_true",
                        help="print the learned selector's misses, question by question")
    args = parser.parse_args()
    from bench.common import check_index_model, console, load_model, machine_note, make_table

    started = time.perf_counter()
    sets = load_sets(args.limit, args.split)
    for index_dir in {spec["index_dir"] for spec in sets.values()} | {
            str(ROOT / "data" / "training" / "piaf")}:
        check_index_model(Path(index_dir))
    embedder = load_model(ROOT / "data" / "models")
    from assistant.selector import DEFAULT_MODEL, Selector

    selector = Selector.load(args.selector or DEFAULT_MODEL)  # one for every set and PIAF
    ours, baseline = run_ours(sets, embedder, selector)
    legacy = None if args.skip_legacy or args.split != "test" else \
        run_legacy(sets, ROOT / "data" / "models")
    if args.failures:
        print_failures(sets, ours)
    results = {"sets": {}}
    rows = []
    for name, spec in sets.items():
        systems = {"cosine top-1": baseline[name], "previous answerer": (legacy or {}).get(name),
                   "learned selector": ours[name]}
        for system, answers in systems.items():
            if answers is None:
                continue
            m = measure(spec, answers)
            results["sets"].setdefault(name, {})[system] = m
            rows.append([name, system, f"{m['answerable']}+{m['unanswerable']}",
                         f"{m['fact']:.0%}", f"{m['cited_holds']:.0%}",
                         f"{m['false_abstention']:.0%}",
                         "—" if m["refused"] is None else f"{m['refused']:.0%}",
                         "—" if m["rewrite_recall"] is None else f"{m['rewrite_recall']:.0%}"])
    table = make_table(f"Answers on the {args.split} splits", [
        "set", "system", "questions (ans.+unans.)", "fact held", "cited passage holds",
        "false abstentions", "unanswerable refused", "rewrite recall"], machine_note())
    for row in rows:
        table.add_row(*row)
    console.print(table)
    piaf = piaf_test(embedder, args.limit, args.split, selector)
    results["piaf_test"] = piaf
    table = make_table(f"PIAF {args.split}: the top-1 sentence holds the answer span", [
        "questions", "with a positive in top 8", "top-1 cosine", "top-1 selector"])
    table.add_row(str(piaf["questions"]), str(piaf["with_positive"]), f"{piaf['cosine']:.1%}",
                  f"{piaf['model']:.1%}")
    console.print(table)
    out = ROOT / "eval" / "results" / f"answers-{args.split}-latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    console.print(f"{time.perf_counter() - started:.0f} s; written to {out}")


if __name__ == "__main__":
    main()
