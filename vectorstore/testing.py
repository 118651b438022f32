"""Small deterministic stand-ins for tests and examples: a hashing embedding function
and synthetic MusiCRS-like threads.

Conventions: nothing here loads a model or touches the network; the same input always
gives the same output, in any process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from chromadb.utils.embedding_functions import register_embedding_function

from vectorstore.embeddings import _Dual
from vectorstore.text import tokenize

HASH_DIMENSIONS = 64


@register_embedding_function
class HashEmbeddingFunction(_Dual):
    """Bag of hashed word tokens (plus a bias so no vector is zero), L2-normalised.
    Texts sharing words are similar; enough to exercise search without a model."""

    def __init__(self, dimensions: int = HASH_DIMENSIONS) -> None:
        self.dimensions = dimensions
        self.calls = 0  # how many texts were embedded: tests assert on re-embedding

    @staticmethod
    def name() -> str:
        return "musicrs-hash"

    def get_config(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashEmbeddingFunction:
        return HashEmbeddingFunction(int(config.get("dimensions", HASH_DIMENSIONS)))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        matrix = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        matrix[:, 0] = 0.1
        for row, text in enumerate(texts):
            for token in tokenize(text) or [text.lower()]:
                bucket = int(hashlib.md5(token.encode("utf-8")).hexdigest(), 16) % (
                    self.dimensions - 1
                )
                matrix[row, bucket + 1] += 1.0
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def thread_record(
    name: str,
    subreddit: str,
    query: str,
    comments: Sequence[dict[str, list[str]]],
    candidates: Sequence[str],
    gold: Sequence[str],
    submission: Sequence[str] = (),
    text: str = "",
) -> dict[str, Any]:
    """One MusiCRS JSONL record (the fields :mod:`vectorstore.musicrs` validates)."""
    return {
        "name": name,
        "source_subreddit": subreddit,
        "query": query,
        "combined_text": text,
        "submission_entities": list(submission),
        "comments": [
            {
                "name": f"t1_{name}_{i}",
                "score": 1.0,
                "entities": {"artists": [], "albums": [], "songs": [], **c},
            }
            for i, c in enumerate(comments)
        ],
        "final_candidates": list(candidates),
        "limited_gt": list(gold),
        "ground_truth": list(gold),
        "valid_urls": [],
    }
