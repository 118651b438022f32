"""``python -m vectorstore.embed_worker BATCH [MODEL_PATH]``: one embedding worker of a build.

Conventions: started by :class:`vectorstore.embeddings.MiniLMEmbeddingFunction.encode_ahead`
through :class:`vectorstore.workers.WorkerProcesses`; each task is a list of texts, each
result the float32 matrix of their MiniLM vectors (ONNX Runtime, one thread).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from vectorstore.embeddings import load_minilm_onnx
from vectorstore.workers import serve


def main(argv: list[str]) -> None:
    batch_size, model_path = int(argv[0]), (argv[1] if len(argv) > 1 else None)

    def start() -> Callable[[list[str]], np.ndarray]:
        model = load_minilm_onnx(model_path, threads=1)
        return lambda texts: model.encode(texts, batch_size)

    serve(start)


if __name__ == "__main__":
    main(sys.argv[1:])
