"""What eval talks to: the in-process `Assistant` or the HTTP API, behind one small protocol."""

from collections.abc import Mapping
from typing import Any, Protocol

import httpx
from pydantic import BaseModel


class AssistantLike(Protocol):
    """The two calls the API makes; `assistant.answer.Assistant` satisfies it."""

    def search(self, query: str, k: int) -> list[Any]: ...

    def ask(self, question: str, conversation_id: str | None = None) -> Any: ...


class HttpAssistant:
    """The same two calls over HTTP: GET /api/search and POST /api/chat.

    >>> HttpAssistant("http://127.0.0.1:8000").ask("Qu'est-ce qu'un conseil citoyen ?")
    """

    def __init__(
        self, base_url: str, timeout: float = 120.0, client: httpx.Client | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(base_url=self.base_url, timeout=timeout)

    def search(self, query: str, k: int) -> list[dict[str, Any]]:
        response = self._client.get("/api/search", params={"q": query, "k": k})
        response.raise_for_status()
        return list(response.json()["results"])

    def ask(self, question: str, conversation_id: str | None = None) -> dict[str, Any]:
        response = self._client.post(
            "/api/chat", json={"question": question, "conversation_id": conversation_id}
        )
        response.raise_for_status()
        return dict(response.json())

    def health(self) -> dict[str, Any] | None:
        """What /readyz says of the server (index, documents, chunks); None if not ready."""
        try:
            response = self._client.get("/readyz")
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        return body if isinstance(body, dict) else None


def connect(target: "AssistantLike | str") -> AssistantLike:
    """A URL becomes an `HttpAssistant`; an assistant object is used as it is."""
    if isinstance(target, str):
        if not target.startswith(("http://", "https://")):
            raise ValueError(f"URL attendue (http:// ou https://), reçu {target!r}")
        return HttpAssistant(target)
    return target


def as_dict(item: Any) -> dict[str, Any]:
    """A pydantic model, a mapping or a plain object, as a JSON-ready dict."""
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json")
    if isinstance(item, Mapping):
        return dict(item)
    return dict(vars(item))
