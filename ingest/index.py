"""The on-disk hybrid index: FAISS through llama-index, plus a French bm25s index beside it.

Layout of `index_dir`:

    CURRENT                  name of the build being served (replaced atomically)
    builds/<name>/           one complete build: never modified once CURRENT points at it
        meta.json            embedder, chunking settings, documents (content hash, pages, chunks)
        storage/             llama-index StorageContext (docstore + FAISS IndexFlatIP)
        vectors.npy          the chunk vectors (the mean of their quotable sentences'), in
                             `bm25/node_ids.json` order (reused by incremental runs: FAISS has
                             no delete, so each run rebuilds it)
        bm25/                bm25s index
        sentences.json       the quotable sentences of all chunks (`answer_sentences`), and
        sentences.npy        their embeddings: the extractive answerer looks them up, not embeds
        COMPLETE             written last: a build without it is debris from a crash

A writer builds into a fresh folder and only then swaps CURRENT, so a crash or `kill -9` at any
point leaves the previous build loadable and complete.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ingest.sentence_tags import SentenceTags

if TYPE_CHECKING:  # llama-index and bm25s take 2-3 s to import: not for a run with nothing to do
    from llama_index.core.schema import TextNode


FORMAT_VERSION = 1


class IndexFailure(Exception):
    """Base for index failures; messages are French (they reach users)."""


class IndexNotBuilt(IndexFailure):
    pass


class IndexBusy(IndexFailure):
    pass


class IndexWriteError(IndexFailure):
    pass


@dataclass
class Snapshot:
    """Everything a build holds, in memory: what an incremental run starts from."""

    meta: dict = field(default_factory=dict)
    nodes: list[TextNode] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    sentences: dict[str, np.ndarray] = field(default_factory=dict)
    sentence_tags: dict[str, SentenceTags] = field(default_factory=dict)

    @property
    def documents(self) -> dict[str, dict]:
        return self.meta.get("documents", {})


def current_build(index_dir: Path) -> Path | None:
    try:
        name = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    build = index_dir / "builds" / name
    return build if (build / "COMPLETE").is_file() else None


def read_snapshot(index_dir: Path) -> Snapshot:
    """The current build's metadata, nodes and vectors (empty when there is no index yet)."""
    build = current_build(index_dir)
    if build is None:
        return Snapshot()
    from llama_index.core.storage.docstore import SimpleDocumentStore

    meta = json.loads((build / "meta.json").read_text(encoding="utf-8"))
    docstore = SimpleDocumentStore.from_persist_dir(str(build / "storage"))
    node_ids = json.loads((build / "bm25" / "node_ids.json").read_text(encoding="utf-8"))
    nodes = [docstore.get_node(node_id) for node_id in node_ids]
    vectors = np.load(build / "vectors.npy")
    return Snapshot(meta=meta, nodes=nodes, vectors=vectors, sentences=read_sentences(build),
                    sentence_tags=read_sentence_tags(build))


def read_sentences(build: Path) -> dict[str, np.ndarray]:
    """Sentence text → embedding; empty for builds made before sentences were stored."""
    try:
        texts = json.loads((build / "sentences.json").read_text(encoding="utf-8"))
        vectors = np.load(build / "sentences.npy")
    except FileNotFoundError:
        return {}
    return dict(zip(texts, vectors, strict=True))


