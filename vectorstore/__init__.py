"""The music-entity catalog: cards built from MusiCRS or a user's file, the offline
embedding function, the Chroma store (embedded or server), hybrid search and the
leak-free per-fold views used during evaluation.

The bottom layer: imports nothing of ``tools``, ``agent``, ``demo`` or ``evals``. It owns
the MusiCRS loader and its dev/test split (:mod:`vectorstore.musicrs`), which every layer
above reads.

The public API, importable from here: :func:`open_catalog` and :class:`Catalog`
(:mod:`vectorstore.store`), :class:`EntityCard` (:mod:`vectorstore.cards`),
:class:`SearchHit` (:mod:`vectorstore.search`), :func:`leak_free_catalog`
(:mod:`vectorstore.views`), :class:`MiniLMEmbeddingFunction` (:mod:`vectorstore.embeddings`)
and :class:`CatalogError`. They are imported on first use, so ``import vectorstore`` stays
cheap (Chroma and torch load only when needed).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "open_catalog": "vectorstore.store",
    "build_catalog": "vectorstore.store",
    "Catalog": "vectorstore.store",
    "EntityCard": "vectorstore.cards",
    "SearchHit": "vectorstore.search",
    "leak_free_catalog": "vectorstore.views",
    "MiniLMEmbeddingFunction": "vectorstore.embeddings",
    "CatalogError": "vectorstore.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vectorstore' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
