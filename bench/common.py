"""Shared helpers of the bench/ scripts: paths, the model, the plain llama-index baseline, a
query-embedding cache, a threaded uvicorn server, percentiles and rich output."""

from __future__ import annotations

import json
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
# Before any import of transformers: nothing may be downloaded at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if str(ROOT) not in sys.path:  # the scripts run as `python bench/x.py`
    sys.path.insert(0, str(ROOT))

from llama_index.core.base.embeddings.base import BaseEmbedding  # noqa: E402
from llama_index.core.readers.base import BaseReader  # noqa: E402
from llama_index.core.schema import Document  # noqa: E402
from pydantic import PrivateAttr  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

DEFAULT_MODELS_DIR = Path("/tmp/bench-models")
CHUNK_SIZE, CHUNK_OVERLAP = 300, 40  # Settings' defaults, used by both pipelines
# Wide tables when the output is a file or a pipe (rich would assume 80 columns).
console = Console() if sys.stdout.isatty() else Console(width=160)


def load_model(models_dir: Path):
    """The bundled default embedder (converted into `models_dir` on first use)."""
    from ingest.e5_bundle import DEFAULT_MODEL_NAME
    from ingest.embedding import load_embedder

    return load_embedder(DEFAULT_MODEL_NAME, models_dir)


def check_index_model(index_dir: Path) -> None:
    """Stop, with the command that fixes it, when `index_dir` was built with another embedder
    than `load_model`'s (its questions would be embedded unlike its passages)."""
    from ingest.embedding import model_identity
    from ingest.index import read_meta

    built = read_meta(index_dir).get("embed_model_id")
    wanted = model_identity(model_name())
    if built != wanted:
        raise SystemExit(f"{index_dir} was built with {built}, not {wanted}: re-ingest it "
                         "(`irev ingest …`, or `python -m eval.training` for data/training).")


def model_name() -> str:
    from ingest.e5_bundle import DEFAULT_MODEL_NAME

    return DEFAULT_MODEL_NAME


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the plain llama-index baseline ---------------------------------------------------------

class PdfPageReader(BaseReader):
    """One Document per PDF page, as llama-index-readers-file's `PDFReader` does (pypdf text,
    `page_label`). That package is not a dependency here; without a PDF reader,
    SimpleDirectoryReader would index the PDF's raw bytes as text."""

    def load_data(self, file: Path, extra_info: dict | None = None, **_: Any) -> list[Document]:
        from pypdf import PdfReader

        reader = PdfReader(str(file))
        return [
            Document(text=page.extract_text() or "",
                     metadata={"page_label": reader.page_labels[i], "file_name": file.name,
                               **(extra_info or {})})
            for i, page in enumerate(reader.pages)
        ]


def baseline_documents(folders: list[Path]) -> list[Document]:
    """`SimpleDirectoryReader(folder, recursive=True)` over each folder, in order."""
    from llama_index.core import SimpleDirectoryReader

    documents: list[Document] = []
    for folder in folders:
        reader = SimpleDirectoryReader(str(folder), recursive=True,
                                       file_extractor={".pdf": PdfPageReader()})
        documents += reader.load_data()
    return documents


def baseline_index(documents: list[Document], embed_model: BaseEmbedding,
                   chunk_size: int = CHUNK_SIZE, chunk_overlap: int = CHUNK_OVERLAP):
    """SentenceSplitter + VectorStoreIndex, embed_model passed explicitly (never Settings)."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    nodes = splitter.get_nodes_from_documents(documents)
    return VectorStoreIndex(nodes, embed_model=embed_model), nodes


def no_text_engine(retriever):
    """`RetrieverQueryEngine` with the `no_text` synthesizer: retrieval only, no LLM call.

    Built directly: `get_response_synthesizer(response_mode="no_text", llm=...)` drops `llm` and
    falls back to the global (OpenAI) default (llama-index-core 0.14). The MockLLM is never
    called."""
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.response_synthesizers.no_text import NoText

    return RetrieverQueryEngine(retriever=retriever, response_synthesizer=NoText(llm=MockLLM()))


class CachedQueries(BaseEmbedding):
    """Delegates to a real embedder, computing each distinct query vector once: the quality
    bench asks the same question to five retrievers."""

    _inner: BaseEmbedding = PrivateAttr()
    _cache: dict[str, list[float]] = PrivateAttr(default_factory=dict)

    def __init__(self, inner: BaseEmbedding):
        super().__init__(model_name=inner.model_name, embed_batch_size=inner.embed_batch_size)
        self._inner = inner

    def _get_query_embedding(self, query: str) -> list[float]:
        if query not in self._cache:
            self._cache[query] = self._inner.get_query_embedding(query)
        return self._cache[query]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._inner.get_text_embedding(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._inner.get_text_embedding_batch(texts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """uvicorn serving `app` in a thread, on a free loopback port."""

    def __init__(self, app: Any):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


# -- numbers and output ---------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def ratio(ours: float | None, base: float | None) -> str:
    return f"{ours / base:.2f}×" if ours is not None and base else "–"


def machine_note() -> str:
    load = os.getloadavg()
    return (f"{time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} CPUs · load average "
            f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (other jobs share this machine: compare "
            "ratios within one run, not absolute numbers across runs)")


def make_table(title: str, columns: list[str], caption: str | None = None) -> Table:
    table = Table(title=title, caption=caption, caption_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return table


def save_json(path: Path | None, payload: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        console.print(f"[dim]saved {path}[/dim]")
