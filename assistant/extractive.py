"""The default answer step: no LLM, no network. The learned selector scores every quotable
sentence of the retrieved passages; the best one is quoted whole with the number of its passage,
a second only when it is nearly as likely and says something else; below the calibrated
threshold the assistant abstains."""

import re
from dataclasses import dataclass

import numpy as np

from assistant.features import (
    ANAPHORA,
    Candidate,
    analyse_question,
    features,
    is_lead_in,
    products,
)
from assistant.live_index import LiveIndex
from assistant.schema import SearchHit
from assistant.selector import Selector
from ingest.text import answer_sentences, tokenize


@dataclass
class Chosen:
    sentence: str
    n: int  # 1-based passage number


def candidates(hits: list[SearchHit], index: LiveIndex,
               keep_all: bool = False) -> list[Candidate]:
    """The quotable sentences of the passages. Never a heading, a caption, a question (an FAQ's
    « Qu'est-ce que… ? »), the document's title echoed, or a sentence that gives orders to the
    assistant (unless `keep_all`, for baselines)."""
    pairs = []
    for n, hit in enumerate(hits, start=1):
        sentences = answer_sentences(hit.text)
        pairs += [(n, hit, position, sentence, len(sentences))
                  for position, sentence in enumerate(sentences)]
    if not pairs:
        return []
    texts = [p[3] for p in pairs]
    vectors = index.sentence_vectors(texts)
    tags = index.sentence_tags(texts)
    found = []
    for i, ((n, hit, position, sentence, count), vector, tag) in enumerate(
            zip(pairs, vectors, tags, strict=True)):
        if not keep_all and (tag.heading or tag.caption or tag.addresses_assistant or
                             sentence.rstrip().endswith("?") or  # a question is no answer
                             _echoes_title(sentence, hit.title)):
            continue
        before, after = (i - 1 if position else None), (i + 1 if position + 1 < count else None)
        found.append(Candidate(
            sentence, n, hit, vector, tag, position, index.passage_vector(hit.node_id),
            previous=texts[before] if before is not None else None,
            previous_vector=vectors[before] if before is not None else None,
            next=texts[after] if after is not None else None,
            next_vector=vectors[after] if after is not None else None))
    return found


def score(question: str, hits: list[SearchHit], index: LiveIndex,
          similarity: np.ndarray | None = None
          ) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
    """Candidates, their feature rows (one per candidate, `assistant.features.FEATURES`) and
    their u ∘ v products (question and sentence vectors); `similarity`: the selector's learned
    weights over those products."""
    found = candidates(hits, index)
    if not found:
        return [], np.zeros((0, 0)), np.zeros((0, 0))
    analysed = analyse_question(question, index.idf, index.embed_query(question))
    return found, features(analysed, found, similarity), products(analysed, found)


def answer(question: str, hits: list[SearchHit], index: LiveIndex,
           selector: Selector) -> list[Chosen]:
    """The sentences to quote, best first; empty when the documents do not hold the answer."""
    found, rows, pairs = score(question, hits, index, selector.similarity)
    if not found:
        return []
    words = [set(tokenize(c.sentence)) for c in found]

    def overlap(i: int, j: int) -> float:
        return len(words[i] & words[j]) / max(1, min(len(words[i]), len(words[j])))

    chosen, _ = selector.choose(rows, overlap, pairs)
    quotable = {(c.n, c.sentence) for c in found}
    # the chosen sentences, and every sentence an earlier answer sentence pulled in (a list's
    # lead-in and items, a neighbour): none is quoted twice
    quoted = {found[i].sentence for i in chosen}
    shown: set[str] = set()  # sentences already in the answer's text
    answers = []
    for i in chosen:
        c = found[i]
        if c.sentence in shown:
            continue
        parts = [c.sentence]
        listed = with_list(c, index)
        if listed:
            parts = listed
        # « Il s'agit de promenades… » says nothing alone: quote the sentence it leans on too
        elif ANAPHORA.match(c.sentence) and c.previous and (c.n, c.previous) in quotable \
                and c.previous not in quoted:
            parts = [c.previous, c.sentence]
        # « Ces contrats sont signés par… » goes on about the same subject: quote it too
        if not listed and c.next and (c.n, c.next) in quotable and c.next not in quoted and \
                ANAPHORA.match(c.next):
            parts.append(c.next)
        quoted.update(parts)
        shown.update(parts)
        text = f"{parts[0]} " + ", ".join(p.rstrip(" ;,") for p in parts[1:]) if listed \
            else " ".join(parts)
        answers.append(Chosen(text, c.n))
    return answers


