"""Choose the extractive answerer's abstention thresholds by measurement on the eval set.

Collects, once, the scored candidate sentences of every question (thresholds disabled), then
replays the decision for a grid of thresholds and prints the best settings:

    python bench/calibrate.py [DATASET]     (uses the index in IREV_DATA_DIR)
"""

import itertools
import sys
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant import extractive
from assistant.answer import Assistant
from assistant.references import parse_reference, strip_reference
from assistant.rewrite import rewrite
from assistant.settings import Settings
from eval.datasets import load_dataset
from eval.relevance import is_relevant

DEFAULT_DATASET = Path(__file__).resolve().parents[1] / "eval/datasets/irev.jsonl"


def collect(assistant: Assistant, questions) -> list[tuple[bool, list]]:
    """(answerable, [(candidate, passage is relevant)]) per question, best candidate first."""
    rows = []
    for q in questions:
        history: list[str] = []
        for turn in q.turns:
            history.append(rewrite(turn, history))
        standalone = rewrite(q.question, history)
        hits = assistant.search(standalone, assistant.top_k)
        reference = parse_reference(standalone)
        topic = strip_reference(standalone) if not reference.is_empty else standalone
        if reference.article and not extractive.topic_terms(topic):
            rows.append((q.answerable, None))  # quoted article: no threshold involved
            continue
        ranked = extractive.rank(standalone, hits, assistant._embed_query,
                                 assistant._embed_passages, assistant._idf, topic=topic)
        judged = [(c, any(is_relevant(hits[c.n - 1], s) for s in q.expected_sources))
                  for c in ranked[:1]]
        rows.append((q.answerable, judged))
    return rows


def decide(rows, thresholds: extractive.Thresholds) -> dict[str, float]:
    right = wrong_answer = false_abstain = abstain_ok = answered_relevant = 0
    answerable = sum(a for a, _ in rows)
    for is_answerable, judged in rows:
        if judged is None:
            grounded, relevant = True, True
        else:
            best = judged[0] if judged else None
            grounded = bool(best) and extractive.supported(best[0], thresholds)
            relevant = grounded and best[1]
        if is_answerable:
            false_abstain += not grounded
            answered_relevant += grounded and relevant
        else:
            abstain_ok += not grounded
            wrong_answer += grounded
        right += (is_answerable and grounded and relevant) or (not is_answerable and not grounded)
    unanswerable = len(rows) - answerable
    return {"accuracy": right / len(rows), "abstention": abstain_ok / max(1, unanswerable),
            "false_abstention": false_abstain / max(1, answerable),
            "answered_relevant": answered_relevant / max(1, answerable)}


def main() -> None:
    dataset = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATASET
    settings = Settings()
    assistant = Assistant.from_settings(settings)
    rows = collect(assistant, load_dataset(dataset))
    grid = itertools.product([0.3, 0.4, 0.5, 0.6], [0.80, 0.82, 0.84, 0.86],
                             [0.7, 0.85, 1.01], [0.86, 0.88, 0.9, 1.01])
    results = []
    for coverage, similarity, strong, anchor_free in grid:
        thresholds = extractive.Thresholds(coverage, similarity, strong, anchor_free)
        results.append((decide(rows, thresholds), thresholds))
    results.sort(key=lambda r: -r[0]["accuracy"])
    table = Table(title=f"Abstention thresholds on {dataset.name} ({len(rows)} questions)")
    for column in ("coverage", "similarity", "strong_cov", "anchor_free_sim", "accuracy",
                   "abstention", "false_abstention", "answered_relevant"):
        table.add_column(column)
    current = (decide(rows, extractive.Thresholds()), replace(extractive.Thresholds()))
    for metrics, t in [current, *results[:10]]:
        table.add_row(f"{t.coverage}", f"{t.similarity}", f"{t.strong_coverage}",
                      f"{t.anchor_free_similarity}",
                      *(f"{metrics[k]:.2f}" for k in ("accuracy", "abstention",
                                                      "false_abstention", "answered_relevant")))
    Console().print(table)
    Console().print("First row: current defaults; then the best of the grid.")


if __name__ == "__main__":
    main()
