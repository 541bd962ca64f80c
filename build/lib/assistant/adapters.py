"""Thin adapters from the answer pipeline's events (`assistant.events`) to the wire formats:
Server-Sent Events for the web page and widget, and OpenAI chat completions (whole or streamed).
Each reads the same sequence and keeps nothing of its own, so all consumers see the same answer."""

import json
from collections.abc import AsyncIterator

from pydantic import BaseModel, Field

from assistant.events import Done, Event, Reset, Sources, TextDelta
from assistant.schema import Answer

# -- Server-Sent Events ------------------------------------------------------------------------


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


# -- OpenAI chat completions -------------------------------------------------------------------

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


MODEL = "irev-assistant"


def message_text(message: OpenAIMessage) -> str:
    if isinstance(message.content, list):  # [{"type": "text", "text": ...}]
        return " ".join(p.text for p in message.content if p.text)
    return message.content or ""


def with_sources(answer: Answer) -> str:
    """Citations also travel in the text, so clients that ignore extra fields still show them."""
    items = answer.citations if answer.grounded else []
    lines = [f"[{c.n}] {c.title}" + (f", {c.location or f'page {c.page}'}" if c.page else "")
             + (f", {c.section}" if c.section else "") for c in items]
    return answer.answer + ("\n\nSources :\n" + "\n".join(lines) if lines else "")


async def completion(events: AsyncIterator[Event], ident: str, created: int) -> dict:
    """The whole `chat.completion` object, from the final answer."""
    answer = None
    async for event in events:
        if isinstance(event, Done):
            answer = event.answer
    if answer is None:
        raise RuntimeError("the answer pipeline ended without a Done event")
    return {
        "id": ident, "object": "chat.completion", "created": created, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": with_sources(answer)}}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": [c.model_dump() for c in answer.citations],
        "grounded": answer.grounded,
    }


async def completion_chunks(events: AsyncIterator[Event], ident: str,
                            created: int) -> AsyncIterator[str]:
    """`chat.completion.chunk` data lines, then `[DONE]`. Text deltas are checked sentences
    (see `assistant.events`): what is sent is never taken back, and after a `Reset` (LLM failure
    before any text) the fallback's deltas follow. The concatenated content equals the
    non-streamed message; citations and `grounded` ride on the last chunk."""

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        return json.dumps({"id": ident, "object": "chat.completion.chunk", "created": created,
                           "model": MODEL, "choices": [{"index": 0, "delta": delta,
                                                        "finish_reason": finish}], **extra},
                          ensure_ascii=False)

    yield chunk({"role": "assistant", "content": ""})
    async for event in events:
        if isinstance(event, TextDelta):
            yield chunk({"content": event.text})
        elif isinstance(event, Done):
            answer = event.answer
            sources = with_sources(answer)[len(answer.answer):]
            if sources:
                yield chunk({"content": sources})
            yield chunk({}, "stop", citations=[c.model_dump() for c in answer.citations],
                        grounded=answer.grounded)
    yield "[DONE]"
