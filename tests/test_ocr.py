"""Scanned pages: a PDF made from a shipped one, its page 2 replaced by a 200 dpi image of itself
(no text layer), is read by Tesseract, answered from and cited at page 2; without Tesseract the
file gets a French reason and the rest of the run goes on."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import LAMY_PDF, ROOT, make_assistant, make_settings

from ingest.e5_bundle import DEFAULT_MODEL_NAME
from ingest.loaders import load_file
from ingest.pipeline import run

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None,
                                reason="Tesseract absent (make test installs it)")


def make_scan(path: Path, source: Path, pages: list[int], scanned: set[int]) -> Path:
    """`pages` of `source`; those in `scanned` as images only, as a scanner would give them."""
    from PIL import Image
    from pypdf import PdfReader, PdfWriter

    reader, writer = PdfReader(source), PdfWriter()
    work = Path(tempfile.mkdtemp(prefix="scan-"))
    for number in pages:
        if number not in scanned:
            writer.add_page(reader.pages[number - 1])
            continue
        image = work / f"page-{number}"
        subprocess.run(["pdftoppm", "-f", str(number), "-l", str(number), "-r", "200", "-gray",
                        "-png", "-singlefile", str(source), str(image)], check=True)
        single = image.with_suffix(".pdf")
        Image.open(f"{image}.png").save(single, "PDF", resolution=200)
        writer.add_page(PdfReader(single).pages[0])
    with path.open("wb") as handle:
        writer.write(handle)
    return path


@pytest.fixture(scope="module")
def scan_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scans")
    docs = folder / "docs"
    docs.mkdir()
    make_scan(docs / "loi-lamy-scannee.pdf", LAMY_PDF, [1, 2, 3], {2})
    return folder


def test_only_the_page_without_text_is_read_by_ocr(scan_dir):
    pages = load_file(scan_dir / "docs/loi-lamy-scannee.pdf", {"document_id": "x"}, 10**8)
    assert [p.metadata["page"] for p in pages] == [1, 2, 3]
    assert [bool(p.metadata.get("ocr")) for p in pages] == [False, True, False]
    assert "Observatoire national de la politique de la ville" in " ".join(pages[1].text.split())


def test_a_scanned_page_is_answered_from_and_cited_at_its_page(scan_dir, embedder, models_dir):
    from fastapi.testclient import TestClient

    from assistant.api import create_app

    data = scan_dir / "data"
    data.mkdir()
    (data / "models").symlink_to(models_dir)
    report = run([scan_dir / "docs"], data / "index", embedder, model_name=DEFAULT_MODEL_NAME)
    assert report.indexed == ["loi-lamy-scannee.pdf"] and not report.skipped
    settings = make_settings(data)
    with TestClient(create_app(settings, make_assistant(settings, embedder))) as client:
        answer = client.post("/api/chat", json={
            "question": "Avant quelle date le Gouvernement devait-il remettre au Parlement le "
                        "rapport sur la dotation politique de la ville ?"}).json()
    assert answer["grounded"] and "1er septembre 2014" in answer["answer"], answer
    citation = answer["citations"][0]
    assert citation["page"] == 2 and citation["url"].endswith("#page=2")


def test_without_tesseract_a_scan_is_reported_and_the_rest_ingested(tmp_path, models_dir):
    docs = tmp_path / "docs"
    docs.mkdir()
    make_scan(docs / "scan-seul.pdf", LAMY_PDF, [2], {2})
    shutil.copy(ROOT / "corpus/2023-03-29_assemblee-generale-bilan-2022.txt", docs)
    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to(models_dir)
    env = {**os.environ, "IREV_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1",
           "PATH": str(tmp_path / "nothing"), "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "cli.main", "ingest", str(docs)], env=env,
                            cwd=ROOT, text=True, capture_output=True, timeout=600)
    printed = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1  # a file was skipped
    assert "scan-seul" in printed and "tesseract-ocr-fra" in printed, printed[-1500:]
    from ingest.index import read_snapshot

    assert list(read_snapshot(data / "index").documents) == [
        "2023-03-29_assemblee-generale-bilan-2022.txt"]
