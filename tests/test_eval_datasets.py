"""The eval question set is valid against the real corpus; loaders fail with line numbers."""

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from eval.datasets import DatasetError, export_feedback, load_dataset, load_squad
from eval.relevance import normalise_article, normalise_space

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT / "eval" / "datasets" / "irev.jsonl"
SHARED = ROOT.parent / "shared"
CORPUS_DIRS = [ROOT / "corpus", SHARED / "corpus" / "legal", SHARED / "corpus" / "pdf"]
_ARTICLE_HEADING = re.compile(r"^#+\s+Article\s+(.+?)(?:\s+\(.*\))?\s*$", re.M)


def slug(name: str) -> str:
    """The ingest document id rule, restated: ascii, lower case, `[a-z0-9._-]`."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", folded).strip("-.").lower()


@cache
def corpus_files() -> dict[str, Path]:
    return {
        slug(p.name): p
        for folder in CORPUS_DIRS
        if folder.is_dir()
        for p in folder.iterdir()
        if p.suffix in {".txt", ".md", ".pdf"}
    }


@cache
def pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [normalise_space(page.extract_text() or "") for page in PdfReader(path).pages]


def article_text(text: str, article: str) -> str:
    marks = [(m.start(), normalise_article(m.group(1))) for m in _ARTICLE_HEADING.finditer(text)]
    ends = [start for start, _ in marks[1:]] + [len(text)]
    return "".join(
        text[start:end] for (start, key), end in zip(marks, ends, strict=True) if key == article
    )


QUESTIONS = load_dataset(DATASET)
SOURCES = [(q.id, s) for q in QUESTIONS for s in q.expected_sources]


def test_dataset_has_the_required_mix_of_questions():
    tags = Counter(tag for q in QUESTIONS for tag in q.tags)
    assert len(QUESTIONS) >= 65
    assert sum(not q.answerable for q in QUESTIONS) >= 12
    assert all(
        tags[t] >= 5
        for t in ("figure", "date", "name", "definition", "paraphrase", "reference", "followup")
    )
    assert all(q.turns for q in QUESTIONS if "followup" in q.tags)
    assert all(q.reference_answer for q in QUESTIONS if q.answerable)


@pytest.mark.skipif(not (SHARED / "corpus").is_dir(), reason="shared/corpus is not beside the repo")
@pytest.mark.parametrize(
    ("question_id", "source"), SOURCES, ids=[f"{i}-{s.document_id[:20]}" for i, s in SOURCES]
)
def test_expected_source_phrase_is_verbatim_in_the_document(question_id, source):
    files = corpus_files()
    assert source.document_id in files, f"{question_id}: unknown document {source.document_id}"
    if source.contains is None:
        return
    assert 3 <= len(source.contains.split()) <= 8, f"{question_id}: phrase of 3-8 words"
    phrase = normalise_space(source.contains)
    text = files[source.document_id].read_text(encoding="utf-8")
    assert phrase in normalise_space(text)
    if source.article:
        assert phrase in normalise_space(article_text(text, source.article)), (
            f"{question_id}: phrase not inside article {source.article}"
        )
    for twin in source.alt_document_ids:
        pages = pdf_pages(files[twin])
        found = [number for number, page in enumerate(pages, start=1) if phrase in page]
        assert source.page in found, f"{question_id}: {twin} has it on pages {found}"


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps(
    {
        "id": "q1",
        "question": "Combien ?",
        "answerable": True,
        "expected_sources": [{"document_id": "a.txt", "article": "L. 2143-1"}],
    }
)


def test_load_dataset_normalises_article_numbers(tmp_path):
    [question] = load_dataset(write(tmp_path, GOOD, ""))
    assert question.expected_sources[0].article == "l2143-1"


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", r"set\.jsonl:2: JSON invalide"),
        (json.dumps({"id": "q2", "question": "", "answerable": False}), r":2: q2 : question"),
        (
            json.dumps({"id": "q2", "question": "x", "answerable": True}),
            r":2: q2 : .*source attendue",
        ),
        (
            json.dumps({"id": "q2", "question": "x", "answerable": False, "tags": ["recette"]}),
            r":2: q2 : tags : .*étiquettes inconnues",
        ),
        (
            json.dumps({"id": "q2", "question": "x", "answerable": False, "extra": 1}),
            r":2: q2 : extra",
        ),
        (GOOD, r":2: identifiant 'q1' déjà utilisé ligne 1"),
    ],
)
def test_load_dataset_reports_the_bad_line(tmp_path, bad_line, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(write(tmp_path, GOOD, bad_line))


def test_load_squad_keeps_gold_context_and_merges_identical_contexts(tmp_path):
    path = tmp_path / "mini-squad.json"
    path.write_text(
        json.dumps(
            {
                "data": [
                    {
                        "title": "Ville",
                        "paragraphs": [
                            {
                                "context": "Lille est une ville.",
                                "qas": [
                                    {
                                        "id": "a",
                                        "question": "Qu'est-ce que Lille ?",
                                        "answers": [{"text": "une ville", "answer_start": 8}],
                                    },
                                    {
                                        "id": "b",
                                        "question": "?",
                                        "answers": [],
                                        "is_impossible": True,
                                    },
                                ],
                            },
                            {
                                "context": "Lille est une ville.",
                                "qas": [{"id": "c", "question": "Lille ?"}],
                            },
                            {
                                "context": "Amiens aussi.",
                                "qas": [{"id": "d", "question": "Et Amiens ?"}],
                            },
                        ],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    benchmark = load_squad(path)
    assert [d.id for d in benchmark.documents] == ["mini-squad-00000", "mini-squad-00001"]
    assert [(q.id, q.context_id) for q in benchmark.questions] == [
        ("a", "mini-squad-00000"),
        ("c", "mini-squad-00000"),
        ("d", "mini-squad-00001"),
    ]
    assert load_squad(path, limit=1).questions[0].answers == ["une ville"]
    [first, *_] = benchmark.as_questions()
    assert first.expected_sources[0].document_id == "mini-squad-00000.txt"
    written = benchmark.write_corpus(tmp_path / "corpus")
    assert written[0].read_text(encoding="utf-8") == "# Ville\n\nLille est une ville.\n"


@pytest.mark.skipif(not (SHARED / "benchmarks").is_dir(), reason="shared/benchmarks missing")
@pytest.mark.parametrize(
    ("name", "documents", "questions"),
    [
        ("piaf/piaf-v1.0.json", 761, 3835),
        ("piaf-ml-spf/filtered_spf_qr_test.json", 105, 105),
        ("piaf-ml-spf/cnil_besoindaide_squad.json", 499, 512),
    ],
)
def test_load_squad_reads_the_shared_benchmarks(name, documents, questions):
    benchmark = load_squad(SHARED / "benchmarks" / name)
    assert (len(benchmark.documents), len(benchmark.questions)) == (documents, questions)


def test_export_feedback_keeps_thumbs_down_with_comment():
    rows = [
        {
            "question": "Quel budget ?",
            "answer": "Je ne sais pas.",
            "rating": -1,
            "comment": "Le chiffre est dans le rapport 2022",
            "created_at": "2025-01-02T10:00:00",
            "citations": [{"n": 1, "document_id": "a.txt", "page": None, "text": "long"}],
        },
        {"question": "Qui ?", "answer": "x", "rating": -1, "comment": "  "},
        {"question": "Quoi ?", "answer": "y", "rating": 1, "comment": "merci"},
    ]
    [line] = export_feedback(rows)
    item = json.loads(line)
    assert item["id"].startswith("feedback-") and item["tags"] == ["feedback"]
    assert item["answerable"] is None
    assert item["feedback"]["citations"] == [{"n": 1, "document_id": "a.txt"}]
    assert export_feedback(rows * 2) == [line]


def test_web_follow_ups_hold_their_facts_in_train_articles_only():
    """`followups_web.jsonl` (the rewriter's second dev set): each conversation is over one web
    *train* article, every fact and quoted passage is in that article's text, and each
    answerable follow-up says what it should become."""
    import html as html_lib

    from eval.splits import web_document_split

    web = SHARED / "corpus" / "web"
    if not web.is_dir():
        pytest.skip("../shared/corpus/web is not here")

    def plain(path: Path) -> str:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            text = html_lib.unescape(re.sub(r"<[^>]+>", " ", text))
        return normalise_space(text)

    questions = load_dataset(ROOT / "eval" / "datasets" / "followups_web.jsonl")
    assert len(questions) >= 60 and len({q.id for q in questions}) == len(questions)
    for q in questions:
        assert q.turns and "followup" in q.tags, q.id
        if not q.answerable:
            assert not q.facts and not q.expected_sources, q.id
            continue
        assert q.standalone and q.facts and q.expected_sources, q.id
        for source in q.expected_sources:
            assert web_document_split(source.document_id) == "train", q.id
            text = plain(web / source.document_id)
            for needle in [*q.facts, source.contains]:
                assert normalise_space(needle) in text, (q.id, needle)
