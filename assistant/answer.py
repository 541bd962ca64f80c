"""`Assistant`: one question in, typed events out (`assistant.events`). It composes the live
index (retrieval), the answer step (the learned extractive selector, or an LLM), the citation
check and the conversation store. API routes, the CLI and eval are thin adapters over
`stream()` and `ask()`."""

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from assistant import extractive
from assistant.citations import Checked, StreamChecker, as_suggestions, check
from assistant.errors import AssistantError, LLMUnavailable
from assistant.events import Done, Event, Reset, Sources, TextDelta
from assistant.features import topic_terms
from assistant.live_index import LiveIndex
from assistant.llm import LLM, build_messages
from assistant.references import parse_reference, strip_reference
from assistant.rewrite import rewrite, standalone_turns
from assistant.schema import Answer, SearchHit
from assistant.selector import Selector
from assistant.store import Store

logger = logging.getLogger(__name__)

NOT_FOUND = "Je n'ai pas trouvé cette information dans les documents disponibles."
FALLBACK_NOTICE = ("Le modèle de langage n'a pas répondu à temps : cette réponse est extraite "
                   "directement des documents.")
INTERRUPTED_NOTICE = ("Le modèle de langage s'est interrompu : la réponse peut être "
                      "incomplète.")


class Assistant:
    """Answers questions from a live index; a new build is picked up without downtime."""

    def __init__(self, index: LiveIndex, store: Store, selector: Selector | None = None,
                 llm: LLM | None = None, top_k: int = 8, concurrency: int = 2):
        self.index = index
        self.store = store
        self.selector = selector or Selector.load()
        self.llm = llm
        self.top_k = top_k
        # CPU-bound work (embedding, scoring) runs `concurrency` requests at a time; the others
        # wait their turn. More model passes at once than cores only thrash and grow memory.
        self._cpu = threading.BoundedSemaphore(max(1, concurrency))

    @classmethod
    def from_settings(cls, settings) -> "Assistant":
        from ingest.embedding import load_embedder
        from ingest.index import IndexFailure, read_meta

        try:
            model = read_meta(settings.index_dir).get("embed_model", settings.embed_model)
        except IndexFailure:
            model = settings.embed_model
        embedder = load_embedder(model, settings.models_dir, settings.embed_dtype)
        llm = None
        if settings.llm_base_url and settings.llm_model:
            key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
            llm = LLM(settings.llm_base_url, settings.llm_model, key, settings.llm_timeout)
        index = LiveIndex(settings.index_dir, embedder, settings.fusion, settings.rrf_k)
        return cls(index, Store(settings.resolved_database_url), llm=llm, top_k=settings.top_k,
                   concurrency=settings.max_concurrent_answers)

    # -- questions ---------------------------------------------------------------------------

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        with self._cpu:
            return self.index.search(query, k)

    def ask(self, question: str, conversation_id: str | None = None,
            history: list[str] | None = None) -> Answer:
        for event in self.stream(question, conversation_id, history):
            if isinstance(event, Done):
                return event.answer
        raise AssistantError("La réponse n'a pas pu être produite.")  # pragma: no cover

    def stream(self, question: str, conversation_id: str | None = None,
               history: list[str] | None = None) -> Iterator[Event]:
        """`Sources`, `TextDelta`…, (`Reset`, `Sources`, `TextDelta`…), `Done`.

        `history` (earlier user questions) overrides the stored conversation."""
        if history is None:  # the stored conversation holds stand-alone questions already
            history = self.store.history(conversation_id) if conversation_id else []
        else:
            history = standalone_turns(history)
        standalone = rewrite(question, history)
        hits = self.search(standalone, self.top_k)
        answer = None
        if self.llm is not None:
            answer = yield from self._stream_llm(standalone, hits)
        if answer is None:
            answer = self.extractive_answer(standalone, hits)
            if self.llm is not None:
                answer.mode, answer.notice = "llm_fallback", FALLBACK_NOTICE
            yield Sources(answer.citations)
            for i, word in enumerate(answer.answer.split(" ")):
                yield TextDelta(word if i == 0 else f" {word}")
        answer.standalone_question = standalone if standalone != question else None
        answer.conversation_id, answer.message_id = self.store.add_message(
            conversation_id, question, standalone, answer.answer,
            [c.model_dump() for c in answer.citations], answer.grounded,
        )
        yield Done(answer)

    def _stream_llm(self, question: str, hits: list[SearchHit]):
        """LLM sentences, each streamed once its citations are checked. Returns the answer, or
        None (after a `Reset`) when the model failed before any sentence was shown."""
        yield Sources(as_suggestions(hits))
        checker = StreamChecker(hits, self.index.sentence_vectors)
        try:
            for token in self.llm.stream(build_messages(question, hits)):
                with self._cpu:
                    pieces = checker.feed(token)
                for piece in pieces:
                    yield TextDelta(piece)
            with self._cpu:
                pieces = checker.finish()
            for piece in pieces:
                yield TextDelta(piece)
        except LLMUnavailable as exc:
            logger.warning("LLM unavailable: %s", exc)
            if not checker.shown:
                yield Reset(FALLBACK_NOTICE)
                return None
            answer = self._answer(checker.result(), hits, "llm")
            answer.notice = INTERRUPTED_NOTICE
            return answer
        if not checker.shown:  # nothing supported, or the model said it did not know
            yield TextDelta(NOT_FOUND)
        return self._answer(checker.result(), hits, "llm")

    def extractive_answer(self, question: str, hits: list[SearchHit]) -> Answer:
        """The default answer step, on given passages (the citation check included)."""
        with self._cpu:
            reference = parse_reference(question)
            topic = strip_reference(question) if not reference.is_empty else question
            if reference.article and not topic_terms(topic):
                chosen = extractive.quote_unit(reference.article, hits)
            else:
                chosen = extractive.answer(question, hits, self.index, self.selector)
            checked = check(extractive.compose(chosen), hits, self.index.sentence_vectors)
            return self._answer(checked, hits, "extractive")

    def _answer(self, checked: Checked, hits: list[SearchHit], mode: str) -> Answer:
        if not checked.citations or NOT_FOUND in checked.text:
            return Answer(answer=NOT_FOUND, grounded=False, suggestions=as_suggestions(hits[:3]),
                          mode=mode)
        return Answer(answer=checked.text, citations=checked.citations, grounded=True, mode=mode)


def build_assistant(index_dir: Path, embedder, store: Store, **options) -> Assistant:
    """An assistant over `index_dir` with the shipped selector (for tests, eval and benches)."""
    fusion, rrf_k = options.pop("fusion", "rrf"), options.pop("rrf_k", 10)
    return Assistant(LiveIndex(index_dir, embedder, fusion, rrf_k), store, **options)


__all__ = ["Assistant", "AssistantError", "NOT_FOUND", "build_assistant"]
