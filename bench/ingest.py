"""Ingestion speed and retrieval quality: our pipeline against a plain llama-index baseline.

    python bench/ingest.py [--quick] [--ingestion-only] [--json PATH]
                           [--models-dir /tmp/bench-models]

(a) Ingestion of `corpus/` and of `../shared/corpus/pdf ../shared/corpus/legal`: each variant
    runs in a fresh subprocess (peak RSS per variant, model load counted alike) into a fresh
    temporary index; ours is then re-run on the unchanged corpus (incremental path).
(b) Retrieval quality on PIAF v1.0 and service-public.fr (SQuAD format): each context is one
    document; a hit is a retrieved chunk of the gold document.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import (
    CHUNK_OVERLAP,
    CHUNK_SIZE,
    DEFAULT_MODELS_DIR,
    ROOT,
    SHARED,
    CachedQueries,
    baseline_documents,
    baseline_index,
    console,
    load_model,
    machine_note,
    make_table,
    model_name,
    peak_rss_mb,
    ratio,
    save_json,
)

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from eval.datasets import SquadSet

PIAF = SHARED / "benchmarks/piaf/piaf-v1.0.json"
SPF = SHARED / "benchmarks/piaf-ml-spf/filtered_spf_qr_test.json"
# Full run: 500 PIAF questions (random, seed 0) over their gold paragraphs plus distractor
# paragraphs up to 600 contexts; all 105 service-public questions over all 105 fiches.
FULL = {"piaf_questions": 500, "piaf_contexts": 600, "spf_questions": None, "spf_contexts": None}
QUICK = {"piaf_questions": 10, "piaf_contexts": 15, "spf_questions": 4, "spf_contexts": 6}
VARIANTS = ("ours", "llama-index")


# -- (a) ingestion, one subprocess per variant ------------------------------------------------

def worker(variant: str, paths: list[Path], models_dir: Path) -> dict[str, Any]:
    """Runs inside the subprocess: load the model, ingest `paths`, report sizes and timings."""
    started = time.perf_counter()
    embedder = load_model(models_dir)
    loaded = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        if variant == "ours":
            from ingest import pipeline

            def ingest():
                return pipeline.run(paths, Path(tmp) / "index", embedder, model_name=model_name(),
                                    chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)

            report = ingest()
            done, peak = time.perf_counter(), peak_rss_mb()  # before the re-run
            again = ingest()
            (Path(tmp) / "models").symlink_to(models_dir.resolve())
            env = {**os.environ, "IREV_DATA_DIR": tmp, "IREV_CHUNK_SIZE": str(CHUNK_SIZE),
                   "IREV_CHUNK_OVERLAP": str(CHUNK_OVERLAP), "HF_HUB_OFFLINE": "1"}
            process = time.perf_counter()  # `irev ingest` as a user runs it, nothing changed
            noop = subprocess.run([sys.executable, "-m", "cli.main", "ingest", *map(str, paths)],
                                  env=env, cwd=ROOT, check=False, capture_output=True, text=True)
            if noop.returncode != 0:
                raise RuntimeError(f"irev ingest failed:\n{noop.stderr[-2000:]}")
            row = {"noop_process_s": time.perf_counter() - process,
                   "documents": len(report.indexed), "pages": report.pages,
                   "chunks": report.chunks, "notes": f"{len(report.duplicates)} near-duplicates "
                   f"skipped, {len(report.ignored)} files ignored, {len(report.skipped)} failed",
                   "incremental_s": again.seconds, "incremental_embedded": again.embedded}
        else:
            documents = baseline_documents(paths)
            index, nodes = baseline_index(documents, embedder)
            index.storage_context.persist(persist_dir=str(Path(tmp) / "storage"))
            done, peak = time.perf_counter(), peak_rss_mb()
            files = {d.metadata.get("file_path") for d in documents}
            row = {"documents": len(files), "pages": sum("page_label" in d.metadata
                                                         for d in documents),
                   "chunks": len(nodes), "notes": "every file read, twins and sidecars included"}
    return {**row, "load_s": loaded - started, "ingest_s": done - loaded, "peak_rss_mb": peak}


def run_worker(variant: str, paths: list[Path], models_dir: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", variant, "--models-dir", str(models_dir),
               *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ingestion(corpora: dict[str, list[Path]], models_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for turn, (label, paths) in enumerate(corpora.items()):
        order = VARIANTS if turn % 2 == 0 else VARIANTS[::-1]  # alternate who goes first
        with console.status(f"ingesting {label}…"):
            results = {v: run_worker(v, paths, models_dir) for v in order}
        rows += [{"corpus": label, "pipeline": v, **results[v]} for v in VARIANTS]
    return rows


def print_ingestion(rows: list[dict[str, Any]]) -> None:
    table = make_table("Ingestion: ours vs plain llama-index (fresh subprocess and index each)",
                       ["corpus", "pipeline", "docs", "pages", "chunks", "model load s",
                        "ingest s", "chunks/s", "peak RSS MB"],
                       caption="ingest s excludes the model load; chunks/s = chunks / ingest s.")
    for ours, base in zip(rows[::2], rows[1::2], strict=True):
        for row in (ours, base):
            table.add_row(row["corpus"], row["pipeline"], str(row["documents"]), str(row["pages"]),
                          str(row["chunks"]), f"{row['load_s']:.1f}", f"{row['ingest_s']:.1f}",
                          f"{row['chunks'] / row['ingest_s']:.1f}", f"{row['peak_rss_mb']:.0f}")
        table.add_row("", "[bold]ours / llama-index[/bold]", "", "",
                      ratio(ours["chunks"], base["chunks"]), ratio(ours["load_s"], base["load_s"]),
                      ratio(ours["ingest_s"], base["ingest_s"]),
                      ratio(ours["chunks"] / ours["ingest_s"], base["chunks"] / base["ingest_s"]),
                      ratio(ours["peak_rss_mb"], base["peak_rss_mb"]))
        table.add_row("", "ours, re-run unchanged", "", "", f"{ours['incremental_embedded']} "
                      "embedded", "", f"{ours['incremental_s']:.2f}", "", "")
        table.add_row("", "ours, `irev ingest` unchanged", "", "", "", "",
                      f"{ours['noop_process_s']:.2f} (whole process)", "", "", end_section=True)
    console.print(table)
    for row in rows:
        console.print(f"[dim]{row['corpus']} · {row['pipeline']}: {row['notes']}[/dim]")


# -- (b) retrieval quality ---------------------------------------------------------------------

def capped(path: Path, questions: int | None, contexts: int | None) -> tuple[SquadSet, str]:
    """A random (seed 0) subset: `questions` questions, their gold contexts, then distractor
    contexts up to `contexts` in all."""
    from eval.datasets import SquadSet, load_squad

    full = load_squad(path)
    rng = random.Random(0)
    chosen = rng.sample(full.questions, questions) if questions else full.questions
    needed = {q.context_id for q in chosen}
    others = [d.id for d in full.documents if d.id not in needed]
    rng.shuffle(others)
    keep = needed | set(others[:max(0, (contexts or len(full.documents)) - len(needed))])
    documents = [d for d in full.documents if d.id in keep]
    note = (f"{len(chosen)}/{len(full.questions)} questions, {len(documents)}/"
            f"{len(full.documents)} contexts ({len(needed)} gold + {len(keep) - len(needed)} "
            "distractors)")
    return SquadSet(name=full.name, documents=documents, questions=chosen), note


def rank_metrics(rankings: list[list[str]], gold: list[set[str]]) -> dict[str, float]:
    """Recall@1, Recall@5, MRR@10 over document ids of the ranked chunks."""
    firsts = [next((r for r, d in enumerate(ids[:10]) if d in g), None)
              for ids, g in zip(rankings, gold, strict=True)]
    n = len(firsts)
    return {"R@1": sum(f == 0 for f in firsts) / n,
            "R@5": sum(f is not None and f < 5 for f in firsts) / n,
            "MRR@10": sum(1 / (f + 1) for f in firsts if f is not None) / n}


def evaluate(squad: SquadSet, embedder: BaseEmbedding, workdir: Path) -> dict[str, Any]:
    from assistant.retrieval import Retriever
    from ingest import pipeline
    from ingest.index import load_index
    from ingest.manifest import document_id

    folder = workdir / squad.name / "docs"
    squad.write_corpus(folder)
    report = pipeline.run([folder], workdir / squad.name / "index", embedder,
                          model_name=model_name(), chunk_size=CHUNK_SIZE,
                          chunk_overlap=CHUNK_OVERLAP)
    aliases = {document_id(Path(path)): kept for path, kept in report.duplicates}
    gold = []
    for q in squad.questions:
        doc = document_id(Path(f"{q.context_id}.txt"))
        gold.append({doc, aliases.get(doc, doc)})
    cached = CachedQueries(embedder)
    index = load_index(workdir / squad.name / "index", cached)
    systems = {"dense": Retriever(index, "dense"), "BM25": Retriever(index, "bm25"),
               "RRF k=10": Retriever(index, "rrf", 10), "RRF k=60": Retriever(index, "rrf", 60)}
    rows = {}
    for label, retriever in systems.items():
        rankings = [[h.document_id for h in retriever.search(q.question, 10)]
                    for q in squad.questions]
        rows[label] = rank_metrics(rankings, gold)
    base, nodes = baseline_index(baseline_documents([folder]), cached)
    retriever = base.as_retriever(similarity_top_k=10)
    rankings = [[document_id(Path(h.node.metadata["file_name"]))
                 for h in retriever.retrieve(q.question)] for q in squad.questions]
    rows["llama-index (SentenceSplitter + VectorStoreIndex)"] = rank_metrics(rankings, gold)
    return {"chunks_ours": report.chunks, "chunks_baseline": len(nodes),
            "duplicates": len(report.duplicates), "metrics": rows}


def quality(sizes: dict[str, int | None], embedder: BaseEmbedding) -> list[dict[str, Any]]:
    results = []
    sets = [("PIAF v1.0", PIAF, sizes["piaf_questions"], sizes["piaf_contexts"]),
            ("service-public.fr", SPF, sizes["spf_questions"], sizes["spf_contexts"])]
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        for label, path, questions, contexts in sets:
            squad, note = capped(path, questions, contexts)
            started = time.perf_counter()
            with console.status(f"retrieval quality on {label}…"):
                result = evaluate(squad, embedder, Path(tmp))
            results.append({"set": label, "sample": note,
                            "seconds": time.perf_counter() - started, **result})
    return results


def print_quality(results: list[dict[str, Any]]) -> None:
    for result in results:
        table = make_table(f"Retrieval quality: {result['set']}", ["retriever", "Recall@1",
                           "Recall@5", "MRR@10"],
                           caption=f"{result['sample']}; chunks: ours {result['chunks_ours']}, "
                           f"llama-index {result['chunks_baseline']}; {result['duplicates']} "
                           f"near-duplicate contexts merged by ours; {result['seconds']:.0f} s. "
                           "Hit = a retrieved chunk of the gold context.")
        for label, m in result["metrics"].items():
            table.add_row(label, f"{m['R@1']:.3f}", f"{m['R@5']:.3f}", f"{m['MRR@10']:.3f}")
        console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--ingestion-only", action="store_true", help="skip (b), retrieval quality")
    parser.add_argument("--json", type=Path, help="also save the tables as JSON")
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.stdout.write(json.dumps(worker(args.worker, args.paths, args.models_dir)) + "\n")
        return
    started = time.perf_counter()
    embedder = load_model(args.models_dir)  # converts once, before the timed subprocesses
    console.print(f"[bold]bench/ingest.py[/bold] {'--quick ' if args.quick else ''}· "
                  f"{machine_note()}")
    corpora = {"corpus/": [ROOT / "corpus"]}
    if not args.quick:
        corpora["shared pdf + legal"] = [SHARED / "corpus/pdf", SHARED / "corpus/legal"]
    rows = ingestion(corpora, args.models_dir)
    print_ingestion(rows)
    from ocr import main as ocr_bench  # OCR pages/s and character error rate (bench/ocr.py)

    ocr = ocr_bench()
    results = [] if args.ingestion_only else quality(QUICK if args.quick else FULL, embedder)
    if results:
        print_quality(results)
    console.print(f"[dim]total {time.perf_counter() - started:.0f} s · {machine_note()}[/dim]")
    save_json(args.json, {"machine": machine_note(), "ingestion": rows, "ocr": ocr,
                          "quality": results})


if __name__ == "__main__":
    main()
