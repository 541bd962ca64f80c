"""Ingestion: files -> loaders -> chunks -> embeddings -> a new index build, incrementally."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ingest import manifest
from ingest.dedup import fingerprint, similarity
from ingest.embedding import dimension, max_tokens, model_identity, token_counter
from ingest.index import (
    IndexFailure,
    Snapshot,
    current_build,
    read_meta,
    read_snapshot,
    write_build,
    write_lock,
)
from ingest.loaders import SUPPORTED_SUFFIXES, LoadError, load_file
from ingest.sentence_tags import SentenceTags, tag_sentences
from ingest.text import answer_sentences

if TYPE_CHECKING:  # llama-index is imported only when something must be chunked or embedded:
    # an unchanged re-run reads hashes and metadata, in well under a second
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.schema import TextNode

logger = logging.getLogger(__name__)

DUPLICATE_THRESHOLD = 0.8
# Texts per forward pass, chosen on 2 CPU cores (bench/ingest.py, session 7): passages of ~250
# tokens go 4-25 % faster in batches of 8 than of 32; sentences (~50 tokens) no slower at 16.
CHUNK_BATCH, SENTENCE_BATCH = 8, 16
# How chunk vectors are made (recorded in the build: a build made another way is re-embedded)
CHUNK_VECTORS = "sentence-mean"


@dataclass
class IngestReport:
    indexed: list[str] = field(default_factory=list)  # new or changed documents
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, French reason)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # unsupported formats
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file, kept document id)
    pages: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks embedded by this run
    sentences_embedded: int = 0  # quotable sentences embedded by this run
    sentences_tagged: int = 0  # quotable sentences tagged (shape, facts) by this run
    seconds: float = 0.0
    build: str | None = None

    @property
    def failed(self) -> bool:
        return bool(self.skipped)


@dataclass
class _Work:
    """What one run will write: kept documents (by id), their nodes and vectors."""

    documents: dict[str, dict] = field(default_factory=dict)
    nodes: dict[str, list[TextNode]] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    pending: list[TextNode] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)  # file digest → the kept document


class _Model:
    """The embedder and what chunking needs of it, loaded on first use: a re-run where nothing
    changed only reads and hashes files, and never loads the model."""

    def __init__(self, embedder: BaseEmbedding | Callable[[], BaseEmbedding],
                 known_dimension: int | None):
        self._given = embedder
        self._dimension = known_dimension

    @cached_property
    def embedder(self) -> BaseEmbedding:
        given = self._given
        return given if hasattr(given, "get_text_embedding_batch") else given()

    @cached_property
    def count(self) -> Callable[[str], int]:
        return token_counter(self.embedder)

    @cached_property
    def limit(self) -> int:
        return max_tokens(self.embedder)

    @property
    def dimension(self) -> int:
        return self._dimension or dimension(self.embedder)


def run(paths: list[Path], index_dir: Path, embedder, *, model_name: str, chunk_size: int = 300,
        chunk_overlap: int = 40, max_bytes: int = 50_000_000, prune: bool = False,
        delete: tuple[str, ...] = (), progress=None) -> IngestReport:
    """Index every supported file under `paths` into `index_dir`, re-embedding only what changed.
    `embedder`: the model, or a function that loads it (called only if something must be
    embedded or chunked).

    >>> report = run([Path("corpus")], Path("data/index"), load, model_name="…")
    """
    started = time.perf_counter()
    report = IngestReport()
    settings = {"embed_model": model_name, "embed_model_id": model_identity(model_name),
                "chunk_size": chunk_size, "chunk_overlap": chunk_overlap,
                "chunk_vectors": CHUNK_VECTORS}
    manifest.clear_cache()
    with write_lock(index_dir):
        files = _identify(list(_scan(paths, report)), report)
        if not delete and _nothing_changed(files, index_dir, settings, prune, report):
            report.seconds = time.perf_counter() - started
            return report
        previous = read_snapshot(index_dir)
        reusable = all(previous.meta.get(k) == v for k, v in settings.items())
        # a sentence's vector depends on the model only: kept when the chunking changes
        same_model = all(previous.meta.get(k) == settings[k]
                         for k in ("embed_model", "embed_model_id"))
        work = _Work()
        by_doc = _group_previous(previous) if reusable else {}
        model = _Model(embedder, previous.meta.get("embedding_dim") if reusable else None)
        task = progress.add_task("Lecture des fichiers", total=len(files)) if progress else None
        for file in files:
            _ingest_file(file, previous, by_doc, work, report, model, chunk_size, chunk_overlap,
                         max_bytes)
            if progress:
                progress.advance(task)
        seen = set(work.documents)
        for doc_id, record in previous.documents.items():
            if doc_id in seen or doc_id in delete or prune or doc_id not in by_doc:
                continue
            work.documents[doc_id] = record  # not in this run's paths: kept as it was
            work.nodes[doc_id], work.vectors[doc_id] = by_doc[doc_id]
        report.removed = sorted(set(previous.documents) - set(work.documents))
        sentences, report.sentences_embedded = _embed_sentences(
            work, previous.sentences if same_model else {}, model, progress)
        _vectors_of_pending(work, sentences, model, progress)
        report.embedded = len(work.pending)
        snapshot = _assemble(work, settings, model.dimension)
        snapshot.sentences = sentences
        report.sentences_tagged = _tag_sentences(snapshot, previous.sentence_tags)
        report.chunks = len(snapshot.nodes)
        report.pages = sum(d.get("pages") or 0 for d in work.documents.values())
        if report.indexed or report.removed or report.sentences_embedded \
                or report.sentences_tagged or not previous.meta \
                or snapshot.meta["duplicates"] != previous.meta.get("duplicates", {}):
            report.build = write_build(index_dir, snapshot).name
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _File:
    """A file of this run, as identified before anything is read: what decides if it changed."""

    path: Path
    doc_id: str
    digest: str  # of its bytes
    metadata: dict
    described: str  # a hash of its metadata (manifest, sidecars, twins)

    def indexed_as(self, record: dict | None) -> bool:
        """True when `record` (a build's entry for this document) is this file as it is now."""
        return bool(record) and record.get("sha256") == self.digest \
            and record.get("described") == self.described


def _identify(paths: list[Path], report: IngestReport) -> list[_File]:
    twins = _twins(paths)
    files, taken = [], set()
    for path in paths:
        doc_id = manifest.document_id(path)
        if doc_id in taken:  # same file name in two folders
            doc_id = f"{manifest.document_id(path.parent)}-{doc_id}"
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            report.skipped.append((_shown(path), f"illisible ({exc.strerror})"))
            continue
        taken.add(doc_id)
        others = tuple(t for t in twins.get(path.stem.lower(), ()) if t != path)
        metadata = {"document_id": doc_id, **manifest.describe(path, others),
                    "file_name": _shown(Path(path.name))}
        # A title or date changed in the manifest or a sidecar changes the document too: the
        # title is embedded with every chunk.
        described = hashlib.sha256(json.dumps(metadata, sort_keys=True).encode()).hexdigest()
        files.append(_File(path, doc_id, digest, metadata, described[:16]))
    return files


def _nothing_changed(files: list[_File], index_dir: Path, settings: dict, prune: bool,
                     report: IngestReport) -> bool:
    """True (and the report filled) when every file is indexed as it is, or a known duplicate,
    with the same settings: then nothing is loaded, chunked, embedded or written."""
    build = current_build(index_dir)
    if build is None or not (build / "sentence_tags.json").is_file():
        return False
    try:
        meta = read_meta(index_dir)
    except (IndexFailure, OSError, ValueError):
        return False
    documents, duplicates = meta.get("documents", {}), meta.get("duplicates", {})
    if report.skipped or any(meta.get(k) != v for k, v in settings.items()):
        return False
    unchanged, copies = [], []
    for file in files:
        if file.indexed_as(documents.get(file.doc_id)):
            unchanged.append(file.doc_id)
        elif duplicates.get(file.digest) in documents:
            copies.append((_shown(file.path), duplicates[file.digest]))
        else:
            return False
    if prune and set(documents) - set(unchanged):
        return False
    report.unchanged, report.duplicates = unchanged, copies
    report.chunks = sum(d.get("chunks") or 0 for d in documents.values())
    report.pages = sum(d.get("pages") or 0 for d in documents.values())
    return True


def _twins(files: list[Path]) -> dict[str, tuple[Path, ...]]:
    """Files of this run by stem: `pdf/loi.pdf` and `legal/loi.md` are one text in two formats,
    and share the title, date and link that only one of them may be described with."""
    by_stem: dict[str, list[Path]] = {}
    for path in files:
        by_stem.setdefault(path.stem.lower(), []).append(path)
    return {stem: tuple(group) for stem, group in by_stem.items() if len(group) > 1}


def _scan(paths: list[Path], report: IngestReport) -> Iterator[Path]:
    for root in paths:
        if not root.exists():
            report.skipped.append((str(root), "chemin introuvable"))
            continue
        candidates = [root] if root.is_file() else _walk(root)
        top = root.parent if root.is_file() else root
        for path in candidates:
            if manifest.is_metadata_file(path):
                continue
            try:
                outside = path.is_symlink() and not path.resolve(strict=True).is_relative_to(
                    top.resolve())
            except (OSError, RuntimeError):  # a loop or a dangling link
                report.skipped.append((_shown(path), "lien symbolique en boucle ou illisible"))
                continue
            if outside:
                report.skipped.append((_shown(path), "lien symbolique hors du dossier du corpus"))
            elif path.suffix.lower() in SUPPORTED_SUFFIXES and not path.is_file():
                report.skipped.append((_shown(path), "pas un fichier ordinaire (tube, "
                                                     "périphérique…)"))
            elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
                report.ignored.append((_shown(path), f"format non pris en charge ({path.suffix})"))
            elif _shown(path) != str(path):  # its stored path could not name it again
                report.skipped.append((_shown(path), "nom de fichier non UTF-8 : renommez le "
                                                     "fichier (par exemple avec convmv)"))
            else:
                yield path


def _shown(path: Path) -> str:
    """A printable, JSON-safe form of a path whose name may not be UTF-8."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _walk(root: Path) -> list[Path]:
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(folder) / n for n in sorted(names) if not n.startswith(".")]
    return found


def _group_previous(previous: Snapshot) -> dict[str, tuple[list[TextNode], np.ndarray]]:
    grouped: dict[str, list[int]] = {}
    for row, node in enumerate(previous.nodes):
        grouped.setdefault(node.metadata["document_id"], []).append(row)
    return {doc: ([previous.nodes[r] for r in rows], previous.vectors[rows])
            for doc, rows in grouped.items()}


def _ingest_file(file: _File, previous: Snapshot, by_doc: dict, work: _Work,
                 report: IngestReport, model: _Model, chunk_size: int, chunk_overlap: int,
                 max_bytes: int) -> None:
    from ingest.chunking import split

    path, doc_id, digest, metadata = file.path, file.doc_id, file.digest, file.metadata
    old = previous.documents.get(doc_id)
    if file.indexed_as(old) and doc_id in by_doc:
        work.documents[doc_id] = old
        work.nodes[doc_id], work.vectors[doc_id] = by_doc[doc_id]
        report.unchanged.append(doc_id)
        return
    kept = previous.meta.get("duplicates", {}).get(digest)
    if kept and kept in work.documents:  # a known copy of a document kept in this run
        report.duplicates.append((_shown(path), kept))
        work.duplicates[digest] = kept
        return
    try:
        documents = load_file(path, {k: v for k, v in metadata.items() if v}, max_bytes)
    except LoadError as exc:
        report.skipped.append((_shown(path), str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - whatever a reader library raises, the run goes on
        logger.warning("reading %s failed: %r", path, exc)
        report.skipped.append((_shown(path), f"lecture impossible : erreur inattendue "
                                             f"({type(exc).__name__})"))
        return
    signature = fingerprint(" ".join(d.text for d in documents))
    others = {**previous.documents, **work.documents}
    for other_id, other in others.items():
        if other_id != doc_id and other.get("fingerprint") and \
                similarity(signature, other["fingerprint"]) >= DUPLICATE_THRESHOLD:
            report.duplicates.append((_shown(path), other_id))
            work.duplicates[digest] = other_id
            return
    nodes = split(documents, model.count, chunk_size, chunk_overlap, model.limit)
    first = documents[0].metadata
    work.documents[doc_id] = {
        **{k: first.get(k) for k in ("title", "type", "published", "publisher", "url")},
        "document_id": doc_id, "file_name": _shown(Path(path.name)),
        "source_path": _shown(path.resolve()),
        "sha256": digest, "described": file.described,
        "pages": len(documents) if "page" in first else None,
        "chunks": len(nodes), "fingerprint": signature,
    }
    work.nodes[doc_id] = nodes
    work.pending.extend(nodes)
    report.indexed.append(doc_id)


def _embed_sentences(work: _Work, known: dict[str, np.ndarray], model: _Model,
                     progress) -> tuple[dict[str, np.ndarray], int]:
    """Embed the quotable sentences of every chunk once, here, rather than per question: their
    vectors in document order, and how many were embedded by this run."""
    wanted = dict.fromkeys(s for d in sorted(work.nodes) for n in work.nodes[d]
                           for s in answer_sentences(n.get_content()))
    missing = [s for s in wanted if s not in known]
    vectors = _embed_texts(missing, model, progress, "Vecteurs des phrases", batch=SENTENCE_BATCH)
    computed = dict(zip(missing, vectors, strict=True))
    return {s: known[s] if s in known else computed[s] for s in wanted}, len(missing)


def _vectors_of_pending(work: _Work, sentences: dict[str, np.ndarray], model: _Model,
                        progress) -> None:
    """A new chunk's vector is the normalised mean of its quotable sentences' vectors, which the
    answer step needs anyway: the chunks are not embedded a second time (fused with BM25, the
    validation questions find their passage in the top 8 as often as with a forward pass over
    the chunk: README, « Numbers »). A chunk without a quotable sentence is embedded whole."""
    from ingest.chunking import embed_text

    computed: dict[str, np.ndarray] = {}
    whole = []
    for node in work.pending:
        own = [sentences[s] for s in answer_sentences(node.get_content())]
        if not own:
            whole.append(node)
            continue
        mean = np.mean(own, axis=0)
        computed[node.node_id] = mean / (np.linalg.norm(mean) or 1.0)
    vectors = _embed_texts([embed_text(n) for n in whole], model, progress,
                           "Calcul des vecteurs", batch=CHUNK_BATCH)
    computed.update((n.node_id, v) for n, v in zip(whole, vectors, strict=True))
    for doc_id, nodes in work.nodes.items():
        if doc_id not in work.vectors:
            work.vectors[doc_id] = np.array([computed[n.node_id] for n in nodes], np.float32)


def _tag_sentences(snapshot: Snapshot, known: dict[str, SentenceTags]) -> int:
    """Tag the quotable sentences once (spaCy is not run per question); reuse known tags."""
    missing = [s for s in snapshot.sentences if s not in known]
    computed = dict(zip(missing, tag_sentences(missing), strict=True)) if missing else {}
    snapshot.sentence_tags = {s: known[s] if s in known else computed[s]
                              for s in snapshot.sentences}
    return len(missing)


def _embed_texts(texts: list[str], model: _Model, progress, label: str,
                 batch: int) -> np.ndarray:
    """Vectors of `texts`, in their order. Embedded sorted by length: a batch is padded to its
    longest text, so this halves the work."""
    if not texts:
        return np.zeros((0, model.dimension), np.float32)
    embedder = model.embedder
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), model.dimension), np.float32)
    task = progress.add_task(label, total=len(texts)) if progress else None
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]
        vectors[rows] = embedder.get_text_embedding_batch([texts[i] for i in rows])
        if task is not None:
            progress.advance(task, len(rows))
    return vectors


def _assemble(work: _Work, settings: dict, dim: int) -> Snapshot:
    doc_ids = sorted(work.documents)
    nodes = [n for d in doc_ids for n in work.nodes[d]]
    rows = [work.vectors[d].reshape(-1, dim) for d in doc_ids]
    vectors = np.concatenate(rows) if rows else np.zeros((0, dim), np.float32)
    meta = {**settings, "embedding_dim": dim, "documents": {d: work.documents[d] for d in doc_ids},
            "duplicates": {digest: kept for digest, kept in work.duplicates.items()
                           if kept in work.documents}}
    return Snapshot(meta=meta, nodes=nodes, vectors=vectors)
