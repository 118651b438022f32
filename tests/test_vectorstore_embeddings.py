"""Embedding functions: Chroma's protocol, LangChain's interface, offline MiniLM, and the
OpenAI path against a local server speaking ``POST /embeddings``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import numpy as np
import pytest
from chromadb.api.types import EmbeddingFunction
from chromadb.utils.embedding_functions import known_embedding_functions
from langchain_core.embeddings import Embeddings

from vectorstore.embeddings import (
    MiniLMEmbeddingFunction,
    OpenAIEmbeddingFunction,
    embedding_function_from_env,
    load_minilm,
)
from vectorstore.errors import CatalogError


@pytest.mark.slow
def test_minilm_speaks_chroma_and_langchain_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = MiniLMEmbeddingFunction()
    assert isinstance(embedder, EmbeddingFunction) and isinstance(embedder, Embeddings)
    assert (
        not embedder.is_legacy()
        and known_embedding_functions["musicrs-minilm"] is MiniLMEmbeddingFunction
    )
    rebuilt = MiniLMEmbeddingFunction.build_from_config(embedder.get_config())
    assert rebuilt.get_config() == embedder.get_config() and embedder.default_space() == "cosine"
    chroma = embedder(["Radiohead", "Radiohead songs", "a quiet jazz trio"])
    assert len(chroma) == 3 and np.allclose([np.linalg.norm(v) for v in chroma], 1, atol=1e-5)
    one = embedder.embed_query("Radiohead")
    assert isinstance(one, list) and len(one) == 384 and np.allclose(one, chroma[0], atol=1e-5)
    assert np.allclose(embedder.embed_query(input=["Radiohead"])[0], chroma[0], atol=1e-5)
    assert np.allclose(embedder.embed_documents(["Radiohead songs"])[0], chroma[1], atol=1e-5)
    similar = float(np.dot(chroma[0], chroma[1]))
    assert similar > float(np.dot(chroma[0], chroma[2]))


@pytest.mark.slow
def test_the_onnx_runtime_gives_torchs_vectors():
    # Stored catalogs were embedded by torch: the ONNX export must give the same vectors
    # (the same order too), or searches over them would change.
    texts = [
        "Radiohead",
        "  Paranoid Android by Radiohead ",
        "Björk",
        "東京事変",
        "AC/DC - Back in Black",
        "",
        "a quiet jazz trio with brushes " * 40,  # past MINILM_MAX_TOKENS: truncated alike
        "x",
    ]
    onnx = MiniLMEmbeddingFunction(batch_size=3).encode(texts)
    torch = load_minilm().encode(texts, batch_size=3, normalize_embeddings=True)
    assert onnx.shape == (len(texts), 384) and onnx.dtype == np.float32
    assert np.abs(onnx - torch).max() < 1e-5
    assert MiniLMEmbeddingFunction().encode([]).shape == (0, 384)


@pytest.mark.slow
def test_embedding_ahead_in_worker_processes_gives_the_same_vectors_in_order():
    embedder = MiniLMEmbeddingFunction(batch_size=2)
    batches = [["Radiohead", "Björk", "a quiet jazz trio"], ["Kind of Blue"], ["x", "Low", "Hey"]]
    ahead = list(embedder.encode_ahead(iter(batches)))
    assert [len(vectors) for vectors in ahead] == [3, 1, 3]
    for vectors, texts in zip(ahead, batches, strict=True):
        assert np.abs(vectors - embedder.encode(texts)).max() < 1e-6
    assert list(embedder.encode_ahead(iter([]))) == []


class _Embeddings(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"auth": self.headers["Authorization"], **body})
        if self.headers["Authorization"] != "Bearer good-key":
            self.send_response(401)
            self.end_headers()
            return
        data = [
            {"index": i, "embedding": [float(len(t)), 1.0, 0.0]}
            for i, t in enumerate(body["input"])
        ]
        payload = json.dumps(
            {"object": "list", "data": list(reversed(data)), "model": body["model"]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def openai_server():
    server = HTTPServer(("127.0.0.1", 0), _Embeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_openai_is_used_only_when_chosen_and_speaks_the_protocol(monkeypatch, openai_server):
    monkeypatch.delenv("CATALOG_EMBEDDINGS", raising=False)
    assert isinstance(embedding_function_from_env(), MiniLMEmbeddingFunction)
    monkeypatch.setenv("CATALOG_EMBEDDINGS", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server)
    monkeypatch.setenv("CATALOG_OPENAI_MODEL", "tiny-embed")
    monkeypatch.setenv("OPENAI_API_KEY", "good-key")
    embedder = embedding_function_from_env()
    assert isinstance(embedder, OpenAIEmbeddingFunction) and "good-key" not in json.dumps(
        embedder.get_config()
    )
    vectors = embedder(["ab", "abcd"])
    assert np.allclose(vectors[0], np.array([2, 1, 0]) / np.sqrt(5)) and np.allclose(
        vectors[1], np.array([4, 1, 0]) / np.sqrt(17)
    )
    assert _Embeddings.seen[-1]["model"] == "tiny-embed" and _Embeddings.seen[-1]["input"] == [
        "ab",
        "abcd",
    ]
    assert len(embedder.embed_query("abc")) == 3


def test_openai_failures_are_one_sentence(monkeypatch, openai_server):
    monkeypatch.setenv("CATALOG_EMBEDDINGS", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(CatalogError, match="OPENAI_API_KEY is not set"):
        embedding_function_from_env()(["x"])
    monkeypatch.setenv("OPENAI_API_KEY", "bad-key")
    with pytest.raises(CatalogError, match="HTTP 401"):
        embedding_function_from_env()(["x"])
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(CatalogError, match="Cannot reach the embeddings server"):
        embedding_function_from_env()(["x"])
    monkeypatch.setenv("CATALOG_EMBEDDINGS", "word2vec")
    with pytest.raises(CatalogError, match="unknown"):
        embedding_function_from_env()
