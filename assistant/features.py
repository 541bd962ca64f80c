"""Features of (question, candidate sentence) pairs for the learned sentence selector.

The question is analysed once (`analyse_question`): its answer type, topic words and the
constraints an answer must meet (a year, a number, a proper noun). Each candidate sentence comes
with its vector and tags computed at ingest (`ingest.sentence_tags`); `features` turns the pairs
into one row each, columns named by `FEATURES`."""

import math
import re
from dataclasses import dataclass, field

import numpy as np

from assistant.schema import SearchHit
from assistant.vocabulary import expand
from ingest.lexical import tokenize
from ingest.sentence_tags import SentenceTags

# Words that shape a question but say nothing about its topic (stemmed like the index).
_SCAFFOLD = set(tokenize(
    "combien quel quelle quels quelles quoi comment pourquoi quand qui que dit dire prévoit "
    "prévu prévoir selon texte faut doit peut peuvent existe explique expliquer rôle "
    "définir définition signifie veut-dire concerne chose nombre compte compter est sont a ont "
    "y il elle c'est sert servir désigne appelle-t-on entend-on"
))

KINDS = ("count", "date", "duration", "who", "where", "definition")
_KIND_PATTERNS = [
    ("duration", r"\bcombien de temps\b|\bquelle (?:est la )?durée\b|\bpour combien d'années\b|"
                 r"\bpendant combien\b|\bdurée\b|\bcombien d'années\b|\bjusqu'à quand\b"),
    ("count", r"\bcombien\b|\bquel(?:le)?s? (?:est |sont )?(?:le |la |les )?(?:nombre|montant|"
              r"budget|pourcentage|taux|part|somme|proportion|enveloppe|coût|population)\b"),
    ("date", r"\bquand\b|\ben quelle année\b|\bquelle (?:est la )?date\b|\bdepuis quand\b|"
             r"\bà partir de quand\b|\bquel jour\b|\bquel mois\b|\bquelle année\b|\bdate\b"),
    ("who", r"^\s*(?:et\s+)?qui\b|\bpar qui\b|\bavec qui\b|\bà qui\b|\bde qui\b|"
            r"\bquel(?:le)?s? (?:sont |est )?(?:les? |la )?(?:organisme|acteur|instance|"
            r"institution|structure|service|association|ministre|ministère|collectivité|"
            r"partenaire|opérateur|personne|élu|préfet|président|signataire|porteur|"
            r"financeur|membre|agence|établissement)s?\b"),
    ("where", r"^\s*(?:et\s+)?où\b|\bdans quel(?:le)?s? (?:ville|commune|département|quartier|"
              r"région|lieu|territoire)s?\b|\bquel(?:le)?s? (?:ville|commune|quartier|lieu|"
              r"territoire|site)s?\b|\boù\b"),
    ("definition", r"\bqu'est[- ]ce qu|\bc'est quoi\b|\bque (?:signifie|désigne|veut dire)\b|"
                   r"\bqu'appelle-t-on\b|\bdéfinition\b|\bà quoi (?:sert|servent)\b|"
                   r"\bque sont\b|\bqu'entend-on\b|\bquel est (?:le rôle|l'objectif|le but)\b|"
                   r"\bquels sont (?:les objectifs|le rôle|les missions)\b|"
                   r"\bquelle est (?:la mission|la vocation)\b"),
]
_DEFINED = re.compile(r"(?:qu'est[- ]ce qu(?:e|')|c'est quoi|que (?:signifie|désigne|veut dire)|"
                      r"qu'appelle-t-on|à quoi (?:sert|servent)|que sont|qu'entend-on par)\s*"
                      r"(?:(?:un|une|le|la|les|l'|des|du|de)\s*)?(?P<term>[^?]+)", re.I)
_YEAR_OR_NUMBER = re.compile(r"\b\d[\d  ]*\b")
_PROPER = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-ZÀ-Ý][\w'’-]+)")


@dataclass
class Question:
    text: str
    kind: str | None
    terms: dict[str, float]  # stemmed topic words → idf
    spelled: dict[str, float]  # the same after spelling out acronyms
    anchor: str | None  # the rarest topic word the corpus knows
    unknown: float  # share of topic words the corpus never uses
    constraints: set[str]  # tokens an answer must carry: numbers, proper nouns
    defined: set[str]  # for « qu'est-ce que X ? »: the tokens of X
    vector: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.float32))


def question_kind(question: str) -> str | None:
    lowered = question.lower().replace("’", "'")
    for kind, pattern in _KIND_PATTERNS:
        if re.search(pattern, lowered):
            return kind
    return None


def topic_terms(question: str) -> list[str]:
    return [t for t in dict.fromkeys(tokenize(question)) if t not in _SCAFFOLD]


