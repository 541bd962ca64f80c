"""Turn one file into llama-index Documents: one per PDF page, one per text/HTML/Markdown file.

Every failure is a `LoadError` whose message is French and meant for the ingest report.
"""

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a file is read: an unchanged re-run never needs llama-index
    from llama_index.core import Document

logger = logging.getLogger(__name__)

PDF_SUFFIXES = {".pdf"}
HTML_SUFFIXES = {".html", ".htm"}
TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
OFFICE_SUFFIXES = {".docx", ".odt", ".pptx"}
SUPPORTED_SUFFIXES = PDF_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES | OFFICE_SUFFIXES
# Cap on text extracted from one PDF page: protects against decompression bombs.
MAX_PAGE_CHARS = 200_000
# Caps on decompressed content streams, checked before pypdf parses them (≈300 kB/s): a real page
# holds 10-50 kB; a 120 kB file can inflate to pages of 12 MB each, a minute of CPU per page.
MAX_PAGE_CONTENT_BYTES = 2_000_000
MAX_PDF_CONTENT_BYTES = 50_000_000
# Markdown images inlined as data URIs, and any other long run of non-space characters, are
# encoded data (base64, minified code), not prose.
INLINE_DATA_IMAGE = re.compile(r"!\[[^\]]*\]\(data:[^)\s]*\)")
ENCODED_RUN = re.compile(r"\S{1000,}")


def _document(text: str, metadata: dict) -> "Document":
    from llama_index.core import Document

    return Document(text=text, metadata=metadata)


class LoadError(Exception):
    """A file that cannot be ingested. The message is French: it goes to the user."""


def load_file(path: Path, metadata: dict, max_bytes: int) -> list["Document"]:
    """Load `path` into Documents carrying `metadata` (plus `page` for PDFs).

    >>> docs = load_file(Path("corpus/a.txt"), {"document_id": "a.txt"}, 50_000_000)
    """
    size = path.stat().st_size
    if size == 0:
        raise LoadError("fichier vide")
    if size > max_bytes:
        raise LoadError(
            f"fichier trop volumineux ({size / 1e6:.1f} Mo, limite {max_bytes / 1e6:.1f} Mo)"
        )
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        return load_pdf(path, metadata)
    if suffix in HTML_SUFFIXES:
        return load_html(path, metadata)
    if suffix in TEXT_SUFFIXES:
        return load_text(path, metadata)
    if suffix in OFFICE_SUFFIXES:
        return load_office(path, metadata)
    raise LoadError(f"format non pris en charge ({suffix or 'sans extension'})")


def load_pdf(path: Path, metadata: dict) -> list["Document"]:
    from pypdf import PdfReader
    from pypdf.errors import (
        DependencyError,
        FileNotDecryptedError,
        LimitReachedError,
        PdfReadError,
        PdfStreamError,
        PyPdfError,
    )

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("PDF chiffré ou protégé par mot de passe")
        _check_content_sizes(reader.pages)
        pages = [(page.extract_text() or "")[:MAX_PAGE_CHARS] for page in reader.pages]
    except LoadError:
        raise
    except FileNotDecryptedError as exc:
        raise LoadError("PDF chiffré ou protégé par mot de passe") from exc
    except DependencyError as exc:  # AES needs the optional `cryptography` package
        raise LoadError("PDF chiffré (AES) : illisible sans le module cryptography") from exc
    except LimitReachedError as exc:  # decompression bombs, absurd declared lengths
        raise LoadError("PDF corrompu ou piégé : limite de décompression atteinte") from exc
    except (PdfReadError, PdfStreamError, PyPdfError, ValueError, KeyError, TypeError, OSError,
            AttributeError, IndexError, ZeroDivisionError) as exc:
        raise LoadError(f"PDF corrompu ou tronqué ({type(exc).__name__})") from exc
    except RecursionError as exc:
        raise LoadError("PDF mal formé (structure trop profonde)") from exc
    except NotImplementedError as exc:
        raise LoadError(f"PDF non pris en charge ({exc})") from exc
    if not pages:
        raise LoadError("PDF sans aucune page")
    scanned = _read_scanned_pages(path, pages)
    if not any(text.strip() for text in pages):
        raise LoadError("aucun texte extractible, même par OCR (pages blanches ou illisibles)")
    title = _pdf_title(reader) or _first_heading(next(text for text in pages if text.strip()))
    base = {"title": title, **metadata} if title else dict(metadata)
    return [
        _document(text=text, metadata={**base, "page": number,
                                      **({"ocr": True} if number in scanned else {})})
        for number, text in enumerate(pages, start=1)
        if text.strip()
    ]


def _read_scanned_pages(path: Path, pages: list[str]) -> set[int]:
    """OCR the pages without a text layer, in place; the numbers of those read. A file with no
    text at all and no OCR is refused with the reason; a mixed one keeps its text pages."""
    from ingest.ocr import OCRUnavailable, read_pages

    empty = [number for number, text in enumerate(pages, start=1) if not text.strip()]
    if not empty:
        return set()
    try:
        found = read_pages(path, empty)
    except OCRUnavailable as exc:
        if len(empty) == len(pages):
            raise LoadError(f"aucun texte extractible, OCR nécessaire ; {exc}") from exc
        logger.warning("%s: %d scanned pages not read: %s", path, len(empty), exc)
        return set()
    for number, text in found.items():
        pages[number - 1] = text[:MAX_PAGE_CHARS]
    return {number for number, text in found.items() if text.strip()}


