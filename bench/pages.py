"""Exact pages: a citation's page must be the page that prints the cited sentence.

Over an index of `../shared/corpus/pdf` alone (built under data/bench-pages):
1. every quotable sentence of every chunk that spans two pages: the page `sentence_page` gives
   it is checked against `pdftotext -f N -l N`;
2. five questions whose answers sit just after a page break: each citation's page must print
   the sentence that cites it (the answers themselves are not judged here).

    python bench/pages.py          # prints two tables, writes eval/results/pages-latest.json
"""

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

from common import ROOT, SHARED, console, load_model, make_table, model_name

from assistant.answer import build_assistant
from assistant.citations import sentence_page
from assistant.extractive import clean
from assistant.retrieval import as_hit
from assistant.store import Store
from ingest.pipeline import run
from ingest.text import answer_parts, answer_sentences, fold

QUESTIONS = [
    "Quels articles de la loi Lamy ne sont pas applicables à Saint-Martin ?",
    "Quelle place ont les habitants et usagers du quartier dans le projet de renouvellement "
    "urbain ?",
    "Les projets de renouvellement urbain doivent-ils faciliter les déplacements des habitants ?",
    "Qui assure le secrétariat de l'Observatoire national de la politique de la ville ?",
    "Quels bailleurs signent le contrat de ville ?",
]


def words(text: str) -> str:
    """Compared without layout, accents, punctuation or hyphenation at line ends."""
    text = fold(text.replace("-\n", "").lower())
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


@cache
def printed(pdf: Path, page: int) -> str:
    return words(subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                                capture_output=True, text=True, check=True).stdout)


def holds(pdf: Path, page: int | None, sentence: str) -> bool:
    """The page prints the sentence, or its start when the sentence runs on to the next page
    (a sentence is cited at the page where it starts)."""
    if page is None:
        return False
    said, shown = words(clean(sentence)), printed(pdf, page)
    return said in shown or " ".join(said.split()[:8]) in shown


def main() -> dict:
    data = ROOT / "data"
    embedder = load_model(data / "models")
    index_dir = data / "bench-pages" / "index"
    pdfs = SHARED / "corpus/pdf"
    run([pdfs], index_dir, embedder, model_name=model_name())
    assistant = build_assistant(index_dir, embedder, Store("sqlite://"), top_k=8)
    files = {p.name.lower(): p for p in pdfs.glob("*.pdf")}

    checked = held = spans = 0
    for node in assistant.index.current.nodes.values():
        if not node.metadata.get("page_breaks"):
            continue
        spans += 1
        hit = as_hit(node)
        for sentence in answer_sentences(node.get_content()):
            checked += 1
            held += holds(files[node.metadata["document_id"]], sentence_page(hit, sentence),
                          sentence)
    rows = []
    for question in QUESTIONS:
        answer = assistant.ask(question)
        for citation in answer.citations:
            cited = _sentences_citing(answer.answer, citation.n)
            pdf = files[citation.document_id]
            rows.append({"question": question, "page": citation.page,
                         "sentence": cited[0] if cited else "",
                         "holds": all(holds(pdf, citation.page, s) for s in cited)})
    summary = {"chunks_spanning_pages": spans, "sentences_checked": checked,
               "sentence_page_right": held / max(1, checked),
               "citations": len(rows), "cited_page_holds": sum(r["holds"] for r in rows)}
    first = make_table("Page of every sentence in chunks that span two pages",
                       ["chunks spanning pages", "sentences", "page printed holds it"])
    first.add_row(str(spans), str(checked), f"{held}/{checked}")
    console.print(first)
    second = make_table("Five questions at page boundaries: the cited page prints the sentence",
                        ["question", "cited page", "sentence", "holds"])
    for r in rows:
        second.add_row(r["question"][:60], str(r["page"]), r["sentence"][:70],
                       "yes" if r["holds"] else "NO")
    console.print(second)
    out = ROOT / "eval/results/pages-latest.json"
    out.write_text(json.dumps({"summary": summary, "citations": rows}, ensure_ascii=False,
                              indent=2), encoding="utf-8")
    return summary


def _sentences_citing(answer: str, n: int) -> list[str]:
    """The quoted sentences that cite [n]; split after every full stop, since a quoted piece
    may start in lower case (a sentence cut by a page break)."""
    parts = [re.sub(r"\s*\[\d+\]", "", part).strip() for part in answer_parts(answer)
             if f"[{n}]" in part]
    return [s for part in parts for s in re.split(r"(?<=[.!?])\s+", part) if s]


if __name__ == "__main__":
    result = main()
    sys.exit(0 if result["sentence_page_right"] == 1 and
             result["cited_page_holds"] == result["citations"] else 1)
