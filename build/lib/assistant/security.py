"""Limits and headers on by default: body size, admin key, CSP, widget origins."""

import hmac
import json

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import AssistantError


class Unauthorized(AssistantError):
    status_code = 401


class Forbidden(AssistantError):
    status_code = 403


def check_admin_key(request: Request) -> None:
    """Admin routes need `X-API-Key: <IREV_ADMIN_API_KEY>` (or `Authorization: Bearer <key>`)."""
    expected = request.app.state.admin_api_key
    if not expected:
        raise Forbidden("Administration désactivée : définissez IREV_ADMIN_API_KEY sur le serveur.")
    given = request.headers.get("x-api-key", "")
    bearer = request.headers.get("authorization", "")
    if not given and bearer.lower().startswith("bearer "):
        given = bearer[7:].strip()
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("Clé d'administration absente ou invalide.")


def _json(status: int, detail: str) -> tuple[dict, bytes]:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json; charset=utf-8"),
                         (b"content-length", str(len(body)).encode())]}
    return start, body


class BodySizeLimit:
    """Refuse bodies over `max_bytes` (413) before reading them; uploads get `upload_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int,
                 upload_paths: tuple[str, ...] = ("/api/documents",)):
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_bytes if scope["path"] in self.upload_paths else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await self._refuse(send, limit)
            else:  # the server holds the client to its Content-Length
                await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read the body up to the limit before the app sees it. An
        # exception raised from `receive` would reach FastAPI's body parser, which answers 400.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await self._refuse(send, limit)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        start, body = _json(413, f"Requête trop volumineuse (limite : {limit // 1000} ko).")
        await send(start)
        await send({"type": "http.response.body", "body": body})


PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors {ancestors}")


class SecurityHeaders:
    """A strict CSP everywhere; the embed page may be framed only by allow-listed origins."""

    def __init__(self, app: ASGIApp, widget_origins: list[str]):
        self.app = app
        self.embed_ancestors = " ".join(["'self'", *widget_origins])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        ancestors = self.embed_ancestors if path.startswith("/embed") else "'none'"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"content-security-policy"]
                # /docs loads Swagger UI's own assets; source files open in the browser's viewer
                # (served as PDF or text/plain, never as HTML).
                if not path.startswith(("/docs", "/redoc")) and not path.endswith("/file"):
                    csp = PAGE_CSP.format(ancestors=ancestors)
                    headers.append((b"content-security-policy", csp.encode()))
                headers += [(b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"strict-origin-when-cross-origin")]
                if ancestors == "'none'":
                    headers.append((b"x-frame-options", b"DENY"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
