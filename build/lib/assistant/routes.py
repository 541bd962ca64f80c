"""HTTP routes. Nothing here raises HTTPException: domain errors map to statuses in api.py."""

import time
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi import Path as FastAPIPath
from fastapi.responses import FileResponse, JSONResponse
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import iterate_in_threadpool

from assistant.adapters import (
    OpenAIChatRequest,
    completion,
    completion_chunks,
    message_text,
    sse_event,
)
from assistant.admin import DocumentAdmin, summarize
from assistant.answer import Assistant
from assistant.errors import DocumentNotFound, InvalidInput
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

@router.post("/v1/chat/completions", tags=["openai"])
async def openai_chat(body: OpenAIChatRequest, request: Request, assistant: AssistantDep):
    """Compatible OpenAI. Champs supplémentaires : `citations` et `grounded` (réponse complète ;
    dans le flux, sur le dernier fragment). Les sources sont aussi ajoutées au texte."""
    users = [message_text(m) for m in body.messages if m.role == "user"]
    if not users:
        raise InvalidInput("Aucun message utilisateur.")
    question = _question(request, users[-1])
    events = iterate_in_threadpool(assistant.stream(question, None, history=users[:-1]))
    created, ident = int(time.time()), f"chatcmpl-{uuid.uuid4().hex}"
    if not body.stream:
        return JSONResponse(await completion(events, ident, created))
    return EventSourceResponse({"data": line}
                               async for line in completion_chunks(events, ident, created))
