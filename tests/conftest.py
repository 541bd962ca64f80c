"""Session fixtures: the real embedding model, a real index built by the real pipeline, the real
app (TestClient with lifespan) and a real uvicorn server on loopback."""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = Path(__file__).parent / "data"
LAMY_MD = SHARED / "corpus/legal/01_loi-2014-173-lamy-programmation-ville-cohesion-urbaine.md"
DECREE_QPV_MD = SHARED / "corpus/legal/03_decret-2014-767-qpv-criteres-metropole.md"
CGCT_MD = SHARED / "corpus/legal/11_codes-CGCT-politique-de-la-ville.md"
DECREE_CNV_PDF = SHARED / "corpus/pdf/05_decret-2015-77-CNV-CIV-ONPV-instances-politique-ville.pdf"
LAMY_PDF = SHARED / "corpus/pdf/01_loi-2014-173-lamy-programmation-ville-cohesion-urbaine.pdf"
# What the shared test index holds: the bundled corpus, three official texts (one as PDF, for
# page numbers), and the test documents (HTML, text, a document carrying HTML/JS payloads).
TEST_SOURCES = [ROOT / "corpus", LAMY_MD, DECREE_QPV_MD, CGCT_MD, DECREE_CNV_PDF, DATA]
ADMIN_KEY = "cle-admin-de-test"
WIDGET_ORIGIN = "http://127.0.0.2:{port}"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(models_dir):
    from ingest.e5_bundle import DEFAULT_MODEL_NAME
    from ingest.embedding import load_embedder

    return load_embedder(DEFAULT_MODEL_NAME, models_dir)


@pytest.fixture(scope="session")
def built_data_dir(tmp_path_factory, embedder, models_dir) -> Path:
    """A data dir whose index was built by the real pipeline from TEST_SOURCES."""
    from ingest.e5_bundle import DEFAULT_MODEL_NAME
    from ingest.pipeline import run

    data_dir = tmp_path_factory.mktemp("data")
    (data_dir / "models").symlink_to(models_dir)
    report = run(TEST_SOURCES, data_dir / "index", embedder, model_name=DEFAULT_MODEL_NAME)
    assert report.indexed and not report.skipped, report
    return data_dir


def clone_data_dir(source: Path, target: Path) -> Path:
    """A private copy of a data dir (for tests that change the index); the model is shared."""
    shutil.copytree(source, target, symlinks=True)
    return target


def make_settings(data_dir: Path, **overrides):
    from assistant.settings import Settings

    values = {"data_dir": data_dir, "admin_api_key": ADMIN_KEY, "rate_limit": "10000/minute",
              "corpus_dir": ROOT / "corpus", **overrides}
    return Settings(_env_file=None, **values)


def make_assistant(settings, embedder, llm=None):
    """An Assistant of its own on `settings`' index and database (not the session's)."""
    from assistant.answer import build_assistant
    from assistant.store import Store

    return build_assistant(settings.index_dir, embedder, Store(settings.resolved_database_url),
                           llm=llm)


@pytest.fixture(scope="session")
def settings(built_data_dir):
    return make_settings(built_data_dir)


@pytest.fixture(scope="session")
def assistant(settings, embedder):
    from assistant.answer import build_assistant
    from assistant.store import Store

    return build_assistant(settings.index_dir, embedder, Store(settings.resolved_database_url),
                           top_k=settings.top_k, fusion=settings.fusion, rrf_k=settings.rrf_k)


@pytest.fixture
def client(settings, assistant):
    from fastapi.testclient import TestClient

    from assistant.api import create_app

    with TestClient(create_app(settings, assistant)) as test_client:
        yield test_client


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LiveServer:
    """uvicorn serving `app` in a thread, on loopback."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None):
        import uvicorn

        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(uvicorn.Config(app, host=self.host, port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def fake_llm():
    """The OpenAI-compatible fake LLM (tests/fake_llm.py), served over real HTTP."""
    from fake_llm import FakeLLM

    fake = FakeLLM()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


@pytest.fixture(scope="session")
def widget_host_port() -> int:
    return free_port("127.0.0.2")


@pytest.fixture(scope="session")
def live_server(built_data_dir, assistant, widget_host_port):
    """The real app on a real uvicorn; the widget may be embedded from 127.0.0.2:<port>."""
    from assistant.api import create_app

    settings = make_settings(built_data_dir,
                             widget_origins=[WIDGET_ORIGIN.format(port=widget_host_port)])
    with LiveServer(create_app(settings, assistant)) as server:
        yield server
