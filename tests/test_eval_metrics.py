"""Eval metrics on small cases computed by hand."""

import math

import pytest

from eval.datasets import ExpectedSource
from eval.facts import holds
from eval.metrics import (
    abstention_accuracy,
    citation_precision,
    citation_recall,
    faithfulness,
    false_abstention_rate,
    hit_at_k,
    latency_p50,
    latency_p95,
    mrr_at_10,
    ndcg_at_10,
    normalise_answer,
    page_accuracy,
    recall_at_k,
    semantic_similarity,
    token_f1,
)
from eval.relevance import is_relevant, normalise_article


def hit(
    document_id: str,
    text: str = "",
    page: int | None = None,
    article: str | None = None,
    n: int = 1,
) -> dict:
    return {"document_id": document_id, "text": text, "page": page, "article": article, "n": n}


LAMY = ExpectedSource(
    document_id="lamy.md",
    alt_document_ids=["lamy.pdf"],
    page=5,
    article="7",
    contains="Un conseil citoyen est mis en place",
)


@pytest.mark.parametrize(
    ("passage", "relevant"),
    [
        (
            hit("lamy.md", "I. - Un conseil  citoyen est\nmis en place dans chaque", article="7"),
            True,
        ),
        (hit("lamy.pdf", "un conseil citoyen est mis en place", page=5, article="7"), True),
        (hit("lamy.pdf", "Un conseil citoyen est mis en place", page=4, article="7"), False),
        (hit("lamy.md", "Un conseil citoyen est mis en place", article="6"), False),
        (hit("lamy.md", "Un conseil citoyen est mis en place", article=None), True),
        (hit("lamy.md", "Les contrats de ville", article="7"), False),
        (hit("other.md", "Un conseil citoyen est mis en place", article="7"), False),
    ],
)
def test_relevance_needs_document_page_article_and_phrase(passage, relevant):
    assert is_relevant(passage, LAMY) is relevant


def test_relevance_accepts_a_passage_spanning_the_expected_page():
    spanning = {**hit("lamy.pdf", "Un conseil citoyen est mis en place", 4, "7"), "page_end": 5}
    assert is_relevant(spanning, LAMY)


def test_relevance_folds_typographic_apostrophes():
    source = ExpectedSource(document_id="a.txt", contains="l’ex-Picardie")
    assert is_relevant(hit("a.txt", "ouvertes aux acteurs de l'ex-Picardie."), source)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("L. 2143-1", "l2143-1"),
        ("1er", "1"),
        ("Article 7", "7"),
        ("1388 bis", "1388bis"),
        (None, None),
    ],
)
def test_article_numbers_are_normalised_like_the_index(raw, key):
    assert normalise_article(raw) == key


A, B, C = (ExpectedSource(document_id=d) for d in "abc")


def test_retrieval_metrics_match_hand_computed_values():
    expected = [[A], [B, C], [], [A]]
    retrieved = [
        [hit("x"), hit("a")],  # first relevant at rank 2
        [hit("c"), hit("c"), hit("b")],  # both sources, duplicate chunk of c at rank 2
        [hit("a")],  # out of corpus: not scored
        [],  # nothing retrieved
    ]
    assert hit_at_k(retrieved, expected, k=1).individual_scores == [0.0, 1.0, None, 0.0]
    assert recall_at_k(retrieved, expected, k=2).individual_scores == [1.0, 0.5, None, 0.0]
    assert mrr_at_10(retrieved, expected).individual_scores == [0.5, 1.0, None, 0.0]
    ndcg = ndcg_at_10(retrieved, expected).individual_scores
    assert ndcg[0] == pytest.approx(1 / math.log2(3))
    assert ndcg[1] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert ndcg[2:] == [None, 0.0]
    assert mrr_at_10(retrieved, expected).score == pytest.approx(0.5)


def test_duplicate_chunks_do_not_push_ndcg_above_one():
    result = ndcg_at_10([[hit("a"), hit("a"), hit("a")]], [[A]])
    assert result.score == pytest.approx(1.0)


def test_mrr_ignores_hits_beyond_rank_ten():
    retrieved = [[hit(f"x{i}") for i in range(10)] + [hit("a")]]
    assert mrr_at_10(retrieved, [[A]]).score == 0.0


