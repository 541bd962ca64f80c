"""French sentence splitting that survives legal text: « I. - », « L. 2143-1 », « art. 5 »."""

import re

_BOUNDARY = re.compile(r"(?<=[.!?;])\s+(?=[«\"(\[A-ZÀ-Ý0-9•–―-])|\n+")
# A piece ending like this is not a sentence: it runs on into the next one.
_RUNS_ON = re.compile(
    r"(?:\b[A-Z]|\b[IVXLC]+|\bart|\bn°|\bM|\bMme|\bMM|\bcf|\bp|\bal|\bet al|\bex|\bSt|\bch|\bvol)"
    r"\.$"
)
_LEADING_MARK = re.compile(r"^(?:[-–―•●▪*>]\s*)+")


def split_sentences(text: str) -> list[str]:
    """Sentences (and list items) of `text`, without leading dashes or bullets."""
    pieces = [p.strip() for p in _BOUNDARY.split(text) if p and p.strip()]
    merged: list[str] = []
    for piece in pieces:
        if merged and _RUNS_ON.search(merged[-1]):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    cleaned = [_LEADING_MARK.sub("", s).strip() for s in merged]
    return [s for s in cleaned if s]


# Markdown quote markers and bullets are layout, not content.
_LAYOUT = re.compile(r"(^|\s)[>•●▪]\s+")
MIN_ANSWER_WORDS = 4


def answer_sentences(passage: str) -> list[str]:
    """The sentences of a passage that may be quoted as an answer: ingest embeds exactly these,
    so the extractive answerer finds their vectors ready."""
    return [s for s in split_sentences(_LAYOUT.sub(r"\1", passage))
            if len(s.split()) >= MIN_ANSWER_WORDS]