def _check_content_sizes(pages) -> None:
    """Refuse a PDF whose content streams would take minutes to parse, before parsing them.
    Counted: each page's content streams and the form XObjects it draws (text extraction parses
    both); a form shared by many pages counts once toward the file's total."""
    from pypdf.generic import ArrayObject

    total, seen = 0, set()
    for number, page in enumerate(pages, start=1):
        contents = page.get("/Contents")  # absent on a blank page
        contents = contents.get_object() if contents is not None else ArrayObject()
        streams = list(contents) if isinstance(contents, ArrayObject) else [contents]
        resources = page.get("/Resources")
        xobjects = (resources.get_object().get("/XObject") if resources is not None else None)
        for ref in (xobjects.get_object().values() if xobjects is not None else []):
            if ref.get_object().get("/Subtype") == "/Form":
                streams.append(ref)
        size, new = 0, 0
        for stream in streams:
            length = len(stream.get_object().get_data())
            size += length
            key = getattr(stream, "idnum", None)
            if key is None or key not in seen:
                new += length
                seen.add(key)
        if size > MAX_PAGE_CONTENT_BYTES:
            raise LoadError(f"PDF piégé ou démesuré : la page {number} contient "
                            f"{size / 1e6:.0f} Mo de contenu (limite "
                            f"{MAX_PAGE_CONTENT_BYTES / 1e6:.0f} Mo par page)")
        total += new
        if total > MAX_PDF_CONTENT_BYTES:
            raise LoadError(f"PDF piégé ou démesuré : plus de {MAX_PDF_CONTENT_BYTES / 1e6:.0f} Mo "
                            "de contenu décompressé")


def load_html(path: Path, metadata: dict) -> list["Document"]:
    import trafilatura

    html = _read_text(path)
    text = trafilatura.extract(
        html, output_format="markdown", include_tables=True, include_comments=False,
        favor_recall=True,
    )
    if not text or not text.strip():
        raise LoadError("aucun contenu principal extractible de la page HTML")
    text = _without_encoded_data(text)
    found = trafilatura.extract_metadata(html)
    title = (found.title if found else None) or _first_line(text)
    return [_document(text=text, metadata={"title": title, **metadata})]


def load_office(path: Path, metadata: dict) -> list["Document"]:
    """Word, OpenDocument and PowerPoint files (see `ingest.office`)."""
    from ingest import office

    try:
        if path.suffix.lower() == ".pptx":
            documents = office.load_pptx(path, metadata)
        else:
            reader = office.load_docx if path.suffix.lower() == ".docx" else office.load_odt
            text, properties = reader(path)
            documents = [_document(text=_without_encoded_data(text),
                                  metadata={**properties, **metadata})] if text.strip() else []
    except office.OfficeError as exc:
        raise LoadError(str(exc)) from exc
    if not documents:
        raise LoadError("document sans texte")
    for document in documents:
        document.metadata.setdefault("title", _first_line(documents[0].text))
    return documents


def load_text(path: Path, metadata: dict) -> list["Document"]:
    text = _read_text(path)
    if not text.strip():
        raise LoadError("aucun texte (fichier blanc)")
    text = _without_encoded_data(text)
    heading = re.search(r"^#\s+(.+)$", text, flags=re.M)
    title = heading.group(1).strip() if heading else _first_line(text)
    return [_document(text=text, metadata={"title": title, **metadata})]


def _without_encoded_data(text: str) -> str:
    """Drop inlined images and other encoded data (runs of 1,000+ characters without a space):
    they are not prose, and would become thousands of noise chunks. Raise if nothing else is left.
    """
    text = INLINE_DATA_IMAGE.sub(" ", text)
    text = ENCODED_RUN.sub(" ", text)
    if not text.strip():
        raise LoadError("texte sans espaces sur des milliers de caractères : pas du texte rédigé "
                        "(données encodées ?)")
    return text


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise LoadError("fichier binaire, pas du texte")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"encodage non UTF-8 (octet invalide à la position {exc.start}) : "
            "enregistrez le fichier en UTF-8"
        ) from exc


def _pdf_title(reader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # noqa: BLE001 - broken metadata must not lose the document
        return None
    return title.strip() if title and title.strip() else None


# A line that starts the body, not the title: « NOR : … », « TITRE Ier », « Article 1 »…
_AFTER_TITLE = re.compile(r"^(?:NOR\b|TITRE\b|Titre\s+[IVX]|CHAPITRE\b|Chapitre\s+[IVX]|Article\b|"
                          r"Art\.|Sommaire\b|SOMMAIRE\b|Vu\b|[IVX]+\.\s)")


def _first_heading(text: str, limit: int = 300) -> str:
    """A PDF's title as printed: its first lines, joined, up to a blank line or the start of the
    body (« … relatif aux instances en charge de la » continues on the next line)."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip(" #*\t")
        if not line:
            if lines:
                break
            continue
        if lines and (_AFTER_TITLE.match(line) or len(" ".join(lines)) + len(line) > limit):
            break
        lines.append(line)
    title = re.sub(r"\s*\(\d\)$", "", " ".join(lines))  # a footnote call: « … urbaine (1) »
    return title or _first_line(text)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip(" #*\t")
        if len(line) > 3:
            return line[:200]
    return ""
