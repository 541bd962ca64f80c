"""A small OpenAI-compatible chat server for tests: the remote LLM is the only thing we fake.

It speaks the real protocol over HTTP (`POST /v1/chat/completions`, JSON or SSE with `data: [DONE]`)
and plays scripted replies, in order: `fake.enqueue("… [1].")`, modelled on llm's MockModel.
"""

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    text: str = ""
    delay: float = 0.0  # seconds before the first byte
    token_delay: float = 0.0  # seconds between streamed tokens
    status: int = 200
    garbage: bool = False  # a 200 whose body is not the protocol
    cut_after: int | None = None  # the connection drops after this many words (no [DONE])


class FakeLLM:
    def __init__(self):
        self.replies: deque[Reply] = deque()
        self.requests: list[dict] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])

    def enqueue(self, text: str = "", **options) -> None:
        self.replies.append(Reply(text=text, **options))

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        reply = self.replies.popleft() if self.replies else Reply("Réponse par défaut.")
        await asyncio.sleep(reply.delay)
        if reply.status != 200:
            return JSONResponse({"error": {"message": "panne simulée", "type": "server_error"}},
                                status_code=reply.status)
        if reply.garbage:
            return Response("<html>502 Bad Gateway</html>", media_type="text/html")
        ident, created = "chatcmpl-fake", int(time.time())
        if not body.get("stream"):
            return JSONResponse({
                "id": ident, "object": "chat.completion", "created": created,
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": reply.text}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })

        async def chunks():
            def chunk(delta: dict, finish: str | None = None) -> str:
                payload = {"id": ident, "object": "chat.completion.chunk", "created": created,
                           "model": body.get("model", "fake"),
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

            yield chunk({"role": "assistant", "content": ""})
            for i, word in enumerate(reply.text.split(" ")):
                if reply.cut_after is not None and i >= reply.cut_after:
                    raise ConnectionResetError("coupure simulée")  # uvicorn drops the socket
                await asyncio.sleep(reply.token_delay)
                yield chunk({"content": word + " "})
            yield chunk({}, "stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")
