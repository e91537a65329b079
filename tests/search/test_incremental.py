"""A rebuild embeds only what changed: vectors are cached by content hash."""

import numpy as np

from assistant.search.index import EmbeddingCache, embed_units


class CountingEmbedder:
    model_id, dim = "counting", 4

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed_passages(self, texts, batch_size=16):
        self.seen += list(texts)
        return np.ones((len(texts), 4), dtype=np.float32) / 2

    def embed_query(self, text):
        return np.ones(4, dtype=np.float32) / 2


def test_only_new_texts_are_embedded(tmp_path):
    path = tmp_path / "cache.npz"
    emb = CountingEmbedder()
    embed_units(["a", "b", "a"], emb, EmbeddingCache(path), None)
    assert sorted(emb.seen) == ["a", "b"]  # duplicates embedded once
    emb.seen.clear()
    vectors = embed_units(["a", "b", "c"], emb, EmbeddingCache(path), None)  # a fresh process: cache from disk
    assert emb.seen == ["c"] and vectors.shape == (3, 4)
