"""HTTP routes. Nothing here raises HTTPException: domain errors map to statuses in api.py."""

import json
import time
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi import Path as FastAPIPath
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import iterate_in_threadpool

from assistant.admin import DocumentAdmin, summarize
from assistant.answer import Assistant
from assistant.errors import DocumentNotFound, InvalidInput
from assistant.events import Done, Event, Reset, Sources, TextDelta
from assistant.schema import Answer, ChatRequest, FeedbackRequest
from assistant.security import check_admin_key

router = APIRouter()
PUBLIC_FIELDS = ("document_id", "title", "type", "published", "publisher", "url", "file_name",
                 "pages", "chunks")


def get_assistant(request: Request) -> Assistant:
    assistant = request.app.state.assistant
    assistant.index.reload_in_background()  # a new build from `irev ingest`, no downtime
    return assistant


def get_admin(request: Request) -> DocumentAdmin:
    return request.app.state.admin


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
AdminDep = Annotated[DocumentAdmin, Depends(get_admin)]


def _question(request: Request, text: str) -> str:
    text = text.strip()
    limit = request.app.state.max_question_chars
    if not text:
        raise InvalidInput("La question est vide.")
    if len(text) > limit:
        raise InvalidInput(f"Question trop longue ({len(text)} caractères, maximum {limit}).")
    return text


@router.post("/api/chat", tags=["chat"])
def chat(body: ChatRequest, request: Request, assistant: AssistantDep) -> Answer:
    """Réponse complète, avec citations vérifiées."""
    return assistant.ask(_question(request, body.question), body.conversation_id)


@router.post("/api/chat/stream", tags=["chat"])
async def chat_stream(body: ChatRequest, request: Request, assistant: AssistantDep):
    """Server-Sent Events : `citations` (passages candidats) avant le premier `token`, puis
    `token`…, éventuellement `reset` (bascule vers la réponse extractive), enfin `done`
    (la réponse complète et vérifiée, au format de /api/chat)."""
    question = _question(request, body.question)
    assistant.index.current  # noqa: B018 - raise IndexNotReady (503) before the stream starts

    async def events():
        async for event in iterate_in_threadpool(assistant.stream(question, body.conversation_id)):
            yield sse_event(event)

    return EventSourceResponse(events(), ping=15)


def sse_event(event: Event) -> dict:
    """`citations`, `token`, `reset`, `done`: the SSE names of the pipeline's events."""
    match event:
        case Sources(citations=citations):
            data = json.dumps([c.model_dump() for c in citations], ensure_ascii=False)
            return {"event": "citations", "data": data}
        case TextDelta(text=text):
            return {"event": "token", "data": json.dumps(text, ensure_ascii=False)}
        case Reset(notice=notice):
            return {"event": "reset", "data": json.dumps(notice, ensure_ascii=False)}
        case Done(answer=answer):
            return {"event": "done", "data": answer.model_dump_json()}
    raise TypeError(f"unknown event {event!r}")


@router.get("/api/search", tags=["chat"])
def search(assistant: AssistantDep, q: Annotated[str, Query(min_length=1, max_length=1000)],
           k: Annotated[int, Query(ge=1, le=50)] = 5) -> dict:
    """Passages les plus pertinents (recherche hybride), sans réponse."""
    if not q.strip():
        raise InvalidInput("La recherche est vide.")
    hits = assistant.search(q.strip(), k)
    return {"query": q, "results": [h.model_dump() for h in hits]}


@router.get("/api/conversations/{conversation_id}", tags=["chat"])
def conversation(conversation_id: Annotated[str, FastAPIPath(max_length=64,
                                                              pattern=r"^[A-Za-z0-9_-]+$")],
                 assistant: AssistantDep) -> dict:
    """L'historique d'une conversation (pour la restaurer après rechargement de la page)."""
    rows = assistant.store.messages(conversation_id)
    return {"conversation_id": conversation_id, "messages": [
        {"id": r["id"], "question": r["question"], "answer": r["answer"],
         "citations": r["citations"], "grounded": bool(r["grounded"])} for r in rows
    ]}


@router.post("/api/feedback", status_code=201, tags=["chat"])
def feedback(body: FeedbackRequest, assistant: AssistantDep) -> dict:
    """Pouce levé (+1) ou baissé (-1) sur une réponse, avec un commentaire facultatif."""
    if body.rating == 0:
        raise InvalidInput("La note doit valoir +1 ou -1.")
    return {"id": assistant.store.add_feedback(**body.model_dump())}


@router.get("/api/documents", tags=["documents"])
def documents(assistant: AssistantDep) -> dict:
    docs = assistant.index.current.documents
    return {"documents": [{k: d.get(k) for k in PUBLIC_FIELDS} for d in docs.values()]}


@router.get("/api/documents/{document_id}", tags=["documents"])
def document(document_id: str, assistant: AssistantDep) -> dict:
    record = _record(assistant, document_id)
    sections = [n.metadata.get("section") for n in assistant.index.current.nodes.values()
                if n.metadata["document_id"] == document_id]
    return {**{k: record.get(k) for k in PUBLIC_FIELDS},
            "sections": [s for s in dict.fromkeys(sections) if s]}


