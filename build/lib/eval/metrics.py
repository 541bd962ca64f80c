"""Metrics as pure functions over per-question lists (Haystack evaluator style).

Each returns a `MetricResult`: `score` is the mean of the `individual_scores` that are not
None; None marks a question the metric does not apply to (e.g. retrieval metrics on an
out-of-corpus question), so callers can pass the whole dataset.

>>> from eval.datasets import ExpectedSource
>>> hits = [[{"document_id": "a.txt", "text": "..."}]]
>>> hit_at_k(hits, [[ExpectedSource(document_id="a.txt")]], k=5).score
1.0
"""

import re
import string
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from eval.relevance import (
    Source,
    article_matches,
    document_matches,
    is_relevant_to_any,
    match_sources,
    normalise_space,
    page_matches,
    read_field,
    strip_accents,
)
from ingest.text import answer_parts

Passages = Sequence[Sequence[Any]]
Expected = Sequence[Sequence[Source]]


@dataclass
class MetricResult:
    name: str
    score: float | None
    individual_scores: list[float | None]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _result(name: str, scores: list[float | None]) -> MetricResult:
    kept = [s for s in scores if s is not None]
    return MetricResult(name, float(np.mean(kept)) if kept else None, scores)


# --- retrieval: ranked hits against expected sources, through ranx


def _ranx_scores(metric: str, retrieved: Passages, expected: Expected) -> list[float | None]:
    """Score each question with ranx; a hit counts as the first expected source it newly covers."""
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for number, (hits, sources) in enumerate(zip(retrieved, expected, strict=True)):
        if not sources or not hits:
            continue
        matches = match_sources(list(hits), list(sources))
        qrels[f"q{number:06d}"] = {f"s{i}": 1 for i in range(len(sources))}
        run[f"q{number:06d}"] = {
            (f"s{match}" if match is not None else f"x{rank}"): float(len(hits) - rank)
            for rank, match in enumerate(matches)
        }
    values: dict[str, float] = {}
    if run:
        from ranx import Qrels, Run, evaluate  # numba-compiled: import only when needed

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba's uint64 -> int64 cast notices
            per_query = evaluate(Qrels(qrels), Run(run), metric, return_mean=False)
        values = dict(zip(run, (float(v) for v in per_query), strict=True))
    return [
        None if not sources else values.get(f"q{number:06d}", 0.0)
        for number, sources in enumerate(expected)
    ]


def hit_at_k(retrieved: Passages, expected: Expected, k: int = 10) -> MetricResult:
    """1 when at least one relevant passage is in the top k."""
    return _result(f"hit@{k}", _ranx_scores(f"hit_rate@{k}", retrieved, expected))


def recall_at_k(retrieved: Passages, expected: Expected, k: int = 10) -> MetricResult:
    """Share of the expected sources covered by the top k."""
    return _result(f"recall@{k}", _ranx_scores(f"recall@{k}", retrieved, expected))


def mrr_at_10(retrieved: Passages, expected: Expected) -> MetricResult:
    """1 / rank of the first relevant passage in the top 10 (0 when none)."""
    return _result("mrr@10", _ranx_scores("mrr@10", retrieved, expected))


def ndcg_at_10(retrieved: Passages, expected: Expected) -> MetricResult:
    """Binary-gain nDCG@10; the ideal ranking puts every expected source first."""
    return _result("ndcg@10", _ranx_scores("ndcg@10", retrieved, expected))


# --- citations


def citation_precision(cited: Passages, expected: Expected) -> MetricResult:
    """Share of cited passages that are relevant (None when nothing was cited)."""
    scores: list[float | None] = []
    for citations, sources in zip(cited, expected, strict=True):
        if not sources or not citations:
            scores.append(None)
            continue
        good = sum(is_relevant_to_any(c, list(sources)) for c in citations)
        scores.append(good / len(citations))
    return _result("citation_precision", scores)


def citation_recall(cited: Passages, expected: Expected) -> MetricResult:
    """Share of expected sources supported by at least one citation."""
    scores: list[float | None] = []
    for citations, sources in zip(cited, expected, strict=True):
        if not sources:
            scores.append(None)
            continue
        covered = {m for m in match_sources(list(citations), list(sources)) if m is not None}
        scores.append(len(covered) / len(sources))
    return _result("citation_recall", scores)


def page_accuracy(cited: Passages, expected: Expected) -> MetricResult:
    """Among citations of an expected document whose page or article can be checked,
    the share that point at the right page or article (a missing article counts as wrong)."""
    scores: list[float | None] = []
    for citations, sources in zip(cited, expected, strict=True):
        judged = right = 0
        for citation in citations:
            checkable = [
                s
                for s in sources
                if document_matches(citation, s)
                and (
                    s.article is not None
                    or (s.page is not None and read_field(citation, "page") is not None)
                )
            ]
            if checkable:
                judged += 1
                right += any(
                    page_matches(citation, s) and article_matches(citation, s, strict=True)
                    for s in checkable
                )
        scores.append(right / judged if judged else None)
    return _result("page_accuracy", scores)


