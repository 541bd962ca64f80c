"""Legal references named in a question: « article 7 de la loi Lamy », « L. 2143-1 du CGCT »."""

import re
from dataclasses import dataclass
from functools import lru_cache

from ingest.text import article_key, simplify

_ARTICLE = re.compile(
    r"\b(?:art(?:icle)?s?\.?)\s+(?P<num>[LRDA]\s?\.?\s?\d+(?:-\d+)*|\d+(?:-\d+)*(?:er)?|premier)\b",
    re.I,
)
_CODE_ARTICLE = re.compile(r"\b(?P<num>[LRD]\s?\.?\s?\d{1,4}(?:-\d+)+)\b")
_TEXT_NUMBER = re.compile(r"\b((?:19|20)\d{2}-\d{1,5})\b")  # 2014-173: year-number
_DATE = re.compile(r"\b(?:du|le)\s+(\d{1,2}(?:er)?\s+[a-zéû]+\s+\d{4})\b", re.I)

# What practitioners call the texts, mapped to words found in the documents' titles.
ALIASES = {
    "lamy": "2014-173",
    "loi ville et cohesion urbaine": "2014-173",
    "loi de programmation pour la ville": "2014-173",
    "borloo": "2003-710",
    "cgct": "collectivites territoriales",
    "cch": "construction et de l'habitation",
    "code de la construction": "construction et de l'habitation",
    "cgi": "general des impots",
    "code general des impots": "general des impots",
    "casf": "action sociale",
    "code de l'urbanisme": "urbanisme",
}


@dataclass(frozen=True)
class Reference:
    article: str | None  # normalised: "7", "l2143-1"
    text_keys: tuple[str, ...]  # folded strings that identify the text: "2014-173", "cgct" words

    @property
    def is_empty(self) -> bool:
        return not self.article and not self.text_keys


def parse_reference(question: str) -> Reference:
    """Find the article and the text a question names (either may be missing)."""
    folded = simplify(question)
    match = _ARTICLE.search(question) or _CODE_ARTICLE.search(question)
    article = article_key(match.group("num")) if match else None
    without_articles = _CODE_ARTICLE.sub(" ", _ARTICLE.sub(" ", folded))
    keys = set(_TEXT_NUMBER.findall(without_articles))
    keys |= {simplify(d) for d in _DATE.findall(question)}
    keys |= {target for alias, target in ALIASES.items() if re.search(rf"\b{alias}\b", folded)}
    return Reference(article=article, text_keys=tuple(sorted(keys)))


def matching_documents(reference: Reference, documents: dict[str, dict]) -> set[str]:
    """Ids of the documents whose title or file name carries every key of the reference."""
    if not reference.text_keys:
        return set()
    return {doc_id for doc_id, record in documents.items()
            if all(key in _identity(record.get("title"), doc_id) for key in reference.text_keys)}


@lru_cache(maxsize=65_536)  # asked for every document at each question that names a text
def _identity(title: str | None, doc_id: str) -> str:
    return simplify(" ".join(filter(None, [title, doc_id])))


_TEXT_WORDS = re.compile(r"\b(?:la |le |l'|du |de la |des )?"
                         r"(?:loi|décret|decret|arrêté|arrete|code|"
                         r"circulaire|ordonnance)s?\b(?:\s+n°)?", re.I)


def strip_reference(question: str) -> str:
    """The question without the reference itself: what it asks *about* the article or text."""
    text = _ARTICLE.sub(" ", question)
    text = _CODE_ARTICLE.sub(" ", text)
    text = _TEXT_NUMBER.sub(" ", text)
    text = _DATE.sub(" ", text)
    for alias in ALIASES:
        text = re.sub(rf"\b{re.escape(alias)}\b", " ", text, flags=re.I)
    text = _TEXT_WORDS.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()