@router.get("/api/documents/{document_id}/file", tags=["documents"])
def document_file(document_id: str, assistant: AssistantDep) -> FileResponse:
    """Le fichier source (les PDF s'ouvrent à la page citée avec `#page=N`)."""
    record = _record(assistant, document_id)
    path = Path(record.get("source_path", ""))
    if not path.is_file():
        raise DocumentNotFound("Le fichier source n'est plus disponible sur le serveur.")
    pdf = path.suffix.lower() == ".pdf"
    # Never served as HTML: a source page could carry scripts.
    media = "application/pdf" if pdf else "text/plain; charset=utf-8"
    return FileResponse(path, media_type=media, filename=path.name,
                        content_disposition_type="inline")


def _record(assistant: Assistant, document_id: str) -> dict:
    record = assistant.index.current.documents.get(document_id)
    if record is None:
        raise DocumentNotFound(f"Document inconnu : {document_id}")
    return record


# -- admin -----------------------------------------------------------------------------------

admin_router = APIRouter(tags=["administration"])
AdminOnly = [Depends(check_admin_key)]


@admin_router.post("/api/documents", status_code=201, dependencies=AdminOnly)
def upload(admin: AdminDep, file: Annotated[UploadFile, File()]) -> dict:
    """Ajoute un document (PDF, HTML, Markdown, texte) et l'indexe. Clé d'administration requise."""
    report = admin.upload(file.filename or "", file.file.read())
    if report.skipped:
        raise InvalidInput(f"Document refusé : {report.skipped[0][1]}.")
    return summarize(report)


@admin_router.delete("/api/documents/{document_id}", dependencies=AdminOnly)
def delete(document_id: str, admin: AdminDep) -> dict:
    return summarize(admin.delete(document_id))


@admin_router.post("/api/reindex", dependencies=AdminOnly)
def reindex(admin: AdminDep) -> dict:
    return summarize(admin.reindex())


# -- OpenAI-compatible -----------------------------------------------------------------------

class OpenAIContentPart(BaseModel):
    type: str = "text"
    text: str | None = None  # image and audio parts carry no text: ignored


class OpenAIMessage(BaseModel):
    role: str = Field(pattern="^(system|user|assistant|tool|developer)$")
    content: str | list[OpenAIContentPart] | None = None


class OpenAIChatRequest(BaseModel):
    model: str | None = None
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=50)
    stream: bool = False
    user: str | None = Field(default=None, max_length=64)


def _text(message: OpenAIMessage) -> str:
    if isinstance(message.content, list):  # [{"type": "text", "text": ...}]
        return " ".join(p.text for p in message.content if p.text)
    return message.content or ""


def _with_sources(answer: Answer) -> str:
    """Citations also travel in the text, so clients that ignore extra fields still show them."""
    items = answer.citations if answer.grounded else []
    lines = [f"[{c.n}] {c.title}" + (f", page {c.page}" if c.page else "")
             + (f", {c.section}" if c.section else "") for c in items]
    return answer.answer + ("\n\nSources :\n" + "\n".join(lines) if lines else "")


@router.post("/v1/chat/completions", tags=["openai"])
async def openai_chat(body: OpenAIChatRequest, request: Request, assistant: AssistantDep):
    """Compatible OpenAI. Champs supplémentaires : `citations` et `grounded` (réponse complète ;
    dans le flux, sur le dernier fragment). Les sources sont aussi ajoutées au texte."""
    users = [_text(m) for m in body.messages if m.role == "user"]
    if not users:
        raise InvalidInput("Aucun message utilisateur.")
    question = _question(request, users[-1])
    history = users[:-1]
    created, ident = int(time.time()), f"chatcmpl-{uuid.uuid4().hex}"
    model = "irev-assistant"
    run = iterate_in_threadpool(assistant.stream(question, None, history=history))
    if not body.stream:
        answer = None
        async for event in run:
            if isinstance(event, Done):
                answer = event.answer
        return JSONResponse({
            "id": ident, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": _with_sources(answer)}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": [c.model_dump() for c in answer.citations],
            "grounded": answer.grounded,
        })

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        return json.dumps({"id": ident, "object": "chat.completion.chunk", "created": created,
                           "model": model, "choices": [{"index": 0, "delta": delta,
                                                        "finish_reason": finish}], **extra},
                          ensure_ascii=False)

    async def events():
        yield {"data": chunk({"role": "assistant", "content": ""})}
        # Text deltas are checked sentences (see assistant.events): what is sent is never taken
        # back, and after a Reset (LLM failure before any text) the fallback's deltas follow.
        async for event in run:
            if isinstance(event, TextDelta):
                yield {"data": chunk({"content": event.text})}
            elif isinstance(event, Done):
                answer = event.answer
                sources = _with_sources(answer)[len(answer.answer):]
                if sources:
                    yield {"data": chunk({"content": sources})}
                yield {"data": chunk({}, "stop", citations=[c.model_dump() for c in
                                                            answer.citations],
                                     grounded=answer.grounded)}
        yield {"data": "[DONE]"}

    return EventSourceResponse(events())