def read_sentence_tags(build: Path) -> dict[str, SentenceTags]:
    """Sentence text → its tags; empty for builds made before tags were stored."""
    try:
        rows = json.loads((build / "sentence_tags.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {text: SentenceTags.from_list(values) for text, values in rows}


@contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time; readers never need the lock."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusy(f"Une autre indexation est en cours sur {index_dir}.") from exc
        yield


def write_build(index_dir: Path, snapshot: Snapshot) -> Path:
    """Write `snapshot` as a new build and make it current. Call under `write_lock`."""
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    _remove_debris(index_dir)
    name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    build = builds / name
    try:
        build.mkdir()
        _write_files(build, snapshot)
        _write_atomically(index_dir / "CURRENT", name)
    except (OSError, RuntimeError) as exc:  # faiss reports write failures as RuntimeError
        shutil.rmtree(build, ignore_errors=True)
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise IndexWriteError(
            f"Impossible d'écrire l'index dans {index_dir} ({reason}) ; "
            "l'index précédent reste en service."
        ) from exc
    _remove_old_builds(index_dir, keep=name)
    return build


def _write_files(build: Path, snapshot: Snapshot) -> None:
    import faiss
    from llama_index.core import MockEmbedding, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.faiss import FaissVectorStore

    nodes, vectors = snapshot.nodes, snapshot.vectors.astype(np.float32)
    dim = int(snapshot.meta["embedding_dim"])
    for node, vector in zip(nodes, vectors, strict=True):
        node.embedding = vector.tolist()
    # Inner product on L2-normalised vectors is cosine similarity: higher is better.
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(dim))
    storage = StorageContext.from_defaults(vector_store=store)
    # Nodes arrive with their embeddings, so the mock is never called: it only stops llama-index
    # from resolving its global (OpenAI) default.
    VectorStoreIndex(nodes, storage_context=storage, embed_model=MockEmbedding(embed_dim=dim))
    storage.persist(persist_dir=str(build / "storage"))
    for node in nodes:
        node.embedding = None
    np.save(build / "vectors.npy", vectors)
    dim_zero = np.zeros((0, dim), np.float32)
    np.save(build / "sentences.npy",
            np.stack(list(snapshot.sentences.values())).astype(np.float32)
            if snapshot.sentences else dim_zero)
    (build / "sentences.json").write_text(json.dumps(list(snapshot.sentences),
                                                     ensure_ascii=False), "utf-8")
    (build / "sentence_tags.json").write_text(json.dumps(
        [[text, tags.to_list()] for text, tags in snapshot.sentence_tags.items()],
        ensure_ascii=False), "utf-8")
    from ingest.lexical import LexicalIndex

    lexical = LexicalIndex.build([n.get_content() for n in nodes], [n.node_id for n in nodes])
    (build / "bm25").mkdir()
    lexical.save(build / "bm25")
    meta = {**snapshot.meta, "format": FORMAT_VERSION, "chunks": len(nodes)}
    (build / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), "utf-8")
    _fsync_tree(build)
    _write_atomically(build / "COMPLETE", "ok")


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    for directory in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_debris(index_dir: Path) -> None:
    """Builds a crashed writer left behind (no COMPLETE marker) and stray temp files."""
    current = current_build(index_dir)
    for build in (index_dir / "builds").iterdir():
        if build != current and not (build / "COMPLETE").is_file():
            shutil.rmtree(build, ignore_errors=True)
    for tmp in index_dir.glob(".CURRENT.*.tmp"):
        tmp.unlink(missing_ok=True)


def _remove_old_builds(index_dir: Path, keep: str, previous: int = 1) -> None:
    """Keep the new build and `previous` older ones (a server may still be reading them)."""
    builds = sorted((index_dir / "builds").iterdir(), reverse=True)
    old = [b for b in builds if b.name != keep][previous:]
    for build in old:
        shutil.rmtree(build, ignore_errors=True)


def read_meta(index_dir: Path) -> dict:
    build = current_build(index_dir)
    if build is None:
        raise IndexNotBuilt(f"Index introuvable dans {index_dir} : lancez `irev ingest`.")
    return json.loads((build / "meta.json").read_text(encoding="utf-8"))


class HybridIndex:
    """A loaded, read-only build: dense search through llama-index/FAISS, lexical through bm25s."""

    def __init__(self, build: Path, embedder):
        from llama_index.core import StorageContext, load_index_from_storage
        from llama_index.vector_stores.faiss import FaissVectorStore

        self.build = build
        self.meta = json.loads((build / "meta.json").read_text(encoding="utf-8"))
        storage_dir = str(build / "storage")
        store = FaissVectorStore.from_persist_dir(storage_dir)
        storage = StorageContext.from_defaults(vector_store=store, persist_dir=storage_dir)
        self.vector_index = load_index_from_storage(storage, embed_model=embedder)
        self.embedder = embedder
        from ingest.lexical import LexicalIndex

        self.lexical = LexicalIndex.load(build / "bm25")
        docstore = storage.docstore
        self.nodes: dict[str, TextNode] = {i: docstore.get_node(i) for i in self.lexical.node_ids}
        self.sentences = read_sentences(build)
        self.sentence_tags = read_sentence_tags(build)
        vectors = np.load(build / "vectors.npy")
        self.node_vectors = dict(zip(self.lexical.node_ids, vectors, strict=False))

    @property
    def name(self) -> str:
        return self.build.name

    @property
    def documents(self) -> dict[str, dict]:
        return self.meta.get("documents", {})

    def dense_search(self, query: str, k: int,
                     vector: np.ndarray | None = None) -> list[tuple[TextNode, float]]:
        """The k nearest passages; `vector`: the query's embedding when already computed."""
        if not self.nodes:
            return []
        from llama_index.core.schema import QueryBundle

        retriever = self.vector_index.as_retriever(similarity_top_k=min(k, len(self.nodes)))
        bundle = QueryBundle(query_str=query,
                             embedding=None if vector is None else vector.tolist())
        return [(hit.node, float(hit.score or 0.0)) for hit in retriever.retrieve(bundle)]

    def lexical_search(self, query: str, k: int) -> list[tuple[TextNode, float]]:
        return [(self.nodes[i], score) for i, score in self.lexical.search(query, k)]


def load_index(index_dir: Path, embedder) -> HybridIndex:
    build = current_build(index_dir)
    if build is None:
        raise IndexNotBuilt(f"Index introuvable dans {index_dir} : lancez `irev ingest`.")
    return HybridIndex(build, embedder)
