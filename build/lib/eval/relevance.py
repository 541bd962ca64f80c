"""Relevance judgement: does a retrieved or cited passage match an expected source?

A passage is anything with `document_id`, `page`, `article` and `text`, as an object
(`SearchHit`, `Citation`) or as a dict (a record read back from a results file).
"""

import re
from collections.abc import Mapping
from typing import Any, Protocol

from ingest.text import article_key, fold, plain_punctuation


class Source(Protocol):
    """What the judgement needs from an expected source (`eval.datasets.ExpectedSource`)."""

    document_id: str
    alt_document_ids: list[str]
    page: int | None
    article: str | None
    contains: str | None


def read_field(passage: Any, name: str) -> Any:
    """Read `name` from an object or a mapping; missing means None."""
    if isinstance(passage, Mapping):
        return passage.get(name)
    return getattr(passage, name, None)


def normalise_article(number: str | None) -> str | None:
    """`L. 2143-1` -> `l2143-1`, `1er` -> `1`, `1388 bis` -> `1388bis` (as ingest indexes them)."""
    if number is None:
        return None
    return article_key(re.sub(r"^\s*(?:article|art\.?)\s*", "", number, flags=re.I)) or None


def normalise_space(text: str) -> str:
    """Collapse whitespace, plain apostrophes and dashes: what chunking may change."""
    return re.sub(r"\s+", " ", plain_punctuation(text)).strip()


def strip_accents(text: str) -> str:
    return fold(text)


def contains_phrase(text: str | None, phrase: str) -> bool:
    """True when `phrase` occurs in `text`, ignoring whitespace, apostrophe style and case."""
    if not text:
        return False
    return normalise_space(phrase).casefold() in normalise_space(text).casefold()


def document_matches(passage: Any, source: Source) -> bool:
    document_id = read_field(passage, "document_id")
    return document_id == source.document_id or document_id in source.alt_document_ids


def page_matches(passage: Any, source: Source) -> bool:
    """Pages are only compared when the passage comes from a paginated document (a PDF)."""
    page = read_field(passage, "page")
    if source.page is None or page is None:
        return True
    last = read_field(passage, "page_end") or page
    return page <= source.page <= last


def article_matches(passage: Any, source: Source, strict: bool = False) -> bool:
    """A passage without article metadata passes unless `strict` (then only the same article)."""
    if source.article is None:
        return True
    article = normalise_article(read_field(passage, "article"))
    return article == source.article or (article is None and not strict)


def phrase_matches(passage: Any, source: Source) -> bool:
    return source.contains is None or contains_phrase(read_field(passage, "text"), source.contains)


def is_relevant(passage: Any, source: Source) -> bool:
    """Same document (or its twin) and, when given, same page, same article and the phrase."""
    return (
        document_matches(passage, source)
        and page_matches(passage, source)
        and article_matches(passage, source)
        and phrase_matches(passage, source)
    )


def is_relevant_to_any(passage: Any, sources: list[Source]) -> bool:
    return any(is_relevant(passage, source) for source in sources)


def match_sources(passages: list[Any], sources: list[Source]) -> list[int | None]:
    """For each passage in rank order, the index of the first expected source it newly covers.

    A source already covered by a better-ranked passage is not counted twice, so overlapping
    chunks of one passage do not inflate recall or nDCG.
    """
    covered: set[int] = set()
    matches: list[int | None] = []
    for passage in passages:
        found = next(
            (
                index
                for index, source in enumerate(sources)
                if index not in covered and is_relevant(passage, source)
            ),
            None,
        )
        if found is not None:
            covered.add(found)
        matches.append(found)
    return matches
