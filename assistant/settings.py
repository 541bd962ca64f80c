"""The one configuration class, read only by the CLI and the app factory."""

import os
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.e5_bundle import DEFAULT_MODEL_NAME


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IREV_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    corpus_dir: Path = Path("corpus")
    embed_model: str = DEFAULT_MODEL_NAME  # or any sentence-transformers id / local path
    embed_dtype: str = "float32"  # "bfloat16" is faster on AMX CPUs; measured in bench/embedder.py
    chunk_size: int = 300  # tokens of the embedder's own tokenizer, prefix and title included
    chunk_overlap: int = 40
    max_file_mb: float = 50.0
    crawl_delay: float = 1.0  # seconds between two requests to a web site (irev ingest URL)

    top_k: int = 8  # passages the answer may draw on (only the cited ones are returned)
    fusion: str = "rrf"  # "rrf" | "dense" | "bm25"
    rrf_k: int = 10
    min_score: float = 0.3
    # requests computing at once (the others queue): about the number of cores
    max_concurrent_answers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))

    llm_base_url: str | None = None  # any OpenAI-compatible endpoint: Albert, Mistral, vLLM, Ollama
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = 30.0

    database_url: str | None = None  # SQLAlchemy URL; default sqlite under data_dir
    admin_api_key: SecretStr | None = None
    cors_origins: list[str] = []
    widget_origins: list[str] = []
    rate_limit: str = "30/minute"
    max_request_bytes: int = 32_000
    max_question_chars: int = 1_000
    max_upload_mb: float = 20.0

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be < chunk_size ({self.chunk_size})"
            )
        if self.chunk_size > 510:
            raise ValueError(f"chunk_size ({self.chunk_size}) must fit in 512 tokens")
        if self.fusion not in {"rrf", "dense", "bm25"}:
            raise ValueError(f"fusion must be rrf, dense or bm25, not {self.fusion!r}")
        if self.embed_dtype not in {"float32", "bfloat16"}:
            raise ValueError(f"embed_dtype must be float32 or bfloat16, not {self.embed_dtype!r}")
        return self

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'assistant.db'}"
