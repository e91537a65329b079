"""Shared fixtures: the real corpus, and one real index (real packaged model) built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def corpus_docs():
    from assistant.corpus import load_corpus

    return {d.doc_id: d for d in load_corpus(ROOT / "corpus")}


@pytest.fixture(scope="session")
def parsed(corpus_docs):
    from assistant.ingest import ingest

    return {doc_id: ingest(d) for doc_id, d in corpus_docs.items()}


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    """Settings pointing at a private index dir; the model cache is the project's (converted once)."""
    from assistant.settings import Settings

    return Settings(index_dir=tmp_path_factory.mktemp("index"), cache_dir=ROOT / ".cache")


@pytest.fixture(scope="session")
def assistant(settings):
    from assistant import load

    return load(settings)
