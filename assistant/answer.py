"""`Assistant.ask(question)`: retrieve, answer (extractive by default, LLM if configured), check
citations, abstain when the documents do not hold the answer."""

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from assistant import extractive
from assistant.citations import as_suggestions, check
from assistant.errors import AssistantError, IndexNotReady, LLMUnavailable
from assistant.llm import LLM, build_messages
from assistant.references import parse_reference, strip_reference
from assistant.retrieval import Retriever
from assistant.rewrite import rewrite
from assistant.schema import Answer, SearchHit
from assistant.store import Store
from ingest.index import HybridIndex, IndexFailure, current_build, load_index
from ingest.lexical import idf_table

logger = logging.getLogger(__name__)

NOT_FOUND = "Je n'ai pas trouvé cette information dans les documents disponibles."
NO_INDEX = ("Aucun document n'est encore indexé : l'administrateur doit lancer `irev ingest`.")
FALLBACK_NOTICE = ("Le modèle de langage n'a pas répondu à temps : cette réponse est extraite "
                   "directement des documents.")


class Assistant:
    """Answers questions from one index. Reloads a new index build without downtime."""

    def __init__(self, index_dir: Path, embedder, store: Store, llm: LLM | None = None,
                 top_k: int = 8, fusion: str = "rrf", rrf_k: int = 10,
                 thresholds: extractive.Thresholds | None = None, concurrency: int = 2):
        self.index_dir = index_dir
        self.embedder = embedder
        self.store = store
        self.llm = llm
        self.top_k = top_k
        self.fusion, self.rrf_k = fusion, rrf_k
        self.thresholds = thresholds or extractive.Thresholds()
        self._reload_lock = threading.Lock()
        # CPU-bound work (embedding, scoring) runs `concurrency` requests at a time; the others
        # wait their turn. More model passes at once than cores only thrash and grow memory.
        self._cpu = threading.BoundedSemaphore(max(1, concurrency))
        self._retriever: Retriever | None = None
        self._idf: dict[str, float] = {}
        self.reload()

    @classmethod
    def from_settings(cls, settings) -> "Assistant":
        from ingest.embedding import load_embedder
        from ingest.index import read_meta

        try:
            model = read_meta(settings.index_dir).get("embed_model", settings.embed_model)
        except IndexFailure:
            model = settings.embed_model
        embedder = load_embedder(model, settings.models_dir, settings.embed_dtype)
        llm = None
        if settings.llm_base_url and settings.llm_model:
            key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
            llm = LLM(settings.llm_base_url, settings.llm_model, key, settings.llm_timeout)
        return cls(settings.index_dir, embedder, Store(settings.resolved_database_url), llm,
                   top_k=settings.top_k, fusion=settings.fusion, rrf_k=settings.rrf_k,
                   concurrency=settings.max_concurrent_answers)

    # -- index -------------------------------------------------------------------------------

    @property
    def index(self) -> HybridIndex:
        if self._retriever is None:
            logger.error("no index in %s", self.index_dir)
            raise IndexNotReady(NO_INDEX)
        return self._retriever.index

    @property
    def ready(self) -> bool:
        return self._retriever is not None

    def reload(self) -> bool:
        """Load the current build if it is not the one served. In-flight queries keep theirs."""
        with self._reload_lock:
            build = current_build(self.index_dir)
            if build is None or (self._retriever and self._retriever.index.build == build):
                return False
            try:
                index = load_index(self.index_dir, self.embedder)
            except (IndexFailure, OSError, ValueError) as exc:
                logger.error("index %s could not be loaded: %s", build, exc)
                return False
            self._idf = idf_table(index.lexical)
            self._retriever = Retriever(index, self.fusion, self.rrf_k)  # one atomic swap
            logger.info("serving index %s", index.name)
            return True

    def reload_in_background(self) -> None:
        build = current_build(self.index_dir)
        if build is not None and (not self._retriever or self._retriever.index.build != build) \
                and not self._reload_lock.locked():
            threading.Thread(target=self.reload, daemon=True).start()

    # -- questions ---------------------------------------------------------------------------

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        if self._retriever is None:
            logger.error("no index in %s", self.index_dir)
            raise IndexNotReady(NO_INDEX)
        with self._cpu:
            return self._retriever.search(query, k)

    def ask(self, question: str, conversation_id: str | None = None,
            history: list[str] | None = None) -> Answer:
        answer = None
        for kind, value in self.stream(question, conversation_id, history):
            if kind == "done":
                answer = value
        assert answer is not None
        return answer

    def stream(self, question: str, conversation_id: str | None = None,
               history: list[str] | None = None) -> Iterator[tuple[str, object]]:
        """Events: ("sources", [Citation]) first, then ("token", str)..., then ("done", Answer).

        `history` (earlier user questions) overrides the stored conversation."""
        if history is None:
            history = self.store.history(conversation_id) if conversation_id else []
        standalone = rewrite(question, history)
        hits = self.search(standalone, self.top_k)
        yield "sources", as_suggestions(hits)
        answer = None
        if self.llm is not None:
            try:
                text = ""
                for token in self.llm.stream(build_messages(standalone, hits)):
                    text += token
                    yield "token", token
                with self._cpu:
                    answer = self._checked(text, hits, mode="llm")
            except LLMUnavailable as exc:
                logger.warning("LLM unavailable, extractive fallback: %s", exc)
                answer = self._extractive(standalone, hits)
                answer.mode, answer.notice = "llm_fallback", FALLBACK_NOTICE
                yield "reset", FALLBACK_NOTICE
        if answer is None:
            answer = self._extractive(standalone, hits)
        if self.llm is None or answer.mode == "llm_fallback":
            for word in answer.answer.split(" "):
                yield "token", word + " "
        answer.standalone_question = standalone if standalone != question else None
        answer.conversation_id, answer.message_id = self.store.add_message(
            conversation_id, question, standalone, answer.answer,
            [c.model_dump() for c in answer.citations], answer.grounded,
        )
        yield "done", answer

    def _extractive(self, question: str, hits: list[SearchHit]) -> Answer:
        with self._cpu:
            return self._extract(question, hits)

    def _extract(self, question: str, hits: list[SearchHit]) -> Answer:
        reference = parse_reference(question)
        topic = strip_reference(question) if not reference.is_empty else question
        if reference.article and not extractive.topic_terms(topic):
            chosen = extractive.quote_unit(reference.article, hits)
        else:
            chosen = extractive.answer(question, hits, self._embed_query, self._embed_passages,
                                       self._idf, self.thresholds, topic=topic)
        return self._checked(extractive.compose(chosen), hits, mode="extractive")

    def _checked(self, text: str, hits: list[SearchHit], mode: str) -> Answer:
        checked = check(text, hits, self._embed_passages)
        if not checked.citations or NOT_FOUND in text:
            return Answer(answer=NOT_FOUND, grounded=False, suggestions=as_suggestions(hits[:3]),
                          mode=mode)
        return Answer(answer=checked.text, citations=checked.citations, grounded=True, mode=mode)

    def _embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.embedder.get_query_embedding(text), dtype=np.float32)

    def _embed_passages(self, texts: list[str]) -> np.ndarray:
        """Sentences of the index were embedded at ingest; only the others are embedded now."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        known = self._retriever.index.sentences if self._retriever else {}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        computed = dict(zip(missing, np.asarray(
            self.embedder.get_text_embedding_batch(missing), dtype=np.float32), strict=True)
        ) if missing else {}
        return np.array([known[t] if t in known else computed[t] for t in texts],
                        dtype=np.float32)


__all__ = ["Assistant", "AssistantError", "NOT_FOUND"]
