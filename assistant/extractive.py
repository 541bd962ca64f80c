"""The default answerer: no LLM, no network. It picks the best-supported sentences of the
retrieved passages (query-focused, without redundancy), each with the number of its passage."""

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.schema import SearchHit
from assistant.vocabulary import expand, spelled_forms
from ingest.lexical import tokenize
from ingest.sentences import answer_sentences

EmbedQuery = Callable[[str], np.ndarray]
EmbedPassages = Callable[[list[str]], np.ndarray]

# Words that shape a question but say nothing about its topic (stemmed like the index).
_SCAFFOLD = set(tokenize(
    "combien quel quelle quels quelles quoi comment pourquoi quand qui que dit dire prévoit "
    "prévu prévoir selon texte article loi décret code faut doit peut peuvent existe "
    "explique expliquer rôle définir définition signifie veut-dire concerne chose "
    "nombre compte compter est sont a ont y il elle"
))
_MONTHS = "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre"
_DATE = re.compile(rf"\b(1[89]|20)\d{{2}}\b|\b\d{{1,2}}(er)? ({_MONTHS})\b", re.I)
# A count or an amount (« 199 quartiers », « 5 milliards », « 30 % »), not a year, a day of a
# date or the number of an article or a text.
_NUMBER_WORDS = ("deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|treize|quatorze|"
                 "quinze|seize|vingt|trente|quarante|cinquante|soixante|cent|mille")
_QUANTITY = re.compile(
    rf"(?:(?<!article )(?<!n° )(?<!L\. )(?<!R\. )(?<!D\. )\b(?!(?:19|20)\d\d\b)\d[\d  .,]*"
    rf"|\b(?:{_NUMBER_WORDS})s?)\s?(?:%|€|(?!(?:{_MONTHS})\b)[a-zà-ÿ]{{3,}})", re.I)


@dataclass
class Thresholds:
    """When the best sentence is below these, the documents do not hold the answer.

    Chosen with `python -m bench.calibrate` on eval/datasets/irev.jsonl (106 questions): among
    the settings with the best accuracy (correct answers + correct abstentions, 0.58), the one
    that abstains most on out-of-corpus questions (0.87), for 0.24 false abstentions."""

    coverage: float = 0.3  # idf-weighted share of the question's topic words in the passage
    similarity: float = 0.86  # cosine between question and sentence (e5 scale)
    strong_coverage: float = 0.85  # coverage alone is then enough
    anchor_free_similarity: float = 0.86  # without the question's rarest word, a close match


@dataclass
class Candidate:
    sentence: str
    n: int  # 1-based passage number
    coverage: float
    passage_coverage: float
    similarity: float = 0.0
    score: float = 0.0
    has_anchor: bool = True  # the passage holds the question's most specific known word


def topic_terms(question: str) -> list[str]:
    return [t for t in dict.fromkeys(tokenize(question)) if t not in _SCAFFOLD]


def rank(question: str, hits: list[SearchHit], embed_query: EmbedQuery,
         embed_passages: EmbedPassages, idf: dict[str, float], pool: int = 24,
         topic: str | None = None) -> list[Candidate]:
    """Candidate sentences of the passages, scored, best first.

    `topic` is the question without its legal reference (the words that must be covered)."""
    terms = topic_terms(question if topic is None else topic)
    if not hits or not terms:
        return []
    weights = {t: idf.get(t, 12.0) for t in terms}  # unseen words weigh most: they are missing
    # The spelled-out forms of acronyms count as alternatives: « la région » is covered by
    # « Hauts-de-France ». Coverage is the better of the two readings.
    spelled = {t: idf.get(t, 12.0) for t in topic_terms(expand(topic or question))}
    # The anchor is the question's most specific word the corpus knows (numbers aside): a passage
    # without it does not answer. A word the corpus never uses cannot be answered about at all.
    known = [t for t in terms if t in idf and not t.isdigit()]
    anchor = max(known, key=idf.__getitem__) if known else None
    unknown = any(t not in idf for t in terms)
    # « la région » is anchored by « Hauts-de-France » too: all words of a spelled-out form count
    alternatives = [set(topic_terms(text)) for short, text in spelled_forms(topic or question)
                    if anchor in tokenize(short)]
    candidates = []
    for n, hit in enumerate(hits, start=1):
        passage_tokens = set(tokenize(f"{hit.title} {hit.section or ''} {hit.text}"))
        passage_coverage = _coverage(passage_tokens, weights, spelled)
        anchored = not unknown and (anchor is None or anchor in passage_tokens or
                                    any(words <= passage_tokens for words in alternatives))
        title = _squash(hit.title)
        for sentence in answer_sentences(hit.text):
            if _squash(sentence) == title:
                continue  # the document's title echoed in its body: no answer
            coverage = _coverage(set(tokenize(sentence)), weights, spelled)
            candidates.append(Candidate(sentence, n, coverage, passage_coverage,
                                        has_anchor=anchored))
    candidates.sort(key=lambda c: -(0.6 * c.coverage + 0.4 * c.passage_coverage - 0.02 * c.n))
    shortlist = candidates[:pool]
    if not shortlist:
        return []
    query = embed_query(question)
    vectors = embed_passages([c.sentence for c in shortlist])
    for candidate, vector in zip(shortlist, vectors, strict=True):
        candidate.similarity = float(vector @ query)
        candidate.score = _score(question, candidate)
    return sorted(shortlist, key=lambda c: -c.score)


