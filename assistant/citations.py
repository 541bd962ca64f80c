"""Citation checking, whatever wrote the answer: every [n] must point at a retrieved passage that
supports its sentence. Unsupported citations are dropped; a sentence left without support goes."""

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.schema import Citation, SearchHit
from ingest.text import answer_parts, answer_sentences, split_sentences, tokenize

_MARKER = re.compile(r"\s*\[(\d{1,3})\]")
MIN_LEXICAL_SUPPORT = 0.6
MIN_SEMANTIC_SUPPORT = 0.86

Embed = Callable[[list[str]], np.ndarray]


@dataclass
class Checked:
    text: str  # the answer: renumbered 1..m by `check`, numbers kept by `StreamChecker`
    citations: list[Citation]
    removed: list[str]  # sentences dropped for lack of support


def lexical_support(sentence: str, passage: str) -> float:
    """Share of the sentence's content tokens (stemmed, no stop words) found in the passage."""
    words = set(tokenize(_MARKER.sub("", sentence)))
    if not words:
        return 1.0
    return len(words & set(tokenize(passage))) / len(words)


def check_sentence(sentence: str, hits: list[SearchHit],
                   embed: Embed | None = None) -> tuple[str, list[int]] | None:
    """The sentence without markers and the passages that support it; None if none does."""
    cited = [int(n) for n in _MARKER.findall(sentence)]
    bare = _MARKER.sub("", sentence).strip()
    if not bare:
        return None
    valid = [n for n in dict.fromkeys(cited) if 1 <= n <= len(hits)
             and supports(bare, hits[n - 1].text, embed)]
    if not valid:
        found = _best_support(bare, hits, embed)
        valid = [found] if found else []
    return (bare, valid) if valid else None


def check(answer: str, hits: list[SearchHit], embed: Embed | None = None) -> Checked:
    """Keep only supported [n] citations; renumber them 1..m; drop sentences without support."""
    kept: list[tuple[str, list[int]]] = []
    removed: list[str] = []
    for sentence in answer_parts(answer):
        result = check_sentence(sentence, hits, embed)
        if result:
            kept.append(result)
        elif _MARKER.sub("", sentence).strip():
            removed.append(_MARKER.sub("", sentence).strip())
    order: dict[int, int] = {}
    quoted: dict[int, str] = {}  # passage number → the first sentence citing it
    for bare, numbers in kept:
        for n in numbers:
            order.setdefault(n, len(order) + 1)
            quoted.setdefault(n, bare)
    text = " ".join(
        _with_markers(bare, [order[n] for n in numbers]) for bare, numbers in kept
    )
    citations = [_citation(order[n], hits[n - 1], quoted[n]) for n in order]
    return Checked(text=text, citations=citations, removed=removed)


class StreamChecker:
    """Checks a streamed answer sentence by sentence. Each checked sentence keeps the numbers of
    the passages as the model was shown them, so streamed and final [n] are the same."""

    def __init__(self, hits: list[SearchHit], embed: Embed | None = None):
        self.hits, self.embed = hits, embed
        self._buffer = ""
        self.shown: list[str] = []  # checked pieces, in order; their concatenation is the text
        self._cited: dict[int, str] = {}  # passage number → the first sentence citing it
        self.removed: list[str] = []

    def feed(self, token: str) -> list[str]:
        """The pieces that became showable with this token (complete, checked sentences)."""
        self._buffer += token
        sentences = answer_parts(self._buffer)
        if len(sentences) < 2:
            return []
        tail = self._buffer.rfind(sentences[-1][:20])
        self._buffer = self._buffer[tail:] if tail >= 0 else sentences[-1]
        return [p for s in sentences[:-1] if (p := self._check(s))]

    def finish(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        return [p for s in answer_parts(rest) if (p := self._check(s))]

    def _check(self, sentence: str) -> str | None:
        result = check_sentence(sentence, self.hits, self.embed)
        if result is None:
            if _MARKER.sub("", sentence).strip():
                self.removed.append(_MARKER.sub("", sentence).strip())
            return None
        bare, numbers = result
        for n in numbers:
            self._cited.setdefault(n, bare)
        piece = (" " if self.shown else "") + _with_markers(bare, numbers)
        self.shown.append(piece)
        return piece

    def result(self) -> Checked:
        return Checked(text="".join(self.shown),
                       citations=[_citation(n, self.hits[n - 1], sentence)
                                  for n, sentence in self._cited.items()],
                       removed=self.removed)


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


def sentence_page(hit: SearchHit, sentence: str | None) -> int | None:
    """The page of the passage's sentence that `sentence` quotes or paraphrases (the one it
    shares most words with): a passage spanning pages 4-5 cites page 5 for a sentence on 5."""
    if not hit.page_breaks or not sentence:
        return hit.page
    words = set(tokenize(sentence))
    best, position, start = -1.0, 0, 0
    for candidate in split_sentences(hit.text):
        found = hit.text.find(candidate, start)
        if found < 0:
            continue
        start = found + len(candidate)
        overlap = len(words & set(tokenize(candidate))) / max(1, len(words))
        if overlap > best:
            best, position = overlap, found
    page = hit.page
    for offset, number in hit.page_breaks:
        if offset <= position:
            page = number
    return page


def _citation(n: int, hit: SearchHit, sentence: str | None = None) -> Citation:
    page = sentence_page(hit, sentence)
    url = hit.url
    if url and page and re.search(r"#page=\d+$", url):
        url = re.sub(r"#page=\d+$", f"#page={page}", url)
    return Citation(
        n=n, document_id=hit.document_id, title=hit.title, type=hit.type,
        published=hit.published, page=page, location=f"{hit.page_unit} {page}" if page else None,
        section=hit.section, article=hit.article, url=url, text=hit.text, score=hit.score,
    )


def as_suggestions(hits: list[SearchHit]) -> list[Citation]:
    return [_citation(i, h) for i, h in enumerate(hits, start=1)]