def test_citation_precision_and_recall():
    cited = [[hit("a"), hit("x")], [hit("b")], [], [hit("a")]]
    expected = [[A], [B, C], [A], []]
    assert citation_precision(cited, expected).individual_scores == [0.5, 1.0, None, None]
    assert citation_recall(cited, expected).individual_scores == [1.0, 0.5, 0.0, None]


def test_page_accuracy_judges_only_checkable_citations():
    pdf = ExpectedSource(document_id="r.md", alt_document_ids=["r.pdf"], page=3)
    cited = [
        [hit("r.pdf", page=3), hit("r.pdf", page=4), hit("r.md"), hit("other.pdf", page=3)],
        [hit("r.md")],
        [hit("lamy.md", article="7"), hit("lamy.md", article="8"), hit("lamy.md")],
    ]
    article = ExpectedSource(document_id="lamy.md", article="7")
    scores = page_accuracy(cited, [[pdf], [pdf], [article]]).individual_scores
    assert scores == [0.5, None, pytest.approx(1 / 3)]


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("199 quartiers", "199 quartiers", 1.0),
        ("Le conseil citoyen", "un conseil citoyen", 1.0),  # articles removed
        ("L'ANCT.", "l’ANCT", 1.0),  # elision and punctuation
        ("trois ans renouvelable", "trois ans", 0.8),  # p=2/3, r=1
        ("Lille", "Amiens", 0.0),
    ],
)
def test_token_f1_squad_style(prediction, reference, expected):
    assert token_f1([prediction], [reference]).score == pytest.approx(expected)


def test_token_f1_can_ignore_accents():
    assert token_f1(["Elus regionaux"], ["élus régionaux"]).score == 0.0
    assert token_f1(["Elus regionaux"], ["élus régionaux"], strip_accents=True).score == 1.0


def test_token_f1_skips_questions_without_reference():
    result = token_f1(["x", "199"], [None, "199"])
    assert result.individual_scores == [None, 1.0] and result.score == 1.0


def test_normalise_answer_keeps_words_that_merely_start_like_articles():
    assert normalise_answer("Les délégués de la ville") == "délégués ville"


def test_semantic_similarity_uses_the_given_embedder():
    vectors = {"oui": [1.0, 0.0], "yes": [2.0, 0.0], "non": [0.0, 1.0]}
    result = semantic_similarity(
        ["oui", "oui", "x"], ["yes", "non", None], lambda texts: [vectors[t] for t in texts]
    )
    assert result.individual_scores == [pytest.approx(1.0), pytest.approx(0.0), None]


def test_faithfulness_counts_sentences_supported_by_their_citation():
    answer = "La région compte 199 quartiers [1]. Ils sont dans 155 communes [2]. Bonne journée."
    citations = [{"n": 1, "text": "199 quartiers"}, {"n": 2, "text": "autre chose"}]
    result = faithfulness(
        [answer, ""], [citations, []], lambda sentence, passage: passage.split()[0] in sentence
    )
    assert result.individual_scores == [pytest.approx(1 / 3), None]


def test_abstention_metrics():
    abstained = [True, False, True, False, True]
    answerable = [False, False, True, True, None]
    assert abstention_accuracy(abstained, answerable).individual_scores == [
        1.0,
        0.0,
        0.0,
        1.0,
        None,
    ]
    assert false_abstention_rate(abstained, answerable).individual_scores == [
        None,
        None,
        1.0,
        0.0,
        None,
    ]


def test_latency_percentiles_interpolate_linearly():
    seconds = [1.0, 2.0, 3.0, 4.0, None]
    assert latency_p50(seconds).score == 2.5
    assert latency_p95(seconds).score == pytest.approx(3.85)


def test_token_f1_ignores_citation_markers():
    assert token_f1(["199 quartiers [1]."], ["199 quartiers"]).score == 1.0


@pytest.mark.parametrize(("text", "facts", "expected"), [
    ("Le quartier compte 1 500 habitants, soit 27 % de la ville.", ["1500 habitants", "27%"], True),
    ("Un contrat signé pour six ans [2].", ["6 ans"], True),
    ("soit 114 708 emplois¹ dans les QPV", ["114 708 emplois"], True),  # a footnote call
    ("soit 114 708 emplois dans les QPV", ["114 708 emplois", "Roubaix"], False),
    ("Le contrat 2015-2020", ["2015"], True),
    ("En 20150 communes", ["2015"], False),  # whole words only
])
def test_facts_are_compared_whole_and_written_one_way(text, facts, expected):
    assert holds(text, facts) is expected