def _coverage(tokens: set[str], weights: dict[str, float], spelled: dict[str, float]) -> float:
    """Idf-weighted share of the question's topic words found in `tokens`."""
    return max(sum(w for t, w in words.items() if t in tokens) / sum(words.values())
               for words in (weights, spelled) if words)


def answer(question: str, hits: list[SearchHit], embed_query: EmbedQuery,
           embed_passages: EmbedPassages, idf: dict[str, float],
           thresholds: Thresholds | None = None, max_sentences: int = 3,
           topic: str | None = None) -> list[Candidate]:
    """The chosen sentences, best first; empty when nothing retrieved supports an answer."""
    thresholds = thresholds or Thresholds()
    ranked = rank(question, hits, embed_query, embed_passages, idf, topic=topic)
    if _asks_count(question):  # « combien ? » is not answered by a sentence without a number,
        # nor « combien d'habitants ? » by one that names neither habitants nor most of the topic
        counted = _counted(topic or question)
        ranked = [c for c in ranked if _QUANTITY.search(c.sentence) and (
            counted is None or counted in tokenize(c.sentence) or c.coverage >= 0.5)]
    if not ranked or not supported(ranked[0], thresholds):
        return []
    best = ranked[0]
    chosen = [best]
    for candidate in ranked[1:]:
        if len(chosen) >= max_sentences:
            break
        if candidate.score >= 0.85 * best.score and supported(candidate, thresholds) and \
                all(_overlap(candidate.sentence, c.sentence) < 0.5 for c in chosen):
            chosen.append(candidate)
    return chosen


def quote_unit(article: str, hits: list[SearchHit], max_sentences: int = 3) -> list[Candidate]:
    """« Que dit l'article 7 ? »: the opening sentences of that article, as indexed."""
    numbered = [(n, h) for n, h in enumerate(hits, start=1) if h.article == article]
    if not numbered:
        return []
    n, first = min(numbered, key=lambda pair: pair[1].node_id)  # node ids follow text order
    sentences = answer_sentences(first.text)[:max_sentences]
    return [Candidate(s, n, 1.0, 1.0, 1.0, 1.0) for s in sentences]


def _asks_count(question: str) -> bool:
    return bool(re.search(r"\b(combien|nombre)\b", question, re.I))


def _counted(question: str) -> str | None:
    """The stemmed noun of « combien de <noun> » (not « combien de temps / de fois »)."""
    match = re.search(r"\bcombien\s+d(?:e\s+|')(\w+)", question, re.I)
    if not match or match.group(1).lower() in {"temps", "fois"}:
        return None
    words = tokenize(match.group(1))
    return words[0] if words else None


def _score(question: str, c: Candidate) -> float:
    cue = 0.0
    lowered = question.lower()
    if _asks_count(question):
        cue = 0.05 if _QUANTITY.search(c.sentence) else -0.05
    elif "quand" in lowered or "date" in lowered or "quelle année" in lowered:
        cue = 0.05 if _DATE.search(c.sentence) else -0.05
    # similarity carries meaning (paraphrases); coverage carries the question's exact terms
    return 2.0 * (c.similarity - 0.75) + 0.35 * c.coverage + 0.25 * c.passage_coverage \
        - 0.01 * c.n + cue


def supported(c: Candidate, t: Thresholds) -> bool:
    if not c.has_anchor and c.similarity < t.anchor_free_similarity:
        return False  # « le budget de l'IREV » is not answered by a passage without « budget »
    if c.passage_coverage >= t.strong_coverage and c.coverage > 0:
        return True
    return c.passage_coverage >= t.coverage and c.similarity >= t.similarity


def _overlap(first: str, second: str) -> float:
    a, b = set(tokenize(first)), set(tokenize(second))
    return len(a & b) / max(1, min(len(a), len(b)))


def _squash(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def compose(chosen: list[Candidate]) -> str:
    """« Phrase. [n] » sentences, in order of relevance."""
    parts = []
    for c in chosen:
        body = c.sentence.rstrip(" ;:,")
        if not body.endswith((".", "!", "?", "»", ")")):
            body += "."
        match = re.match(r"^(.*?)([.!?]?)$", body, re.S)
        parts.append(f"{match.group(1)} [{c.n}]{match.group(2)}")
    return " ".join(parts)
