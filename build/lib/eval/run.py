"""Run a question set against the assistant and score it.

>>> results = run_eval(load_dataset(Path("eval/datasets/irev.jsonl")), "http://127.0.0.1:8000")
>>> save_results(results, Path("eval/results"))
"""

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from eval import metrics
from eval.client import AssistantLike, HttpAssistant, as_dict, connect
from eval.datasets import EvalQuestion, load_dataset
from eval.provenance import corpus_fingerprint, file_sha256, git_commit, public_settings
from eval.relevance import is_relevant_to_any

Progress = Callable[[int, int, dict[str, Any]], None]
TEXT_LIMIT = 600  # characters of each passage kept in the results file
SCHEMA_VERSION = 1


def run_eval(
    dataset: Sequence[EvalQuestion] | Path | str,
    assistant_or_url: AssistantLike | str,
    k: int = 10,
    progress: Progress | None = None,
    *,
    settings: BaseModel | Mapping[str, Any] | None = None,
    corpus_dirs: Sequence[Path] = (),
    embed: Callable[[list[str]], Any] | None = None,
    supports: Callable[[str, str], bool] | None = None,
) -> dict[str, Any]:
    """Ask every question (after its earlier `turns`), search the top `k`, score everything.

    `embed` enables semantic similarity and `supports` faithfulness; both are optional.
    Returns a JSON-ready dict: provenance, aggregated `metrics`, `by_tag` and `records`.
    """
    source = str(dataset) if isinstance(dataset, Path | str) else None
    questions = load_dataset(dataset) if isinstance(dataset, Path | str) else list(dataset)
    assistant = connect(assistant_or_url)
    started = datetime.now(UTC)
    records = []
    for number, question in enumerate(questions, start=1):
        records.append(_run_one(assistant, question, k))
        if progress:
            progress(number, len(questions), records[-1])
    scores = score(questions, records, k, embed=embed, supports=supports)
    for record in records:  # judged on full texts above; the file keeps excerpts
        for passage in record["hits"] + record["citations"]:
            passage["text"] = passage["text"][:TEXT_LIMIT]
    settings_json = public_settings(settings)
    return {
        "schema": SCHEMA_VERSION,
        "created_at": started.isoformat(timespec="seconds"),
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 2),
        "dataset": {
            "path": source,
            "sha256": file_sha256(Path(source)) if source else None,
            "questions": len(questions),
        },
        "target": assistant.base_url
        if isinstance(assistant, HttpAssistant)
        else type(assistant).__name__,
        "k": k,
        "settings": settings_json,
        "model": _model_info(assistant, settings_json, records),
        "corpus": corpus_fingerprint(corpus_dirs),
        "git": git_commit(),
        **scores,
        "records": records,
    }


def _run_one(assistant: AssistantLike, question: EvalQuestion, k: int) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": question.id,
        "question": question.question,
        "turns": question.turns,
        "tags": question.tags,
        "answerable": question.answerable,
        "reference_answer": question.reference_answer,
        "expected_sources": [
            s.model_dump(exclude_defaults=True) for s in question.expected_sources
        ],
        "answer": "",
        "grounded": False,
        "citations": [],
        "hits": [],
        "latency_s": None,
        "search_latency_s": None,
        "error": None,
    }
    try:
        conversation_id = None
        for turn in question.turns:
            conversation_id = as_dict(assistant.ask(turn, conversation_id)).get("conversation_id")
        started = time.perf_counter()
        answer = as_dict(assistant.ask(question.question, conversation_id))
        record["latency_s"] = round(time.perf_counter() - started, 4)
        query = answer.get("standalone_question") or question.question
        started = time.perf_counter()
        hits = [as_dict(hit) for hit in assistant.search(query, k)]
        record["search_latency_s"] = round(time.perf_counter() - started, 4)
    except Exception as exc:  # noqa: BLE001 - one failing question must not stop the run
        record["error"] = f"{type(exc).__name__}: {exc}"
        return record
    record.update(
        answer=answer.get("answer") or "",
        grounded=bool(answer.get("grounded")),
        mode=answer.get("mode"),
        search_query=query,
        citations=[_passage(c, question) for c in answer.get("citations") or []],
        hits=[_passage(h, question) for h in hits],
    )
    return record


def _passage(item: dict[str, Any], question: EvalQuestion) -> dict[str, Any]:
    """The fields worth keeping, the full text (judged before truncation) and its judgement."""
    keys = (
        "n",
        "node_id",
        "document_id",
        "title",
        "page",
        "page_end",
        "section",
        "article",
        "url",
        "score",
    )
    kept = {key: item[key] for key in keys if item.get(key) is not None}
    kept["text"] = item.get("text") or ""
    kept["relevant"] = is_relevant_to_any(kept, question.expected_sources)
    return kept


