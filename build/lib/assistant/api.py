"""The app factory: the only place (with the CLI) that reads Settings."""

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlparse

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.middleware import SlowAPIMiddleware
from slowapi.util import get_remote_address
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.admin import DocumentAdmin, IngestOptions
from assistant.answer import Assistant
from assistant.errors import AssistantError
from assistant.routes import admin_router, router
from assistant.security import BodySizeLimit, SecurityHeaders
from assistant.settings import Settings
from ingest.index import IndexBusy, IndexFailure

logger = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent / "web"

STATUS_MESSAGES = {
    400: "Requête invalide.",
    401: "Authentification requise.",
    403: "Accès refusé.",
    404: "Ressource introuvable.",
    405: "Méthode non autorisée.",
    406: "Format de réponse non disponible.",
    413: "Requête trop volumineuse.",
    415: "Type de contenu non pris en charge.",
    422: "Requête invalide.",
    429: "Trop de requêtes : réessayez dans un moment.",
}


def create_app(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.assistant = assistant or Assistant.from_settings(settings)
        app.state.admin = DocumentAdmin(
            app.state.assistant.index, settings.data_dir / "uploads",
            IngestOptions(settings.embed_model, settings.chunk_size, settings.chunk_overlap,
                          int(settings.max_file_mb * 1e6)),
        )
        yield

    app = FastAPI(title="Assistant documentaire — politique de la ville", version="0.1.0",
                  lifespan=lifespan,
                  description="Réponses sourcées à partir des documents de l'IREV et des textes "
                              "officiels. Chaque réponse cite ses passages [n].")
    app.state.admin_api_key = (settings.admin_api_key.get_secret_value()
                               if settings.admin_api_key else None)
    app.state.max_question_chars = settings.max_question_chars
    app.state.widget_origins = settings.widget_origins

    limiter = Limiter(key_func=get_remote_address, default_limits=[settings.rate_limit],
                      headers_enabled=True)
    app.state.limiter = limiter
    _exempt = ["healthz", "readyz", "index", "embed", "widget"]
    app.add_middleware(SlowAPIMiddleware)
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                       allow_methods=["GET", "POST"], allow_headers=["content-type"])
    app.add_middleware(SecurityHeaders, widget_origins=settings.widget_origins)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes,
                       upload_bytes=int(settings.max_upload_mb * 1e6))

    app.add_exception_handler(AssistantError, _assistant_error)
    app.add_exception_handler(IndexFailure, _index_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RateLimitExceeded, _rate_limited)
    app.add_exception_handler(Exception, _unexpected)

    # Routes are added one by one, not with include_router: FastAPI >= 0.16x nests included
    # routers, and slowapi's middleware then cannot see (nor limit) their routes.
    app.router.routes.extend([*router.routes, *admin_router.routes])
    _add_health(app)
    _add_web(app)
    for route in app.routes:
        if getattr(route, "name", "") in _exempt and hasattr(route, "endpoint"):
            limiter.exempt(route.endpoint)
    return app


def _add_health(app: FastAPI) -> None:
    @app.get("/healthz", tags=["santé"])
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["santé"])
    def readyz(request: Request) -> JSONResponse:
        assistant: Assistant = request.app.state.assistant
        if not assistant.index.ready:
            return JSONResponse({"status": "index absent",
                                 "detail": "Aucun index : lancez `irev ingest`."}, 503)
        index = assistant.index.current
        return JSONResponse({"status": "ready", "index": index.name,
                             "documents": len(index.documents), "chunks": len(index.nodes)})


def _add_web(app: FastAPI) -> None:
    if not WEB_DIR.is_dir():
        return
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html")

    @app.get("/embed", include_in_schema=False)
    def embed() -> FileResponse:
        return FileResponse(WEB_DIR / "embed.html")

    @app.get("/widget.js", include_in_schema=False)
    def widget(request: Request) -> Response:
        """Served to allow-listed sites only; elsewhere a script that explains why it stays off."""
        # A sandboxed page sends `Origin: null`: judge it by its Referer, as any other.
        origin = _origin(request.headers.get("origin")) or _origin(request.headers.get("referer"))
        host = str(request.base_url).rstrip("/")
        allowed = origin is None or origin == host or origin in request.app.state.widget_origins
        if not allowed:
            message = ("Assistant IREV : ce site n'est pas autorisé à intégrer le widget "
                       "(IREV_WIDGET_ORIGINS).")
            return Response(f"console.warn({message!r});", media_type="text/javascript")
        return FileResponse(WEB_DIR / "widget.js", media_type="text/javascript")


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}" if parsed.scheme and parsed.netloc else None


# -- errors: French messages, never a stack trace ------------------------------------------

def _json(status: int, detail: str, **extra) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


async def _assistant_error(_request: Request, exc: AssistantError) -> JSONResponse:
    return _json(exc.status_code, str(exc))


async def _index_error(_request: Request, exc: IndexFailure) -> JSONResponse:
    return _json(409 if isinstance(exc, IndexBusy) else 503, str(exc))


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "corps"
        problems.append(f"{where} : {_french(error.get('type', ''))}")
    return _json(422, "Requête invalide. " + " ; ".join(problems[:5]))


def _french(kind: str) -> str:
    return {
        "missing": "champ obligatoire manquant",
        "string_too_short": "texte trop court",
        "string_too_long": "texte trop long",
        "string_type": "texte attendu",
        "int_parsing": "nombre entier attendu",
        "int_type": "nombre entier attendu",
        "json_invalid": "JSON mal formé",
        "model_attributes_type": "objet JSON attendu",
        "dict_type": "objet JSON attendu",
        "string_pattern_mismatch": "format invalide",
        "greater_than_equal": "valeur trop petite",
        "less_than_equal": "valeur trop grande",
        "list_type": "liste attendue",
        "too_short": "liste trop courte",
        "too_long": "liste trop longue",
        "bool_parsing": "booléen attendu",
    }.get(kind, "valeur invalide")


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return _json(exc.status_code, STATUS_MESSAGES.get(exc.status_code, "Erreur."))


def _rate_limited(_request: Request, exc: RateLimitExceeded) -> JSONResponse:
    # sync on purpose: slowapi's middleware can only call a synchronous handler
    return _json(429, f"Trop de requêtes : limite de {exc.limit.limit} atteinte, "
                      "réessayez dans un moment.")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return _json(500, "Erreur interne du serveur. L'incident a été journalisé.")
