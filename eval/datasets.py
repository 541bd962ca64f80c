"""Evaluation questions: the in-domain JSONL set, SQuAD-style benchmarks, and user feedback.

>>> questions = load_dataset(Path("eval/datasets/irev.jsonl"))
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from eval.relevance import normalise_article

TAGS = frozenset(
    {
        "figure",
        "date",
        "name",
        "definition",
        "paraphrase",
        "reference",
        "followup",
        "unanswerable",
        "feedback",
        "squad",
        # what a follow-up leans on (eval/datasets/followups_web.jsonl)
        "pronoun-subject",
        "pronoun-object",
        "en",
        "y",
        "possessive",
        "demonstrative",
        "ellipsis",
    }
)


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message names the file and the line."""


class ExpectedSource(BaseModel):
    """A passage a good answer should rest on (see eval/README.md for the matching rules)."""

    model_config = ConfigDict(extra="forbid")

    document_id: str = Field(min_length=1)
    alt_document_ids: list[str] = Field(default_factory=list)
    page: int | None = Field(default=None, ge=1)
    article: str | None = None
    contains: str | None = Field(default=None, min_length=1)

    @field_validator("article")
    @classmethod
    def _normalise_article(cls, value: str | None) -> str | None:
        return normalise_article(value)


class EvalQuestion(BaseModel):
    """One question; `turns` are the earlier user questions of the same conversation."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    turns: list[str] = Field(default_factory=list)
    reference_answer: str | None = None
    facts: list[str] = Field(
        default_factory=list,
        description="Short strings a correct answer contains, all of them (compared with case, "
                    "accents, spaces and apostrophes normalised): « 199 », « 2014 »",
    )
    standalone: str | None = Field(
        default=None, description="For a follow-up: the stand-alone question it should become")
    expected_sources: list[ExpectedSource] = Field(default_factory=list)
    answerable: bool | None = Field(description="None: not yet reviewed (feedback)")
    tags: list[str] = Field(default_factory=list)
    feedback: dict[str, Any] | None = Field(
        default=None, description="What the user saw and said, kept for the reviewer"
    )

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, tags: list[str]) -> list[str]:
        unknown = sorted(set(tags) - TAGS)
        if unknown:
            raise ValueError(f"étiquettes inconnues {unknown} (permises : {sorted(TAGS)})")
        return tags

    @model_validator(mode="after")
    def _consistent(self) -> "EvalQuestion":
        if self.answerable is False and self.expected_sources:
            raise ValueError(
                "une question hors corpus (answerable=false) n'a pas de source attendue"
            )
        if self.answerable is True and not self.expected_sources:
            raise ValueError("une question answerable=true doit avoir au moins une source attendue")
        return self


def load_dataset(path: Path | str) -> list[EvalQuestion]:
    """Read a JSONL question set; blank lines are skipped, every error names its line."""
    path = Path(path)
    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            question = _parse_line(line, path, number)
            if question.id in seen:
                raise DatasetError(
                    f"{path}:{number}: identifiant {question.id!r} déjà utilisé ligne "
                    f"{seen[question.id]}"
                )
            seen[question.id] = number
            questions.append(question)
    if not questions:
        raise DatasetError(f"{path} : aucune question")
    return questions


def _parse_line(line: str, path: Path, number: int) -> EvalQuestion:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"{path}:{number}: JSON invalide ({exc.msg}, colonne {exc.colno})"
        ) from exc
    if not isinstance(raw, dict):
        raise DatasetError(f"{path}:{number}: un objet JSON est attendu par ligne")
    try:
        return EvalQuestion.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'question'} : {error['msg']}"
            for error in exc.errors()
        )
        raise DatasetError(f"{path}:{number}: {raw.get('id', '?')} : {problems}") from exc


def dump_dataset(questions: Iterable[EvalQuestion]) -> list[str]:
    """JSONL lines, without the fields left at their defaults."""
    return [q.model_dump_json(exclude_defaults=True) for q in questions]


def export_feedback(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Thumbs-down with a comment -> JSONL questions to review (answerable unknown, tag feedback).

    Each row is a dict: question, answer, rating (+1/-1), comment, citations, created_at.
    """
    lines: list[str] = []
    seen: set[str] = set()
    for row in rows:
        comment = (row.get("comment") or "").strip()
        question = (row.get("question") or "").strip()
        if int(row.get("rating") or 0) >= 0 or not comment or not question:
            continue
        created = str(row.get("created_at") or "")
        digest = hashlib.sha1(f"{question}\n{created}\n{comment}".encode()).hexdigest()[:10]
        if digest in seen:
            continue
        seen.add(digest)
        item = EvalQuestion(
            id=f"feedback-{digest}",
            question=question,
            answerable=None,
            tags=["feedback"],
            feedback={
                "answer": row.get("answer") or "",
                "comment": comment,
                "created_at": created,
                "citations": [_citation_note(c) for c in row.get("citations") or []],
            },
        )
        lines.append(item.model_dump_json(exclude_defaults=True))
    return lines


