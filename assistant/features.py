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
from assistant.vocabulary import spelled_forms
from ingest.sentence_tags import SentenceTags
from ingest.text import plain_punctuation, simplify, tokenize

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
_NUMBER = re.compile(r"\b\d[\d  ]*\b")
# What a count question counts in: money, a share, or (for a date) a year. An answer must be
# written in that unit: « Quel budget… ? » is not answered by « deux quartiers ».
_UNIT_ASKED = [
    ("money", re.compile(r"\b(?:montant|budget|co[uû]t|co[uû]te|co[uû]té|financements?|crédits?|"
                         r"enveloppe|subventions?|somme|prix|investissements?|euros?|"
                         r"combien d'argent|dotation de combien)\b", re.I)),
    ("percent", re.compile(r"\b(?:pourcentage|taux|proportion|quelle part|quelle est la part)\b",
                           re.I)),
    ("year", re.compile(r"\b(?:en quelle année|quelle année|depuis quelle année|"
                        r"à partir de quelle année)\b", re.I)),
]
_UNIT_MET = {
    "money": re.compile(r"\d\s*(?:€|euros?\b|M€|Md€|k€|M\s?d?'?euros)|\b(?:millions?|"
                        r"milliards?) d['’]euros\b|€", re.I),
    "percent": re.compile(r"\d\s*%|\bpour\s?cent\b|\b(?:moitié|tiers|quart)\b", re.I),
    "year": re.compile(r"\b(?:19|20)\d{2}\b"),
}

# A name as written in the question: capitalised words, with « de », « la », « -… » inside
# (« Grand Est », « Seine-Saint-Denis », « Maison du projet »), not the question's first word.
_NAME = re.compile(r"(?<!^)(?<![.?!] )\b[A-ZÀ-Ý][\w'’-]*(?:\s+(?:(?:de|du|des|d'|la|le|les|sur|en)"
                   r"\s+)?[A-ZÀ-Ý][\w'’-]*)*")


@dataclass
class Question:
    text: str
    kind: str | None
    terms: dict[str, float]  # stemmed topic words → idf
    alternatives: list[dict[str, float]]  # the same with one shorthand spelled out (QPV…)
    anchor: str | None  # the rarest topic word the corpus knows
    anchor_alternatives: list[set[str]]  # words that stand for the anchor (« la région »)
    bigrams: set[tuple[str, str]]  # consecutive topic words (« contrat de ville »)
    unknown: float  # share of topic words the corpus never uses
    constraints: list[set[str]]  # what the answer must name (a number, a name), each as the
    # normalised ways of writing it (« ANRU » or « agence nationale pour la renovation… »)
    defined: set[str]  # for « qu'est-ce que X ? »: the tokens of X
    unit: str | None = None  # money, percent or year: what the answer must be written in
    vector: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.float32))


def question_kind(question: str) -> str | None:
    lowered = plain_punctuation(question.lower())
    for kind, pattern in _KIND_PATTERNS:
        if re.search(pattern, lowered):
            return kind
    return None


def question_unit(question: str) -> str | None:
    """money, percent or year: the unit a count or date question must be answered in."""
    lowered = plain_punctuation(question.lower())
    return next((unit for unit, pattern in _UNIT_ASKED if pattern.search(lowered)), None)


def normalise(text: str) -> str:
    """Lower case, no accents, apostrophes and dashes as spaces, digits unspaced, space-padded:
    for matching a name or a number as whole words."""
    text = simplify(text)
    text = re.sub(r"(?<=\d)[\s.](?=\d{3}\b)", "", text)
    return " " + " ".join(re.sub(r"[^\w]+", " ", text).split()) + " "


def met(constraints: list[set[str]], normalised: str) -> float:
    """Share of the constraints that a (normalised) text meets; 1.0 when there are none."""
    if not constraints:
        return 1.0
    return sum(any(f in normalised for f in forms) for forms in constraints) / len(constraints)


