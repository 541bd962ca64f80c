"""`LiveIndex`: the index build being served, swapped atomically when `irev ingest` writes a new
one, with everything the answer step reads from it: search (dense, lexical, fused), term
statistics, and the vectors and tags of quotable sentences computed at ingest.

This is the seam a second storage backend (PostgreSQL) plugs into: callers use only the public
methods below, never the build's files."""

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from assistant.errors import IndexNotReady
from assistant.retrieval import Retriever
from assistant.schema import SearchHit
from ingest.embedding import embed_queries
from ingest.index import HybridIndex, IndexFailure, current_build, load_index
from ingest.lexical import idf_table
from ingest.sentence_tags import SentenceTags, tag_sentences

logger = logging.getLogger(__name__)

NO_INDEX = "Aucun document n'est encore indexé : l'administrateur doit lancer `irev ingest`."


QUERY_CACHE = 64  # query vectors kept (by text)


class _Served:
    """One loaded build and what is derived from it; replaced whole, never mutated."""

    def __init__(self, index: HybridIndex, retriever: Retriever):
        self.index = index
        self.retriever = retriever
        self.idf = idf_table(index.lexical)


class LiveIndex:
    def __init__(self, index_dir: Path, embedder, fusion: str = "rrf", rrf_k: int = 10):
        self.index_dir = index_dir
        self.embedder = embedder
        self.fusion, self.rrf_k = fusion, rrf_k
        self._lock = threading.Lock()
        # search and the answer step both need the question's vector: one forward pass
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()
        self.query_passes = 0  # forward passes made for queries (one per `embed_queries` miss)
        self._served: _Served | None = None
        self.reload()

    # -- the build ---------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._served is not None

    @property
    def current(self) -> HybridIndex:
        """The build served now; raises IndexNotReady (a French message) when there is none."""
        return self._snapshot().index

    def _snapshot(self) -> _Served:
        served = self._served
        if served is None:
            logger.error("no index in %s", self.index_dir)
            raise IndexNotReady(NO_INDEX)
        return served

    def reload(self) -> bool:
        """Load the current build if it is not the one served. In-flight queries keep theirs."""
        with self._lock:
            build = current_build(self.index_dir)
            if build is None or (self._served and self._served.index.build == build):
                return False
            try:
                index = load_index(self.index_dir, self.embedder)
            except (IndexFailure, OSError, ValueError) as exc:
                logger.error("index %s could not be loaded: %s", build, exc)
                return False
            self._served = _Served(index, Retriever(index, self.fusion, self.rrf_k,
                                                    embed=self.embed_queries))  # one swap
            logger.info("serving index %s", index.name)
            return True

    def reload_in_background(self) -> None:
        build = current_build(self.index_dir)
        served = self._served
        if build is not None and (served is None or served.index.build != build) \
                and not self._lock.locked():
            threading.Thread(target=self.reload, daemon=True).start()

    # -- reading -----------------------------------------------------------------------------

    def search(self, query: str, k: int) -> list[SearchHit]:
        return self._snapshot().retriever.search(query, k)

    @property
    def idf(self) -> dict[str, float]:
        """Inverse document frequency of each stemmed word of the index."""
        return self._snapshot().idf

    def embed_query(self, text: str) -> np.ndarray:
        """The question's vector; the last few are kept, since search and the answer step both
        need it (one forward pass, ~45 ms on 2 cores, instead of two). Read-only: shared."""
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: list[str]) -> list[np.ndarray]:
        """Vectors of several queries, those not kept embedded together in one forward pass
        (search embeds the question with its shorthands spelled out, and the answer step reads
        the question as asked: two short texts cost ~1.3 times one, not twice)."""
        with self._vectors_lock:
            vectors = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in vectors:
                self._vectors.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in vectors]
        if missing:
            for text, values in zip(missing, embed_queries(self.embedder, missing), strict=True):
                vectors[text] = np.asarray(values, dtype=np.float32)
                vectors[text].flags.writeable = False
            with self._vectors_lock:
                self.query_passes += 1
                self._vectors.update((t, vectors[t]) for t in missing)
                while len(self._vectors) > QUERY_CACHE:
                    self._vectors.popitem(last=False)
        return [vectors[t] for t in texts]

    def sentence_vectors(self, texts: list[str]) -> np.ndarray:
        """Vectors of sentences: those of the index were embedded at ingest; only others now."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        served = self._served
        known = served.index.sentences if served else {}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        computed = dict(zip(missing, np.asarray(
            self.embedder.get_text_embedding_batch(missing), dtype=np.float32), strict=True)
        ) if missing else {}
        return np.array([known[t] if t in known else computed[t] for t in texts],
                        dtype=np.float32)

    def sentence_tags(self, texts: list[str]) -> list[SentenceTags]:
        """Tags of sentences: stored at ingest; sentences of older builds are tagged now."""
        served = self._served
        known = served.index.sentence_tags if served else {}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        computed = dict(zip(missing, tag_sentences(missing), strict=True))
        return [known[t] if t in known else computed[t] for t in texts]

    def passage_vector(self, node_id: str) -> np.ndarray | None:
        served = self._served
        return served.index.node_vectors.get(node_id) if served else None