def _citation_note(citation: Any) -> dict[str, Any]:
    if isinstance(citation, BaseModel):
        citation = citation.model_dump()
    if not isinstance(citation, Mapping):
        return {"text": str(citation)}
    keys = ("n", "document_id", "title", "page", "article", "section", "url")
    return {key: citation[key] for key in keys if citation.get(key) is not None}


class SquadDocument(BaseModel):
    """One context of a SQuAD-style file, to be indexed as a document."""

    id: str
    title: str
    text: str

    @property
    def file_name(self) -> str:
        return f"{self.id}.txt"


class SquadQuestion(BaseModel):
    id: str
    question: str
    context_id: str
    answers: list[str] = Field(default_factory=list)


class SquadSet(BaseModel):
    """Contexts and questions of a benchmark, for retrieval-only runs."""

    name: str
    documents: list[SquadDocument]
    questions: list[SquadQuestion]

    def write_corpus(self, folder: Path) -> list[Path]:
        """Write each context as `<id>.txt` (title as a Markdown heading) for the ingest step."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for document in self.documents:
            path = folder / document.file_name
            path.write_text(f"# {document.title}\n\n{document.text}\n", encoding="utf-8")
            paths.append(path)
        return paths

    def as_questions(self) -> list[EvalQuestion]:
        """The questions in the eval format; the gold source is the written context file."""
        return [
            EvalQuestion(
                id=q.id,
                question=q.question,
                answerable=True,
                tags=["squad"],
                reference_answer=q.answers[0] if q.answers else None,
                expected_sources=[ExpectedSource(document_id=f"{q.context_id}.txt")],
            )
            for q in self.questions
        ]


def load_squad(path: Path | str, limit: int | None = None) -> SquadSet:
    """Read a SQuAD-style file (PIAF, service-public.fr, CNIL) or a list of
    `[doc_id, question, text]` triplets; `limit` caps the questions, not the documents.

    Identical contexts become one document, so the gold id is unambiguous.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path} : lecture impossible ({exc})") from exc
    prefix = "".join(c if c.isalnum() else "-" for c in path.stem.lower()).strip("-")
    by_text: dict[str, SquadDocument] = {}
    questions: list[SquadQuestion] = []

    def context_id(title: str, text: str) -> str:
        if text not in by_text:
            by_text[text] = SquadDocument(id=f"{prefix}-{len(by_text):05d}", title=title, text=text)
        return by_text[text].id

    if isinstance(raw, list):
        for number, item in enumerate(raw):
            doc_id, question, text = item[0], item[1], item[2]
            cid = context_id(str(doc_id), text)
            questions.append(
                SquadQuestion(id=f"{prefix}-q{number:05d}", question=question, context_id=cid)
            )
    elif isinstance(raw, dict) and isinstance(raw.get("data"), list):
        for article in raw["data"]:
            title = str(article.get("title") or "")
            for paragraph in article.get("paragraphs", []):
                cid = context_id(title, paragraph["context"])
                for qa in paragraph.get("qas", []):
                    if qa.get("is_impossible"):
                        continue
                    qid = str(qa.get("id") or f"{prefix}-q{len(questions):05d}")
                    answers = [a["text"] for a in qa.get("answers", []) if a.get("text")]
                    questions.append(
                        SquadQuestion(
                            id=qid, question=qa["question"], context_id=cid, answers=answers
                        )
                    )
    else:
        raise DatasetError(f"{path} : ni format SQuAD (clé 'data') ni liste de triplets")
    if limit is not None:
        questions = questions[:limit]
    return SquadSet(name=path.stem, documents=list(by_text.values()), questions=questions)
