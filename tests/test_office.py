"""Word, OpenDocument and PowerPoint files, written by the test, ingested by the real pipeline and
answered through the real API: headings become sections, tables readable rows, slides are cited
as « diapositive n », properties give title and date."""

import pytest
from conftest import make_assistant, make_settings
from fastapi.testclient import TestClient
from office_files import make_docx, make_odt, make_pptx

from assistant.api import create_app
from ingest.e5_bundle import DEFAULT_MODEL_NAME
from ingest.loaders import load_file
from ingest.pipeline import run


@pytest.fixture(scope="module")
def office_client(tmp_path_factory, embedder, models_dir):
    folder = tmp_path_factory.mktemp("office")
    docs = folder / "docs"
    docs.mkdir()
    make_docx(docs / "note-conseil-citoyen.docx")
    make_odt(docs / "bilan-gusp.odt")
    make_pptx(docs / "formation-contrats.pptx")
    data = folder / "data"
    data.mkdir()
    (data / "models").symlink_to(models_dir)
    report = run([docs], data / "index", embedder, model_name=DEFAULT_MODEL_NAME)
    assert sorted(report.indexed) == ["bilan-gusp.odt", "formation-contrats.pptx",
                                      "note-conseil-citoyen.docx"], report
    settings = make_settings(data)
    with TestClient(create_app(settings, make_assistant(settings, embedder))) as client:
        yield client


def ask(client, question):
    response = client.post("/api/chat", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def test_word_headings_and_tables(tmp_path):
    documents = load_file(make_docx(tmp_path / "n.docx"), {"document_id": "n.docx"}, 10**8)
    text = documents[0].text
    assert "## Composition du conseil citoyen" in text
    assert "Première séance plénière : 3 juin 2024." in text
    assert documents[0].metadata["title"] == "Note de cadrage du conseil citoyen de Roubaix"
    assert documents[0].metadata["published"] == "2024-03-12"


def test_slides_are_one_document_each_without_the_title_twice(tmp_path):
    slides = load_file(make_pptx(tmp_path / "f.pptx"), {"document_id": "f.pptx"}, 10**8)
    assert [d.metadata["page"] for d in slides] == [1, 2, 3]
    assert slides[1].text.count("Calendrier de signature") == 1
    assert slides[1].metadata["page_unit"] == "diapositive"


@pytest.mark.parametrize("question, document, fact", [
    ("Combien d'habitants tirés au sort compte le conseil citoyen de l'Alma ?",
     "note-conseil-citoyen.docx", "24 habitants"),
    ("Quand a lieu la première séance plénière du conseil citoyen ?",
     "note-conseil-citoyen.docx", "3 juin 2024"),
    ("Combien de diagnostics en marchant la GUSP a-t-elle organisés en 2023 ?",
     "bilan-gusp.odt", "14 diagnostics"),
    ("Combien de signalements ont été traités par la GUSP ?", "bilan-gusp.odt", "312"),
])
def test_word_and_opendocument_questions_are_answered_and_cited(office_client, question,
                                                                document, fact):
    answer = ask(office_client, question)
    assert answer["grounded"], answer
    assert fact in answer["answer"]
    assert answer["citations"][0]["document_id"] == document


def test_a_slide_is_cited_by_its_number(office_client):
    answer = ask(office_client, "Avant quelle date les contrats de ville Engagements Quartiers "
                                "2030 devaient-ils être signés ?")
    assert answer["grounded"] and "30 juin 2024" in answer["answer"]
    citation = answer["citations"][0]
    assert citation["document_id"] == "formation-contrats.pptx"
    assert citation["page"] == 2 and citation["location"] == "diapositive 2"


def test_document_list_shows_titles_and_dates_from_the_properties(office_client):
    documents = {d["document_id"]: d for d in office_client.get("/api/documents").json()[
        "documents"]}
    assert documents["bilan-gusp.odt"]["title"] == "Bilan 2023 de la gestion urbaine de proximité"
    assert documents["bilan-gusp.odt"]["published"] == "2024-01-30"
    assert documents["formation-contrats.pptx"]["published"] == "2024-05-14"
