"""Types shared by the API, the CLI and eval."""

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    """A retrieved passage and where it comes from."""

    node_id: str
    document_id: str
    title: str
    type: str
    published: str | None = None
    page: int | None = None
    page_end: int | None = None
    page_unit: str = Field(default="page", description="« page » (PDF) ou « diapositive ».")
    # Where the page changes inside `text`: [offset, page] pairs (internal, not serialised).
    page_breaks: list[tuple[int, int]] | None = Field(default=None, exclude=True)
    section: str | None = None
    article: str | None = None
    url: str | None = None
    text: str
    score: float = Field(description="Score fusionné (RRF) ; plus haut = plus pertinent.")
    dense_score: float | None = Field(default=None, description="Similarité cosinus.")
    lexical_score: float | None = Field(default=None, description="Score BM25.")


class Citation(BaseModel):
    n: int
    document_id: str
    title: str
    type: str
    published: str | None = None
    page: int | None = Field(default=None,
                             description="Page (ou diapositive) de la phrase citée.")
    location: str | None = Field(default=None, description="« page 5 », « diapositive 3 ».")
    section: str | None = None
    article: str | None = None
    url: str | None = None
    text: str
    score: float


class Answer(BaseModel):
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    conversation_id: str = ""
    message_id: int | None = Field(default=None,
                                   description="Identifiant du message (pour /api/feedback).")
    grounded: bool = False
    suggestions: list[Citation] = Field(
        default_factory=list,
        description="Documents proches proposés quand la réponse n'a pas été trouvée "
                    "(ce ne sont pas des sources de la réponse).",
    )
    standalone_question: str | None = Field(
        default=None, description="La question réécrite à partir de la conversation.")
    mode: str = Field(default="extractive", description="extractive | llm | llm_fallback")
    notice: str | None = None

    def render(self) -> str:
        """Plain-text rendering for the terminal."""
        lines = [self.answer, ""]
        label = "Sources" if self.grounded else "Documents proches (suggestions)"
        items = self.citations if self.grounded else self.suggestions
        if items:
            lines.append(f"{label} :")
        for c in items:
            where = ", ".join(filter(None, [
                f"page {c.page}" if c.page else None, c.section]))
            lines.append(f"  [{c.n}] {c.title}" + (f" — {where}" if where else "")
                         + (f"\n      {c.url}" if c.url else ""))
        if self.notice:
            lines += ["", self.notice]
        return "\n".join(lines)


class ChatRequest(BaseModel):
    question: str = Field(min_length=1, description="La question, en français.")
    conversation_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class FeedbackRequest(BaseModel):
    conversation_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    message_id: int | None = Field(default=None, ge=1, le=2**63 - 1)  # a SQLite INTEGER
    question: str = Field(default="", max_length=2000)
    answer: str = Field(default="", max_length=20000)
    rating: int = Field(description="+1 (pouce levé) ou -1 (pouce baissé)", ge=-1, le=1)
    comment: str = Field(default="", max_length=2000)