def analyse_question(question: str, idf: dict[str, float], vector: np.ndarray) -> Question:
    terms = {t: idf.get(t, 12.0) for t in topic_terms(question)}  # unseen words weigh most
    spelled = {t: idf.get(t, 12.0) for t in topic_terms(expand(question))}
    known = [t for t in terms if t in idf and not t.isdigit()]
    constraints = set(tokenize(" ".join(_YEAR_OR_NUMBER.findall(question))))
    constraints |= {t for word in _PROPER.findall(question) for t in tokenize(word)
                    if t in terms}
    defined = _DEFINED.search(question.replace("’", "'"))
    return Question(
        text=question, kind=question_kind(question), terms=terms, spelled=spelled,
        anchor=max(known, key=idf.__getitem__) if known else None,
        unknown=sum(1 for t in terms if t not in idf) / max(1, len(terms)),
        constraints=constraints,
        defined=set(topic_terms(defined.group("term"))) if defined else set(),
        vector=vector,
    )


@dataclass
class Candidate:
    sentence: str
    n: int  # 1-based passage number among the hits
    hit: SearchHit
    vector: np.ndarray = field(repr=False)
    tags: SentenceTags
    position: int  # 0-based rank of the sentence in its passage
    passage_vector: np.ndarray | None = field(repr=False, default=None)


FEATURES = (
    "cos_sentence", "cos_passage", "cos_gap", "cos_rank", "passage_rank", "fused",
    "coverage_sentence", "coverage_passage", "share_sentence", "anchor_sentence",
    "anchor_passage", "unknown_words", "constraints_sentence", "constraints_passage",
    "has_constraints",
    *(f"kind_{k}" for k in KINDS),
    "count_quantity", "date_date", "duration_duration", "who_actor", "where_place",
    "definition_defines", "definition_subject", "kind_mismatch",
    "heading", "fragment", "caption", "no_verb", "short", "log_words", "first_sentence",
    "title_echo",
)


def _coverage(tokens: set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in tokens) / total if total else 0.0


def features(question: Question, candidates: list[Candidate]) -> np.ndarray:
    """One row per candidate, columns in the order of `FEATURES`."""
    if not candidates:
        return np.zeros((0, len(FEATURES)), np.float32)
    cos = np.array([float(c.vector @ question.vector) for c in candidates])
    order = np.argsort(-cos)
    cos_rank = np.empty(len(cos))
    cos_rank[order] = np.arange(len(cos))
    best_fused = max(c.hit.score for c in candidates) or 1.0
    rows = []
    passage_tokens: dict[int, set[str]] = {}
    for i, c in enumerate(candidates):
        if c.n not in passage_tokens:
            passage_tokens[c.n] = set(tokenize(f"{c.hit.title} {c.hit.section or ''} {c.hit.text}"))
        in_passage = passage_tokens[c.n]
        words = tokenize(c.sentence)
        in_sentence = set(words)
        t = c.tags
        coverage_s = max(_coverage(in_sentence, question.terms),
                         _coverage(in_sentence, question.spelled))
        coverage_p = max(_coverage(in_passage, question.terms),
                         _coverage(in_passage, question.spelled))
        cons = question.constraints
        kind = question.kind
        matches = {
            "count": t.quantity, "date": t.date, "duration": t.duration or t.date,
            "who": t.person or t.organisation, "where": t.place, "definition": t.defines,
        }
        head = set(tokenize(" ".join(c.sentence.split()[:10])))
        cos_passage = float(c.passage_vector @ question.vector) \
            if c.passage_vector is not None else float(c.hit.dense_score or 0.0)
        title = set(tokenize(c.hit.title))
        rows.append([
            cos[i], cos_passage, cos[i] - cos.max(), 1.0 / (1.0 + cos_rank[i]), 1.0 / c.n,
            c.hit.score / best_fused, coverage_s, coverage_p,
            len(in_sentence & set(question.terms)) / max(1, len(question.terms)),
            float(question.anchor in in_sentence) if question.anchor else 1.0,
            float(question.anchor in in_passage) if question.anchor else 1.0,
            question.unknown,
            len(cons & in_sentence) / len(cons) if cons else 1.0,
            len(cons & in_passage) / len(cons) if cons else 1.0,
            float(bool(cons)),
            *(float(kind == k) for k in KINDS),
            float(kind == "count" and t.quantity), float(kind == "date" and t.date),
            float(kind == "duration" and (t.duration or t.date)),
            float(kind == "who" and (t.person or t.organisation)),
            float(kind == "where" and t.place), float(kind == "definition" and t.defines),
            float(kind == "definition" and bool(question.defined)
                  and question.defined <= head),
            float(kind is not None and not matches[kind]),
            float(t.heading), float(t.fragment), float(t.caption), float(not t.has_verb),
            float(t.words < 8), math.log1p(t.words), float(c.position == 0),
            float(bool(in_sentence) and in_sentence <= title),
        ])
    return np.asarray(rows, dtype=np.float32)
