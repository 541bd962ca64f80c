"""French text handling, in one place for ingest, retrieval, the answer step, citations and eval:
accent folding, apostrophes and dashes, legal references, sentence splitting, BM25 tokens.

Ingest embeds and tags the sentences `answer_sentences` returns; the answer step splits
retrieved passages with the same function, so it finds their vectors ready."""

import re
import unicodedata
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_FRENCH

# -- characters --------------------------------------------------------------------------------


class _FoldTable(dict):
    """Code point → its NFKD form without combining marks, filled as characters are met.
    Character by character is the same as the whole text: NFKD only decomposes, and the marks
    it would reorder are the ones dropped."""

    def __missing__(self, point: int) -> str:
        folded = "".join(c for c in unicodedata.normalize("NFKD", chr(point))
                         if not unicodedata.combining(c))
        self[point] = folded
        return folded


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Accents removed, everything else kept: « Égalité » → « Egalite », « œuvre » stays."""
    return text if text.isascii() else text.translate(_FOLD)


def ascii_fold(text: str) -> str:
    """Accents removed and any other non-ASCII character dropped (file names, ids)."""
    return fold(text).encode("ascii", "ignore").decode()


_PUNCTUATION = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "´": "'",
                              "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-"})


def plain_punctuation(text: str) -> str:
    """Typographic apostrophes and dashes as their ASCII forms: « l’article L. 2143‑1 »
    → « l'article L. 2143-1 » (Légifrance writes non-breaking hyphens in article numbers)."""
    return text.translate(_PUNCTUATION)


def simplify(text: str) -> str:
    """For matching names and titles: lower case, plain punctuation, no accents."""
    return fold(plain_punctuation(text.lower()))


# -- legal references --------------------------------------------------------------------------

# `L. 2143-1`, `R.2143-2`, `D 304-1`: code articles; `2014-173`: law or decree numbers.
CODE_ARTICLE = re.compile(r"\b([LRDA])\s?\.?\s?(\d{1,4}(?:-\d+)+|\d{3,})\b", re.I)
TEXT_NUMBER = re.compile(r"\b(\d{2,4}-\d{1,5})\b")


def article_key(number: str) -> str:
    """An article number for lookup: `L. 2143-1` -> `l2143-1`, `1er` -> `1`."""
    key = re.sub(r"[\s.*]", "", plain_punctuation(number.lower()))
    return {"premier": "1", "1er": "1"}.get(key, key)


# -- sentences ---------------------------------------------------------------------------------

_BOUNDARY = re.compile(r"(?<=[.!?;])\s+(?=[«\"(\[A-ZÀ-Ý0-9•–―-])|\n+")
# A piece ending like this is not a sentence: it runs on into the next one.
_RUNS_ON = re.compile(
    r"(?:\b[A-Z]|\b[IVXLC]+|\bart|\bn°|\bM|\bMme|\bMM|\bcf|\bp|\bal|\bet al|\bex|\bSt|\bch|\bvol)"
    r"\.$"
)
_LEADING_MARK = re.compile(r"^(?:[-–―•●▪*>]\s*)+")


def split_sentences(text: str) -> list[str]:
    """Sentences (and list items) of `text`, without leading dashes or bullets; survives legal
    text: « I. - », « L. 2143-1 », « art. 5 »."""
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
    """The sentences of a passage that may be quoted as an answer: ingest embeds and tags
    exactly these, the answer step reads them back."""
    return [s for s in split_sentences(_LAYOUT.sub(r"\1", passage))
            if len(s.split()) >= MIN_ANSWER_WORDS]


_LEADING_MARKERS = re.compile(r"^((?:\s*\[\d{1,3}\])+)\s*")


def answer_parts(answer: str) -> list[str]:
    """The sentences of an answer, a citation written after the full stop (« … ville. [1] »)
    kept with its own sentence."""
    merged: list[str] = []
    for piece in split_sentences(answer):
        lead = _LEADING_MARKERS.match(piece)
        if lead and merged:
            merged[-1] += lead.group(1)
            piece = piece[lead.end():]
        if piece.strip():
            merged.append(piece)
    return merged


# -- BM25 tokens -------------------------------------------------------------------------------

_STOPWORDS = frozenset(fold(w) for w in STOPWORDS_FRENCH) | {"l", "d", "j", "n", "s", "qu", "c"}
_stemmer = Stemmer.Stemmer("french")


@lru_cache(maxsize=200_000)
def _word(raw: str) -> str | None:
    """A lowered word's BM25 token, or None for a stop word."""
    folded = fold(raw)
    if folded in _STOPWORDS or len(folded) < 2 and not folded.isdigit():
        return None
    # stemming the folded form makes "egalite" and "égalité" meet (users often type no accents)
    return folded if folded.isdigit() else _stemmer.stemWord(folded)


def tokenize(text: str) -> list[str]:
    """French BM25 tokens: `L'article L. 2143-1 du CGCT` -> `['l2143-1', 'articl', 'cgct']`:
    legal references whole, then stemmed, folded words without stop words."""
    return list(_tokens(text))


@lru_cache(maxsize=16_384)  # the answer step tokenizes the same retrieved sentences again
def _tokens(text: str) -> tuple[str, ...]:
    lowered = plain_punctuation(text.lower())
    legal = [article_key(m.group(0)) for m in CODE_ARTICLE.finditer(lowered)]
    legal += TEXT_NUMBER.findall(CODE_ARTICLE.sub(" ", lowered))
    words = [_word(raw) for raw in re.findall(r"\w+", lowered)]
    return (*legal, *(w for w in words if w is not None))
