from pathlib import Path

import pytest
from conftest import DATA, DECREE_CNV_PDF, LAMY_MD

from ingest.loaders import LoadError, load_file
from ingest.manifest import describe, document_id

MB = 1_000_000


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A real PDF, written by reportlab, one string per page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        for line in text.splitlines():
            pdf.drawString(60, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return path


def test_pdf_gives_one_document_per_page_with_its_number(tmp_path):
    pdf = make_pdf(tmp_path / "rapport.pdf", ["Premiere page : bilan 2022.",
                                              "Deuxieme page : 199 quartiers prioritaires."])
    docs = load_file(pdf, {"document_id": "rapport.pdf"}, 50 * MB)
    assert [d.metadata["page"] for d in docs] == [1, 2]
    assert "199 quartiers" in docs[1].text and "199" not in docs[0].text


def test_real_pdf_page_numbers_are_physical_pages():
    """Page 1 of this PDF has no text layer: it is skipped, and page 2 stays page 2."""
    from pypdf import PdfReader

    reader = PdfReader(DECREE_CNV_PDF)
    docs = load_file(DECREE_CNV_PDF, {}, 50 * MB)
    assert [d.metadata["page"] for d in docs] == [
        n for n, page in enumerate(reader.pages, start=1) if page.extract_text().strip()
    ]
    for doc in docs:
        assert doc.text == reader.pages[doc.metadata["page"] - 1].extract_text()


def test_html_keeps_main_content_and_drops_navigation_and_scripts():
    (doc,) = load_file(DATA / "rapport-activites-exemple.html", {}, 50 * MB)
    assert "42 journées de qualification" in doc.text
    assert "mentions légales" not in doc.text
    assert "tracking" not in doc.text
    assert doc.metadata["title"] == "Rapport d'activités 2024 du réseau des quartiers"


def test_markdown_title_comes_from_its_first_heading():
    (doc,) = load_file(LAMY_MD, {}, 50 * MB)
    assert doc.metadata["title"].startswith("LOI n° 2014-173")


def test_metadata_passed_in_overrides_what_the_loader_infers():
    (doc,) = load_file(LAMY_MD, {"title": "Loi Lamy"}, 50 * MB)
    assert doc.metadata["title"] == "Loi Lamy"


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("vide.txt", b"", "fichier vide"),
    ("blanc.md", b"   \n\n  ", "aucun texte"),
    ("latin1.txt", "Écart de développement".encode("latin-1"), "encodage non UTF-8"),
    ("binaire.txt", b"\x00\x01\x02ELF\x00" * 20, "fichier binaire"),
    ("tronque.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "PDF"),
    ("faux.pdf", b"ceci n'est pas un PDF du tout", "PDF"),
])
def test_bad_files_raise_a_french_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError, match=reason):
        load_file(path, {}, 50 * MB)


def test_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "enorme.txt"
    path.write_text("politique de la ville " * 1000, encoding="utf-8")
    with pytest.raises(LoadError, match="trop volumineux"):
        load_file(path, {}, 1000)


def test_encrypted_pdf_is_refused(tmp_path):
    from pypdf import PdfReader, PdfWriter

    source = make_pdf(tmp_path / "clair.pdf", ["Texte confidentiel du contrat de ville."])
    writer = PdfWriter()
    for page in PdfReader(source).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="proprietaire")
    locked = tmp_path / "chiffre.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(LoadError, match="chiffré ou protégé par mot de passe"):
        load_file(locked, {}, 50 * MB)


def test_image_only_pdf_asks_for_ocr(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.rect(50, 50, 300, 300, fill=1)  # a drawing, no text layer
    pdf.showPage()
    pdf.save()
    with pytest.raises(LoadError, match="aucun texte extractible, même par OCR"):
        load_file(path, {}, 50 * MB)


def test_manifest_metadata_describes_the_bundled_corpus():
    corpus = Path(__file__).resolve().parents[1] / "corpus"
    path = corpus / "2023-03-29_assemblee-generale-bilan-2022.txt"
    meta = describe(path)
    assert meta["title"] == "L'assemblée générale de l'IREV adopte le bilan 2022"
    assert meta["type"] == "actualité"
    assert meta["published"] == "2023-03-29"
    assert meta["url"].startswith("https://www.irev.fr/")


def test_provenance_sidecar_gives_title_date_and_official_url():
    meta = describe(LAMY_MD)
    assert meta["title"].startswith("LOI n° 2014-173 du 21 février 2014")
    assert meta["published"] == "2014-02-21"
    assert "legifrance.gouv.fr" in meta["url"]
    assert meta["type"] == "loi"


def test_document_ids_are_url_safe():
    assert document_id(Path("Rapport d'activités 2022.PDF")) == "rapport-d-activites-2022.pdf"