def topic_terms(question: str) -> list[str]:
    return [t for t in dict.fromkeys(tokenize(question)) if t not in _SCAFFOLD]


def analyse_question(question: str, idf: dict[str, float], vector: np.ndarray) -> Question:
    terms = {t: idf.get(t, 12.0) for t in topic_terms(question)}  # unseen words weigh most
    known = [t for t in terms if t in idf and not t.isdigit()]
    anchor = max(known, key=idf.__getitem__) if known else None
    alternatives, anchor_alternatives = [], []
    for short, text in spelled_forms(question):
        replaced = set(tokenize(short))
        spelled = set(topic_terms(text))
        alternative = {t: w for t, w in terms.items() if t not in replaced}
        alternative.update({t: idf.get(t, 12.0) for t in spelled})
        alternatives.append(alternative)
        if anchor in replaced:
            anchor_alternatives.append(spelled)
    ordered = topic_terms(question)
    constraints = [{normalise(n)} for n in _NUMBER.findall(question)]
    for name in _NAME.findall(question):
        spelled = [text for _, text in spelled_forms(name)]  # « QPV »: « quartiers prioritaires »
        forms = {normalise(name)} | {normalise(t) for t in spelled} | \
            {normalise(" ".join(t.split()[:2])) for t in spelled}
        if any(len(f.strip()) > 2 for f in forms):
            constraints.append(forms)
    defined = _DEFINED.search(plain_punctuation(question))
    return Question(
        text=question, kind=question_kind(question), terms=terms, alternatives=alternatives,
        anchor=anchor, anchor_alternatives=anchor_alternatives,
        bigrams=set(zip(ordered, ordered[1:], strict=False)),
        unknown=sum(1 for t in terms if t not in idf) / max(1, len(terms)),
        constraints=constraints,
        defined=set(topic_terms(defined.group("term"))) if defined else set(),
        unit=question_unit(question),
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
    previous: str | None = None  # the sentence before it in the passage (quotable or not)
    previous_vector: np.ndarray | None = field(repr=False, default=None)
    next: str | None = None  # the sentence after it in the passage
    next_vector: np.ndarray | None = field(repr=False, default=None)


FEATURES = (
    "cos_sentence", "cos_passage", "cos_gap", "cos_rank", "passage_rank", "fused",
    "coverage_sentence", "coverage_passage", "coverage_gap", "share_sentence",
    "bigrams_sentence", "anchor_sentence", "anchor_passage", "unknown_words", "question_words",
    "constraints_sentence", "constraints_passage",
    "has_constraints",
    *(f"kind_{k}" for k in KINDS),
    "count_quantity", "date_date", "duration_duration", "who_actor", "where_place",
    "definition_defines", "definition_subject", "defined_in_sentence", "kind_mismatch",
    "heading", "fragment", "caption", "no_verb", "short", "log_words", "first_sentence",
    "title_echo", "previous_coverage", "section_coverage", "anaphoric", "number_of_topic",
    "cos_with_previous", "cos_with_next", "next_coverage", "lead_in", "who_role",
    "coverage_all", "missing_idf", "unit_asked", "unit_met", "unit_anywhere", "kind_anywhere",
    "learned_similarity",
)
# Who acts in policy texts: bodies and offices that spaCy's entities often miss
# (« le représentant de l'Etat », « le conseil d'administration », « les bailleurs »).
_ROLE = re.compile(
    r"\b(?:préfets?|prefets?|représentant de l'[ée]tat|ministres?|maires?|président(?:e|s)?|"
    r"premier ministre|l'[ée]tat|conseils? (?:d'administration|municipal|communautaire|"
    r"départemental|régional|citoyens?|national)|agences?|établissements? publics?|epci|"
    r"intercommunalités?|communes|départements|régions|bailleurs?|organismes?|caisses?|"
    r"comités?|commissions?|observatoire|associations?|habitants|collectivités|délégués?|"
    r"directeurs?|services de l'[ée]tat|signataires|partenaires|opérateurs?|gip|anru|anct)\b",
    re.I)
# « 199 quartiers », « 40 contrats de ville », « trois ans »: a number and the noun it counts
_COUNTED = re.compile(r"(?:\b\d[\d  .,]*|\b(?:deux|trois|quatre|cinq|six|sept|huit|neuf|dix|"
                      r"onze|douze|quinze|vingt|trente|cinquante|cent|mille)s?)\s*(?:%|€)?\s+"
                      r"((?:[\w'’-]+\s+){0,2}[\w'’-]+)", re.I)
ANAPHORA = re.compile(r"^(?:il|elle|ils|elles|ce|cet|cette|ces|cela|ceci|celle|celui|ceux|"
                       r"celles|leur|leurs|c'est|c’est|il s'agit|il s’agit|on)\b", re.I)


def _coverage(tokens: set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in tokens) / total if total else 0.0


def _number_of_topic(sentence: str, terms: dict[str, float]) -> float:
    """1.0 when a number in the sentence counts one of the question's topic words."""
    for match in _COUNTED.finditer(sentence):
        if set(tokenize(match.group(1))) & set(terms):
            return 1.0
    return 0.0


def is_lead_in(sentence: str) -> bool:
    """« … sont répartis entre les départements : » announces what follows."""
    return sentence.rstrip().endswith(":")


def _kind_met(kind: str | None, t: SentenceTags) -> bool:
    """The sentence states the kind of fact the question asks for (True when it asks none)."""
    return kind is None or {
        "count": t.quantity, "date": t.date, "duration": t.duration or t.date,
        "who": t.person or t.organisation, "where": t.place, "definition": t.defines,
    }[kind]


def _cos_joined(query: np.ndarray, vector: np.ndarray, neighbour: np.ndarray | None,
                alone: float) -> float:
    """Cosine of the question with a sentence read with its neighbour (the mean of their
    vectors): « Ils sont mis en oeuvre dès la maternelle » leans on the sentence before it."""
    if neighbour is None:
        return alone
    joined = vector + neighbour
    norm = float(np.linalg.norm(joined))
    return float(joined @ query) / norm if norm else alone


def products(question: Question, candidates: list[Candidate]) -> np.ndarray:
    """u ∘ v for each candidate: the question's and the sentence's e5 vectors, coordinate-wise."""
    return np.array([c.vector * question.vector for c in candidates], dtype=np.float32)


def features(question: Question, candidates: list[Candidate],
             similarity: np.ndarray | None = None) -> np.ndarray:
    """One row per candidate, columns in the order of `FEATURES`. `similarity` (weights over
    u ∘ v, then a bias) gives the learned similarity column; without it the column is 0."""
    if not candidates:
        return np.zeros((0, len(FEATURES)), np.float32)
    cos = np.array([float(c.vector @ question.vector) for c in candidates])
    order = np.argsort(-cos)
    cos_rank = np.empty(len(cos))
    cos_rank[order] = np.arange(len(cos))
    best_fused = max(c.hit.score for c in candidates) or 1.0
    rows = []
    passage_tokens: dict[int, set[str]] = {}
    readings = [question.terms, *question.alternatives]

    def coverage(tokens: set[str]) -> float:
        return max(_coverage(tokens, weights) for weights in readings)

    def anchored(tokens: set[str]) -> float:
        if not question.anchor:
            return 1.0
        return float(question.anchor in tokens or
                     any(words and words <= tokens for words in question.anchor_alternatives))

    token_sets: dict[str, set[str]] = {}  # a text's tokens, once per call (a sentence is also
    # its neighbours' previous or next); read, never changed

    def token_set(text: str) -> set[str]:
        if text not in token_sets:
            token_sets[text] = set(tokenize(text))
        return token_sets[text]

    sentence_tokens = [tokenize(c.sentence) for c in candidates]
    coverages = [coverage(set(words)) for words in sentence_tokens]
    best_coverage = max(coverages)
    question_words = math.log1p(len(question.text.split()))
    passage_text: dict[int, str] = {}
    for c in candidates:
        if c.n not in passage_tokens:
            whole = f"{c.hit.title} {c.hit.section or ''} {c.hit.text}"
            passage_tokens[c.n] = set(tokenize(whole))
            passage_text[c.n] = normalise(whole)
    # What no retrieved passage says: a question that asks for it is likely not answered here
    everywhere = set().union(*passage_tokens.values())
    coverage_all = coverage(everywhere)
    missing = [w for t, w in question.terms.items() if t not in everywhere and not t.isdigit()]
    missing_idf = max(missing, default=0.0) / 12.0
    # Does any candidate give the kind of fact asked (a number, a date, an actor…), in the unit?
    unit = _UNIT_MET.get(question.unit)
    unit_met = [bool(unit and unit.search(c.sentence)) for c in candidates]
    kind_met = [_kind_met(question.kind, c.tags) for c in candidates]
    for i, c in enumerate(candidates):
        in_passage = passage_tokens[c.n]
        words = sentence_tokens[i]
        in_sentence = set(words)
        sentence_bigrams = set(zip(words, words[1:], strict=False))
        t = c.tags
        cons = question.constraints
        kind = question.kind
        head = set(tokenize(" ".join(c.sentence.split()[:10])))
        cos_passage = float(c.passage_vector @ question.vector) \
            if c.passage_vector is not None else float(c.hit.dense_score or 0.0)
        title = token_set(c.hit.title)
        defined = question.defined
        rows.append([
            cos[i], cos_passage, cos[i] - cos.max(), 1.0 / (1.0 + cos_rank[i]), 1.0 / c.n,
            c.hit.score / best_fused, coverages[i], coverage(in_passage),
            coverages[i] - best_coverage,
            len(in_sentence & set(question.terms)) / max(1, len(question.terms)),
            len(sentence_bigrams & question.bigrams) / len(question.bigrams)
            if question.bigrams else 0.0,
            anchored(in_sentence), anchored(in_passage), question.unknown, question_words,
            met(cons, normalise(c.sentence)), met(cons, passage_text[c.n]), float(bool(cons)),
            *(float(kind == k) for k in KINDS),
            float(kind == "count" and t.quantity), float(kind == "date" and t.date),
            float(kind == "duration" and (t.duration or t.date)),
            float(kind == "who" and (t.person or t.organisation)),
            float(kind == "where" and t.place), float(kind == "definition" and t.defines),
            float(kind == "definition" and bool(defined) and defined <= head),
            len(defined & in_sentence) / len(defined) if defined else 0.0,
            float(kind is not None and not kind_met[i]),
            float(t.heading), float(t.fragment), float(t.caption), float(not t.has_verb),
            float(t.words < 8), math.log1p(t.words), float(c.position == 0),
            float(bool(in_sentence) and in_sentence <= title),
            coverage(token_set(c.previous)) if c.previous else 0.0,
            coverage(token_set(c.hit.section or "")),
            float(bool(ANAPHORA.match(c.sentence))),
            _number_of_topic(c.sentence, question.terms),
            _cos_joined(question.vector, c.vector, c.previous_vector, cos[i]),
            _cos_joined(question.vector, c.vector, c.next_vector, cos[i]),
            coverage(token_set(c.next)) if c.next else 0.0,
            float(is_lead_in(c.sentence)),
            float(kind == "who" and bool(_ROLE.search(c.sentence))),
            coverage_all, missing_idf,
            float(unit is not None), float(unit_met[i]), float(any(unit_met)),
            float(any(kind_met)),
            0.0,
        ])
    table = np.asarray(rows, dtype=np.float32)
    if similarity is not None:
        table[:, -1] = products(question, candidates) @ similarity[:-1] + similarity[-1]
    return table