# --- answers

_ARTICLES = re.compile(r"\b(?:le|la|les|un|une|des|du|de)\b(?!')|\b[ld]'", re.IGNORECASE)
_MARKER = re.compile(r"\[(\d+)\]")
_PUNCTUATION = set(string.punctuation) | set("«»“”‘’…–—")


def normalise_answer(text: str, accents: bool = True) -> str:
    """SQuAD normalisation for French: lower case, no [n] markers, articles or punctuation."""
    text = _MARKER.sub(" ", normalise_space(text)).lower()
    if not accents:
        text = strip_accents(text)
    text = _ARTICLES.sub(" ", text)
    text = "".join(" " if char in _PUNCTUATION else char for char in text)
    return " ".join(text.split())


def _f1(prediction: str, reference: str, accents: bool) -> float:
    predicted = normalise_answer(prediction, accents).split()
    gold = normalise_answer(reference, accents).split()
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(
    predictions: Sequence[str], references: Sequence[str | None], strip_accents: bool = False
) -> MetricResult:
    """SQuAD token F1 between each answer and its reference (None without reference)."""
    scores = [
        None if reference is None else _f1(prediction, reference, accents=not strip_accents)
        for prediction, reference in zip(predictions, references, strict=True)
    ]
    return _result("token_f1", scores)


def semantic_similarity(
    predictions: Sequence[str], references: Sequence[str | None], embed: Callable[[list[str]], Any]
) -> MetricResult:
    """Cosine similarity of answer and reference embeddings; `embed(texts)` returns vectors."""
    pairs = [
        (i, p, r)
        for i, (p, r) in enumerate(zip(predictions, references, strict=True))
        if r is not None
    ]
    scores: list[float | None] = [None] * len(predictions)
    if pairs:
        vectors = np.asarray(embed([p for _, p, _ in pairs] + [r for _, _, r in pairs]), float)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        half = len(pairs)
        for row, (index, _, _) in enumerate(pairs):
            scores[index] = float(vectors[row] @ vectors[half + row])
    return _result("semantic_similarity", scores)


def split_sentences(answer: str) -> list[str]:
    """The answer's sentences, split as the citation check splits them."""
    return [s.strip() for s in answer_parts(normalise_space(answer)) if _MARKER.sub("", s).strip()]


def faithfulness(
    answers: Sequence[str], cited: Passages, supports: Callable[[str, str], bool]
) -> MetricResult:
    """Share of answer sentences supported by one of the passages they cite with [n].

    A sentence without a marker counts as unsupported; an empty answer scores None.
    """
    scores: list[float | None] = []
    for answer, citations in zip(answers, cited, strict=True):
        by_number = {read_field(c, "n"): read_field(c, "text") or "" for c in citations}
        sentences = split_sentences(answer)
        if not sentences:
            scores.append(None)
            continue
        supported = 0
        for sentence in sentences:
            claim = _MARKER.sub("", sentence).strip()
            passages = [by_number[int(n)] for n in _MARKER.findall(sentence) if int(n) in by_number]
            supported += any(supports(claim, passage) for passage in passages)
        scores.append(supported / len(sentences))
    return _result("faithfulness", scores)


# --- abstention and latency


def abstention_accuracy(
    abstained: Sequence[bool], answerable: Sequence[bool | None]
) -> MetricResult:
    """1 when the assistant abstains exactly on the out-of-corpus questions."""
    scores = [
        None if a is None else float(bool(s) == (not a))
        for s, a in zip(abstained, answerable, strict=True)
    ]
    return _result("abstention_accuracy", scores)


def false_abstention_rate(
    abstained: Sequence[bool], answerable: Sequence[bool | None]
) -> MetricResult:
    """Among answerable questions, the share where the assistant said it found nothing."""
    scores = [
        float(bool(s)) if a is True else None for s, a in zip(abstained, answerable, strict=True)
    ]
    return _result("false_abstention_rate", scores)


def _percentile(name: str, seconds: Sequence[float | None], q: float) -> MetricResult:
    kept = [s for s in seconds if s is not None]
    score = float(np.percentile(kept, q)) if kept else None
    return MetricResult(name, score, list(seconds))


def latency_p50(seconds: Sequence[float | None]) -> MetricResult:
    return _percentile("latency_p50", seconds, 50)


def latency_p95(seconds: Sequence[float | None]) -> MetricResult:
    return _percentile("latency_p95", seconds, 95)
