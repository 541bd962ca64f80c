"""OCR accuracy and speed: pages of the shipped PDFs that have a text layer are rendered to images
(`pdftoppm`, 300 dpi, as a scanner would) and read back by Tesseract French; the character error
rate is measured against the page's own text layer.

    python bench/ocr.py            # prints a table, writes eval/results/ocr-latest.json
"""

import json
import re
import sys
import time
import unicodedata

from common import ROOT, SHARED, console, make_table  # sets sys.path
from rapidfuzz.distance import Levenshtein

from ingest.ocr import read_pages
from ingest.text import plain_punctuation

PAGES = [("01_loi-2014-173-lamy-programmation-ville-cohesion-urbaine.pdf", 2),
         ("04_arrete-2014-09-15-reglement-general-ANRU-NPNRU.pdf", 3),
         ("05_decret-2015-77-CNV-CIV-ONPV-instances-politique-ville.pdf", 3)]


def normalise(text: str, punctuation: bool = False) -> str:
    """Layout is not content: whitespace collapsed, words cut at a line end joined again."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    if punctuation:
        text = plain_punctuation(text).replace("«", '"').replace("»", '"')
    return " ".join(text.split())


def main() -> dict:
    from pypdf import PdfReader

    rows = []
    for name, number in PAGES:
        path = SHARED / "corpus/pdf" / name
        reference = PdfReader(path).pages[number - 1].extract_text()
        started = time.perf_counter()
        read = read_pages(path, [number])[number]
        seconds = time.perf_counter() - started
        strict = Levenshtein.normalized_distance(normalise(reference), normalise(read))
        loose = Levenshtein.normalized_distance(normalise(reference, True), normalise(read, True))
        rows.append({"file": name, "page": number, "characters": len(normalise(reference)),
                     "cer": strict, "cer_punctuation_folded": loose, "seconds": seconds})
    total = sum(r["characters"] for r in rows)
    summary = {"pages": len(rows),
               "cer": sum(r["cer"] * r["characters"] for r in rows) / total,
               "cer_punctuation_folded": sum(r["cer_punctuation_folded"] * r["characters"]
                                             for r in rows) / total,
               "pages_per_second": len(rows) / sum(r["seconds"] for r in rows)}
    shown = make_table("OCR (Tesseract fra, 300 dpi) against the PDF text layer",
                  ["file", "page", "characters", "CER", "CER, quotes/dashes folded", "s/page"])
    for r in rows:
        shown.add_row(r["file"][:40], str(r["page"]), str(r["characters"]), f"{r['cer']:.2%}",
                      f"{r['cer_punctuation_folded']:.2%}", f"{r['seconds']:.1f}")
    shown.add_row("all", str(len(rows)), str(total), f"{summary['cer']:.2%}",
                  f"{summary['cer_punctuation_folded']:.2%}",
                  f"{1 / summary['pages_per_second']:.1f}")
    console.print(shown)
    out = ROOT / "eval/results/ocr-latest.json"
    out.write_text(json.dumps({"summary": summary, "pages": rows}, indent=2), encoding="utf-8")
    return summary


if __name__ == "__main__":
    sys.exit(0 if main()["cer"] <= 0.02 else 1)