MAX_LIST_ITEMS = 8  # items quoted after a lead-in, at most


def with_list(c: Candidate, index: LiveIndex, max_items: int = MAX_LIST_ITEMS
              ) -> list[str] | None:
    """« … s'est déroulée : » announces a list: the lead-in and its items, to quote together,
    for the lead-in or any of its items. None when `c` is neither."""
    if not (is_lead_in(c.sentence) or c.previous):
        return None
    sentences = answer_sentences(c.hit.text)
    for lead in range(c.position, max(c.position - max_items, 0) - 1, -1):
        if is_lead_in(sentences[lead]):
            items = list_items(sentences, lead, index, max_items)
            if not items or (lead < c.position and c.sentence not in items):
                return None
            return [sentences[lead], *items]
    return None


def list_items(sentences: list[str], lead: int, index: LiveIndex, max_items: int = MAX_LIST_ITEMS,
               max_chars: int = 700) -> list[str]:
    """The items that follow the lead-in `sentences[lead]` (« … s'est déroulée : »): up to the
    first that ends with a full stop, another lead-in, an order to the assistant, or the size
    limits."""
    items: list[str] = []
    following = sentences[lead + 1:lead + 1 + max_items]
    for sentence, tag in zip(following, index.sentence_tags(following), strict=True):
        if is_lead_in(sentence) or tag.addresses_assistant or \
                sum(map(len, items)) + len(sentence) > max_chars:
            break
        items.append(sentence)
        if sentence.rstrip().endswith((".", "!", "?")):
            break
    return items


def quote_unit(article: str, hits: list[SearchHit], max_sentences: int = 3) -> list[Chosen]:
    """« Que dit l'article 7 ? »: the opening sentences of that article, as indexed."""
    numbered = [(n, h) for n, h in enumerate(hits, start=1) if h.article == article]
    if not numbered:
        return []
    n, first = min(numbered, key=lambda pair: pair[1].node_id)  # node ids follow text order
    return [Chosen(s, n) for s in answer_sentences(first.text)[:max_sentences]]


def _squash(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def _echoes_title(sentence: str, title: str) -> bool:
    """The document's title, alone or opening a reference line (« LOI n° 2014-173 du 21
    février 2014 de programmation… NOR : … — JORF… »): a title, not a statement."""
    sentence, title = _squash(sentence), _squash(title)
    # a long, formal title only: « Les contrats de ville sont signés… » is a statement
    return sentence == title or len(title.split()) >= 8 and sentence.startswith(title)


_MARKUP = [
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # Markdown links and images
    (re.compile(r"<[^>]{1,200}>"), ""),  # leftover HTML tags
    (re.compile(r"\*\*([^*]+?)\*\*"), r"\1"),  # **bold**
    (re.compile(r"`([^`]+)`"), r"\1"),  # `code`
    (re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *emphasis*
    (re.compile(r"^#{1,6}\s*"), ""),  # a heading marker
    (re.compile(r"\s*\|\s*"), " ; "),  # table cells
    (re.compile(r"\\([-*_#.>+!`\[\]()])"), r"\1"),  # Markdown escapes: « \- »
    # footnote calls (« 114 708 emplois¹ »), not units (« 40 000 m² »)
    (re.compile(r"(?:(?<=[^\W\d_]{3})|(?<=[.,;)»]))[¹²³⁴⁵⁶⁷⁸⁹⁰]+"), ""),
]


def clean(sentence: str) -> str:
    """The sentence as a reader should see it: no leftover markup."""
    for pattern, replacement in _MARKUP:
        sentence = pattern.sub(replacement, sentence)
    return re.sub(r"\s{2,}", " ", sentence).strip(" ;")


def compose(chosen: list[Chosen]) -> str:
    """« Phrase [n]. » sentences, in order of relevance."""
    parts = []
    for c in chosen:
        body = clean(c.sentence).rstrip(" ;:,")
        if not body.endswith((".", "!", "?", "»", ")")):
            body += "."
        match = re.match(r"^(.*?)([.!?]?)$", body, re.S)
        parts.append(f"{match.group(1)} [{c.n}]{match.group(2)}")
    return " ".join(parts)
