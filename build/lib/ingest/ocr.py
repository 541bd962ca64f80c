"""OCR of scanned PDF pages (no text layer) with Tesseract's French model, through the Debian
tools: `pdftoppm` (poppler-utils) renders a page, `tesseract` (tesseract-ocr, tesseract-ocr-fra)
reads it. Only the pages that need it are read; each keeps its page number."""

import logging
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

logger = logging.getLogger(__name__)

RESOLUTION = 300  # dpi: Tesseract's accuracy drops fast below ~250
PAGE_TIMEOUT = 120  # seconds per page, rendering and reading each
MAX_PAGES = 300  # per file: a « scan » of 10,000 blank pages is an attack, not a document
LANGUAGE = "fra"


class OCRUnavailable(Exception):
    """Tesseract, its French model or pdftoppm is missing (the message is French)."""


@cache
def check_available() -> None:
    missing = [tool for tool in ("pdftoppm", "tesseract") if shutil.which(tool) is None]
    if missing:
        names = {"pdftoppm": "poppler-utils", "tesseract": "tesseract-ocr, tesseract-ocr-fra"}
        packages = [names[t] for t in missing]
        raise OCRUnavailable("OCR impossible : installez les paquets " + ", ".join(packages))
    languages = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                               timeout=30).stdout.split()
    if LANGUAGE not in languages:
        raise OCRUnavailable("OCR impossible : le modèle français de Tesseract manque "
                             "(paquet tesseract-ocr-fra)")


def read_pages(pdf: Path, numbers: list[int]) -> dict[int, str]:
    """The text of the given 1-based pages, read by OCR. Raises OCRUnavailable."""
    check_available()
    if len(numbers) > MAX_PAGES:
        raise OCRUnavailable(f"OCR refusé : {len(numbers)} pages sans texte (limite {MAX_PAGES})")
    # One thread per Tesseract: on 2 cores its OpenMP threads only fight each other.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    found = {}
    with tempfile.TemporaryDirectory(prefix="irev-ocr-") as work:
        for number in numbers:
            image = Path(work) / f"page-{number}"
            try:
                subprocess.run(["pdftoppm", "-f", str(number), "-l", str(number),
                                "-r", str(RESOLUTION), "-gray", "-png", "-singlefile",
                                str(pdf), str(image)], check=True, capture_output=True,
                               timeout=PAGE_TIMEOUT)
                result = subprocess.run(["tesseract", f"{image}.png", "stdout", "-l", LANGUAGE],
                                        check=True, capture_output=True, timeout=PAGE_TIMEOUT,
                                        env=env)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                logger.warning("OCR of %s page %d failed: %s", pdf, number, exc)
                continue
            found[number] = result.stdout.decode("utf-8", errors="replace")
    return found