def score(
    questions: Sequence[EvalQuestion],
    records: list[dict[str, Any]],
    k: int,
    embed: Callable[[list[str]], Any] | None = None,
    supports: Callable[[str, str], bool] | None = None,
) -> dict[str, Any]:
    """Aggregate metrics, per-tag means, and each record's own scores and failures (in place)."""
    expected = [q.expected_sources for q in questions]
    hits = [r["hits"] for r in records]
    cited = [r["citations"] for r in records]
    answers = [r["answer"] for r in records]
    references = [q.reference_answer if q.answerable else None for q in questions]
    abstained = [not r["grounded"] for r in records]
    answerable = [q.answerable for q in questions]
    results = [
        metrics.hit_at_k(hits, expected, k),
        metrics.recall_at_k(hits, expected, k),
        metrics.mrr_at_10(hits, expected),
        metrics.ndcg_at_10(hits, expected),
        metrics.citation_precision(cited, expected),
        metrics.citation_recall(cited, expected),
        metrics.page_accuracy(cited, expected),
        metrics.token_f1(answers, references),
        metrics.abstention_accuracy(abstained, answerable),
        metrics.false_abstention_rate(abstained, answerable),
        metrics.latency_p50([r["latency_s"] for r in records]),
        metrics.latency_p95([r["latency_s"] for r in records]),
    ]
    if embed is not None:
        results.append(metrics.semantic_similarity(answers, references, embed))
    if supports is not None:
        results.append(metrics.faithfulness(answers, cited, supports))
    per_question = [m for m in results if not m.name.startswith("latency")]
    for index, record in enumerate(records):
        record["scores"] = {m.name: m.individual_scores[index] for m in per_question}
        record["failures"] = describe_failures(record, k)
    return {
        "metrics": {m.name: m.score for m in results},
        "metric_counts": {m.name: sum(s is not None for s in m.individual_scores) for m in results},
        "by_tag": _by_tag(records, [m.name for m in per_question]),
    }


def describe_failures(record: dict[str, Any], k: int) -> list[str]:
    """What went wrong for one question, in French, for the report's readers."""
    if record.get("error"):
        return [f"erreur : {record['error']}"]
    scores, failures = record["scores"], []
    answerable, abstained = record["answerable"], not record["grounded"]
    if answerable is False and not abstained:
        failures.append("a répondu à une question hors corpus")
    if answerable and abstained:
        failures.append("abstention à tort : la réponse est dans le corpus")
    if scores.get(f"hit@{k}") == 0:
        failures.append(f"aucune source attendue parmi les {k} premiers passages")
    wrong = [str(c.get("n", "?")) for c in record["citations"] if not c["relevant"]]
    if answerable and wrong:
        failures.append(f"citation(s) hors des sources attendues : [{'], ['.join(wrong)}]")
    if answerable and not abstained and scores.get("citation_recall") == 0:
        failures.append("aucune citation des sources attendues")
    if _below_one(scores.get("page_accuracy")):
        failures.append("page ou article cité incorrect")
    if _below_one(scores.get("faithfulness")):
        failures.append("phrase(s) non étayée(s) par leur citation")
    return failures


def _below_one(value: float | None) -> bool:
    return value is not None and value < 1


def _by_tag(records: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    tags = sorted({tag for record in records for tag in record["tags"]})
    table: dict[str, dict[str, Any]] = {}
    for tag in tags:
        rows = [r for r in records if tag in r["tags"]]
        table[tag] = {"n": len(rows)}
        for name in names:
            values = [r["scores"][name] for r in rows if r["scores"].get(name) is not None]
            table[tag][name] = sum(values) / len(values) if values else None
    return table


def _model_info(
    assistant: AssistantLike, settings: dict[str, Any], records: list[dict[str, Any]]
) -> dict[str, Any]:
    info: dict[str, Any] = {
        key: settings[key] for key in ("embed_model", "llm_model", "fusion") if key in settings
    }
    info["answer_modes"] = dict(Counter(r.get("mode") or "inconnu" for r in records))
    if isinstance(assistant, HttpAssistant):
        info["server"] = assistant.health()
    return info


def save_results(results: dict[str, Any], folder: Path = Path("eval/results")) -> Path:
    """Write `<date>-<sha7>.json` (a suffix avoids overwriting) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    sha = (results.get("git", {}).get("commit") or "nogit")[:7]
    stem = f"{results['created_at'][:10]}-{sha}"
    path, n = folder / f"{stem}.json", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def load_results(path: Path | str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
