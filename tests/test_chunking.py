import pytest
from conftest import CGCT_MD, LAMY_MD, LAMY_PDF
from llama_index.core import Document

from ingest.chunking import embed_text, heading_level, split
from ingest.loaders import load_file
from ingest.text import article_key

MB = 1_000_000


@pytest.fixture(scope="module")
def count(embedder):
    from ingest.embedding import token_counter

    return token_counter(embedder)


def _split(path, count, chunk_size=300):
    docs = load_file(path, {"document_id": path.name.lower()}, 50 * MB)
    return split(docs, count, chunk_size, 40)


@pytest.mark.parametrize(("line", "level", "label"), [
    ("#### Article 7", 7, "Article 7"),
    ("Article 1er", 7, "Article 1er"),
    ("### Article L5211-10 (Code général des collectivités territoriales)", 7,
     "Article L5211-10 (Code général des collectivités territoriales)"),
    ("Article L. 2143-1", 7, "Article L. 2143-1"),
    ("## TITRE III : DES INSTRUMENTS", 2, "TITRE III : DES INSTRUMENTS"),
    ("Chapitre II : Des contrats de ville", 3, "Chapitre II : Des contrats de ville"),
    ("# LOI n° 2014-173", 0, "LOI n° 2014-173"),
])
def test_headings_and_legal_units_are_recognised(line, level, label):
    assert heading_level(line) == (level, label)


@pytest.mark.parametrize("line", [
    "Article 7 de la loi n° 2014-173 du 21 février 2014 prévoit que les conseils citoyens sont "
    "associés à l'élaboration, à la mise en œuvre et à l'évaluation des contrats de ville.",
    "l'article 6 prévoit",
    "Les titres de séjour",
])
def test_sentences_that_mention_an_article_are_not_headings(line):
    assert heading_level(line) is None


@pytest.mark.parametrize(("number", "key"), [
    ("7", "7"), ("1er", "1"), ("premier", "1"), ("L. 2143-1", "l2143-1"), ("L2143-1", "l2143-1"),
])
def test_article_keys_are_normalised(number, key):
    assert article_key(number) == key


def test_article_7_of_the_lamy_law_is_its_own_chunk_with_section_metadata(count):
    nodes = _split(LAMY_MD, count)
    article_7 = [n for n in nodes if n.metadata["article"] == "7"]
    assert article_7, "article 7 not found"
    assert all(n.metadata["section"] == "Article 7" for n in article_7)
    assert article_7[0].text.startswith("I. - Un conseil citoyen est mis en place")
    assert "Chapitre II : Des contrats de ville" in article_7[0].metadata["section_path"]
    # the article before it does not bleed into article 7's chunks
    assert all("Article 6" not in n.text[:20] for n in article_7)


def test_code_articles_carry_their_reference(count):
    nodes = _split(CGCT_MD, count)
    keys = {n.metadata["article"] for n in nodes}
    assert "l2143-1" in keys and "l5211-10" in keys


def test_pdf_chunks_carry_correct_pages(count):
    from pypdf import PdfReader

    pages = [p.extract_text() for p in PdfReader(LAMY_PDF).pages]
    nodes = _split(LAMY_PDF, count)
    assert {n.metadata["page_start"] for n in nodes} >= {1, 2, 3}
    squash = "".join
    for node in nodes:
        start, end = node.metadata["page_start"], node.metadata["page_end"]
        assert 1 <= start <= end <= len(pages)
        span = squash("".join(pages[start - 1:end]).split())
        for sentence in node.text.split("\n"):
            # every word sequence of the chunk is found on the pages it claims
            assert squash(sentence.split()[:8]) in span, (start, end, sentence[:80])


def test_article_7_in_the_pdf_starts_on_its_page(count):
    from pypdf import PdfReader

    nodes = _split(LAMY_PDF, count)
    first = min((n for n in nodes if n.metadata["article"] == "7"), key=lambda n: n.node_id)
    page = PdfReader(LAMY_PDF).pages[first.metadata["page_start"] - 1].extract_text()
    assert "Article 7" in page


def test_no_chunk_exceeds_the_model_limit_and_nothing_is_lost(count):
    long_sentence = " ".join(["quartier prioritaire de la politique de la ville"] * 300)
    doc = Document(text=f"# Titre\n\n{long_sentence}\n\nFin du document.",
                   metadata={"document_id": "long.md", "title": "Long"})
    nodes = split([doc], count, 200, 20)
    assert len(nodes) > 3
    assert all(count(embed_text(n)) <= 512 for n in nodes)
    words = " ".join(n.text for n in nodes).split()
    assert words.count("prioritaire") >= 300  # windows overlap but never drop words


def test_chunk_overlap_repeats_the_end_of_the_previous_chunk(count):
    text = " ".join(f"Phrase numéro {i} sur le contrat de ville et ses signataires."
                    for i in range(80))
    document = Document(text=text, metadata={"document_id": "d", "title": "T"})
    nodes = split([document], count, 150, 40)
    assert len(nodes) >= 3
    last_sentence = nodes[0].text.split(". ")[-1]
    assert last_sentence.rstrip(".") in nodes[1].text


def test_a_title_line_is_not_glued_to_the_paragraph_below_it(count):
    from ingest.text import answer_sentences

    text = ("Des temps de partage de l'actualité des institutions partenaires.\n"
            "Préparer les contrats et renouveler les coopérations\n"
            "En s'appuyant sur les évaluations, l'IREV propose un cycle de 5 journées.\n"
            "Le contrat de ville est signé par le préfet, le maire et le président de la\n"
            "métropole, pour une durée de six ans conformément à la loi du 21 février 2014.")
    document = Document(text=text, metadata={"document_id": "d.txt", "title": "Cycle 2023"})
    (node,) = split([document], count, 300, 40)
    sentences = answer_sentences(node.text)
    assert "Préparer les contrats et renouveler les coopérations" in sentences
    assert any(s.startswith("En s'appuyant sur les évaluations") for s in sentences)
    # a wrapped sentence stays whole
    assert any(s.startswith("Le contrat de ville est signé") and s.endswith("2014.")
               for s in sentences)
