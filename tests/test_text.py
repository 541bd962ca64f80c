"""The French text module alone, and the promise it keeps: ingest and the answer step split the
shipped corpus into the same sentences."""

import unicodedata

import pytest

from ingest.index import load_index
from ingest.text import (
    answer_parts,
    answer_sentences,
    article_key,
    fold,
    plain_punctuation,
    simplify,
    split_sentences,
    tokenize,
)


def test_folding_and_punctuation():
    assert fold("Égalité des chances, œuvre") == "Egalite des chances, œuvre"
    # character by character (the table) is the same as the whole text through NFKD
    decomposed = unicodedata.normalize("NFD", "Élément ÇA ½ ﬁn ²")
    assert fold(decomposed) == fold("Élément ÇA ½ ﬁn ²") == "".join(
        c for c in unicodedata.normalize("NFKD", decomposed) if not unicodedata.combining(c))
    assert plain_punctuation("l’article L. 2143‑1 – alinéa") == "l'article L. 2143-1 - alinéa"
    assert simplify("L’ANRU Métropole") == "l'anru metropole"


@pytest.mark.parametrize("number, key", [
    ("L. 2143-1", "l2143-1"), ("L.\u00a02143\u20111", "l2143-1"), ("1er", "1"), ("premier", "1"),
    ("R*304-1", "r304-1")])
def test_article_keys(number, key):
    assert article_key(number) == key


def test_cached_tokens_are_a_fresh_list_each_time():
    first = tokenize("Les contrats de ville")
    first.append("changé")
    assert tokenize("Les contrats de ville") == ["contrat", "vill"]


def test_bm25_tokens_do_not_depend_on_typography():
    assert tokenize("L’article L. 2143‑1 du CGCT") == tokenize("L'article L. 2143-1 du CGCT")
    assert tokenize("L'article L. 2143-1 du CGCT")[:1] == ["l2143-1"]
    assert "2014-173" in tokenize("la loi n° 2014–173 du 21 février 2014")


def test_legal_abbreviations_do_not_end_sentences():
    text = "Voir l'art. 5 de la loi. Selon l'article L. 2143-1 du CGCT, un conseil est créé. Fin."
    assert split_sentences(text) == ["Voir l'art. 5 de la loi.",
                                     "Selon l'article L. 2143-1 du CGCT, un conseil est créé.",
                                     "Fin."]


def test_answer_sentences_drop_bullets_and_short_pieces():
    passage = "- Premier point de la liste ici.\n• Deuxième point de la liste.\nTitre court"
    assert answer_sentences(passage) == ["Premier point de la liste ici.",
                                         "Deuxième point de la liste."]


def test_a_citation_after_the_full_stop_stays_with_its_sentence():
    assert answer_parts("Le conseil citoyen est créé. [1] Il réunit des habitants [2].") == [
        "Le conseil citoyen est créé.[1]", "Il réunit des habitants [2]."]


def test_ingest_and_the_answer_step_split_the_shipped_corpus_identically(built_data_dir,
                                                                         embedder):
    """Every sentence the answer step can quote from a stored passage has the vector and tags
    that ingest computed for it: none is found missing and embedded at question time."""
    index = load_index(built_data_dir / "index", embedder)
    quoted = [s for node in index.nodes.values() for s in answer_sentences(node.get_content())]
    assert len(quoted) > 1000
    missing = [s for s in quoted if s not in index.sentences]
    untagged = [s for s in quoted if s not in index.sentence_tags]
    assert not missing and not untagged, (missing[:3], untagged[:3])
