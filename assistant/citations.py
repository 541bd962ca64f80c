"""Citation checking, whatever wrote the answer: every [n] must point at a retrieved passage that
supports its sentence. Unsupported citations are dropped; a sentence left without support goes."""

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.schema import Citation, SearchHit
from ingest.lexical import tokenize
from ingest.sentences import answer_sentences, split_sentences

_MARKER = re.compile(r"\s*\[(\d{1,3})\]")
MIN_LEXICAL_SUPPORT = 0.6
MIN_SEMANTIC_SUPPORT = 0.86

Embed = Callable[[list[str]], np.ndarray]


@dataclass
class Checked:
    text: str  # the answer, renumbered 1..m in order of first citation
    citations: list[Citation]
    removed: list[str]  # sentences dropped for lack of support


def lexical_support(sentence: str, passage: str) -> float:
    """Share of the sentence's content tokens (stemmed, no stop words) found in the passage."""
    words = set(tokenize(_MARKER.sub("", sentence)))
    if not words:
        return 1.0
    return len(words & set(tokenize(passage))) / len(words)


def check(answer: str, hits: list[SearchHit], embed: Embed | None = None) -> Checked:
    """Keep only supported [n] citations; renumber them; drop sentences without support."""
    sentences = split_sentences(answer)
    kept: list[tuple[str, list[int]]] = []
    removed: list[str] = []
    for sentence in sentences:
        cited = [int(n) for n in _MARKER.findall(sentence)]
        bare = _MARKER.sub("", sentence).strip()
        if not bare:
            continue
        valid = [n for n in dict.fromkeys(cited) if 1 <= n <= len(hits)
                 and supports(bare, hits[n - 1].text, embed)]
        if not valid:
            found = _best_support(bare, hits, embed)
            valid = [found] if found else []
        if valid:
            kept.append((bare, valid))
        else:
            removed.append(bare)
    order: dict[int, int] = {}
    for _, numbers in kept:
        for n in numbers:
            order.setdefault(n, len(order) + 1)
    text = " ".join(
        _with_markers(bare, [order[n] for n in numbers]) for bare, numbers in kept
    )
    citations = [_citation(order[n], hits[n - 1]) for n in order]
    return Checked(text=text, citations=citations, removed=removed)


def _with_markers(sentence: str, numbers: list[int]) -> str:
    markers = "".join(f"[{n}]" for n in numbers)
    match = re.match(r"^(.*?)([.!?…:;]*)$", sentence, re.S)
    body, end = (match.group(1), match.group(2)) if match else (sentence, "")
    return f"{body.rstrip()} {markers}{end or '.'}"


def supports(sentence: str, passage: str, embed: Embed | None = None) -> bool:
    """Lexical overlap first; else, when an embedder is given, semantic similarity to the closest
    sentence of the passage (whose vectors the index holds: only `sentence` is embedded)."""
    if lexical_support(sentence, passage) >= MIN_LEXICAL_SUPPORT:
        return True
    if embed is None:
        return False
    vectors = embed([sentence, *(answer_sentences(passage) or [passage])])
    return float(np.max(vectors[1:] @ vectors[0])) >= MIN_SEMANTIC_SUPPORT


def _best_support(sentence: str, hits: list[SearchHit], embed: Embed | None) -> int | None:
    """An uncited (or wrongly cited) sentence keeps a place only if some passage supports it."""
    scores = [lexical_support(sentence, h.text) for h in hits]
    if scores and max(scores) >= MIN_LEXICAL_SUPPORT:
        return int(np.argmax(scores)) + 1
    return None


def _citation(n: int, hit: SearchHit) -> Citation:
    return Citation(
        n=n, document_id=hit.document_id, title=hit.title, type=hit.type,
        published=hit.published, page=hit.page, section=hit.section, article=hit.article,
        url=hit.url, text=hit.text, score=hit.score,
    )


def as_suggestions(hits: list[SearchHit]) -> list[Citation]:
    return [_citation(i, h) for i, h in enumerate(hits, start=1)]
