"""Office documents as Markdown-like text: Word (.docx), OpenDocument text (.odt) and PowerPoint
(.pptx). Headings become `#` headings (so chunking makes sections of them), tables become one
readable line per row (« En-tête : valeur, … »), a slide deck gives one document per slide
(cited as « diapositive n »), and the file's properties give its title and date."""

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

from llama_index.core import Document


class OfficeError(Exception):
    """A broken or unreadable Office file (the message is French)."""


def _rows(table: list[list[str]]) -> Iterator[str]:
    """One line per row. When the first row looks like a header (no empty cell, more than one
    column) it names the values of the others: « Colonne : valeur, … »; a two-column table
    reads « clé : valeur »."""
    table = [[" ".join(c.split()) for c in row] for row in table if any(c.strip() for c in row)]
    if not table:
        return
    header = table[0] if len(table) > 1 and len(table[0]) > 1 and all(table[0]) else None
    for row in table[1:] if header else table:
        if header and len(header) == 2:  # a two-column table is a list of « key : value »
            pair = f"{row[0]} : {row[1]}" if len(row) > 1 and row[0] and row[1] else \
                " ".join(filter(None, row))
            cells = [pair] if pair else []
        else:
            cells = [f"{name} : {value}" if header and name and name != value else value
                     for name, value in zip(header or [""] * len(row), row, strict=False)
                     if value]
        if cells:
            # commas, not semicolons: sentence splitting cuts at « ; » before a capital
            yield ", ".join(cells) + ("" if cells[-1].endswith((".", ":", ";")) else ".")


def _date(value) -> str | None:
    if isinstance(value, dt.datetime | dt.date):
        return value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value):
        return value[:10]
    return None


def _properties(title: str | None, published) -> dict:
    found = {"title": " ".join(title.split()) if title and title.strip() else None,
             "published": _date(published)}
    return {k: v for k, v in found.items() if v}


def _heading_level(style: str) -> int | None:
    """Word's built-in heading styles (« Heading 2 », « Titre 2 » in a French Word), « Title »."""
    name = style.lower()
    if name in {"title", "titre"}:
        return 1
    match = re.match(r"(?:heading|titre)\s*(\d)$", name)
    return min(6, int(match.group(1)) + 1) if match else None


# -- Word --------------------------------------------------------------------------------------

def load_docx(path: Path) -> tuple[str, dict]:
    """The text of a .docx in reading order (paragraphs and tables), and its properties."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise OfficeError("document Word (.docx) illisible ou corrompu") from exc
    lines = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = " ".join(block.text.split())
            if not text:
                continue
            level = _heading_level(block.style.name if block.style is not None else "")
            lines.append(f"{'#' * level} {text}" if level else text)
        elif isinstance(block, Table):
            lines.extend(_rows([[cell.text for cell in row.cells] for row in block.rows]))
    core = document.core_properties
    return "\n\n".join(lines), _properties(core.title, core.created or core.modified)


# -- OpenDocument ------------------------------------------------------------------------------

def load_odt(path: Path) -> tuple[str, dict]:
    """The text of an .odt (headings with their outline level, paragraphs, lists, tables)."""
    from odf import dc, meta, opendocument, table, teletype
    from odf.namespaces import TABLENS, TEXTNS

    try:
        document = opendocument.load(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, AttributeError) as exc:
        raise OfficeError("document OpenDocument (.odt) illisible ou corrompu") from exc
    lines: list[str] = []

    def walk(node) -> None:
        for child in node.childNodes:
            kind = getattr(child, "qname", None)
            if kind == (TEXTNS, "h"):
                level = int(child.getAttrNS(TEXTNS, "outline-level") or 1)
                heading = " ".join(teletype.extractText(child).split())
                lines.append(f"{'#' * min(6, level + 1)} {heading}")
            elif kind == (TEXTNS, "p"):
                value = " ".join(teletype.extractText(child).split())
                if value:
                    lines.append(value)
            elif kind == (TABLENS, "table"):
                lines.extend(_rows([[teletype.extractText(cell)
                                     for cell in row.getElementsByType(table.TableCell)]
                                    for row in child.getElementsByType(table.TableRow)]))
            elif kind is not None:
                walk(child)  # lists, sections, frames

    walk(document.text)
    title = _first_text(document.meta.getElementsByType(dc.Title) if document.meta else [])
    date = _first_text(document.meta.getElementsByType(meta.CreationDate) if document.meta
                       else [])
    return "\n\n".join(lines), _properties(title, date)


def _first_text(elements) -> str | None:
    from odf import teletype

    for element in elements:
        value = teletype.extractText(element).strip()
        if value:
            return value
    return None


# -- PowerPoint --------------------------------------------------------------------------------

def load_pptx(path: Path, metadata: dict) -> list[Document]:
    """One document per slide with text, its number as `page` (cited « diapositive n »)."""
    import pptx
    from pptx.exc import PackageNotFoundError

    try:
        deck = pptx.Presentation(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise OfficeError("présentation PowerPoint (.pptx) illisible ou corrompue") from exc
    core = deck.core_properties
    base = {**_properties(core.title, core.created or core.modified), **metadata,
            "page_unit": "diapositive"}
    documents = []
    for number, slide in enumerate(deck.slides, start=1):
        title_shape = slide.shapes.title
        lines = []
        if title_shape is not None and title_shape.text_frame.text.strip():
            lines.append("## " + " ".join(title_shape.text_frame.text.split()))
        title_id = title_shape.shape_id if title_shape is not None else None
        for shape in slide.shapes:
            if shape.shape_id == title_id:
                continue
            if shape.has_text_frame:
                lines += [" ".join(p.text.split()) for p in shape.text_frame.paragraphs
                          if p.text.strip()]
            elif shape.has_table:
                lines.extend(_rows([[c.text for c in row.cells] for row in shape.table.rows]))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                lines.append(" ".join(notes.split()))
        if lines:  # no title in the properties: `load_office` takes the first line
            documents.append(Document(text="\n\n".join(lines), metadata={**base, "page": number}))
    return documents
