import pytest

from ingest.lexical import LexicalIndex
from ingest.text import tokenize


@pytest.mark.parametrize(("text", "token"), [
    ("l'article L. 2143-1 du CGCT", "l2143-1"),
    ("article L2143-1", "l2143-1"),
    ("la loi n° 2014-173", "2014-173"),
    ("décret 2014-767", "2014-767"),
    ("article R.304-1", "r304-1"),
])
def test_legal_references_survive_as_tokens(text, token):
    assert token in tokenize(text)


def test_accents_and_plurals_meet():
    accented = tokenize("Égalité des quartiers prioritaires")
    assert accented == tokenize("egalite quartier prioritaire")


def test_french_stop_words_are_dropped():
    assert tokenize("le la les de du des et dans pour avec") == []


def test_bm25_finds_a_reference_and_a_stemmed_word(tmp_path):
    texts = ["Le conseil citoyen est mis en place dans chaque quartier.",
             "Article L. 2143-1 : conseils de quartier dans les communes de 80 000 habitants.",
             "La dotation politique de la ville est répartie entre les communes."]
    index = LexicalIndex.build(texts, ["a", "b", "c"])
    assert index.search("L2143-1", 3)[0][0] == "b"
    assert index.search("conseils citoyens", 3)[0][0] == "a"
    index.save(tmp_path)
    assert LexicalIndex.load(tmp_path).search("dotations", 3)[0][0] == "c"


def test_unknown_words_find_nothing():
    index = LexicalIndex.build(["Le contrat de ville."], ["a"])
    assert index.search("tarte aux pommes", 5) == []
