"""``python -m vectorstore.embed_worker BATCH [MODEL_PATH]``: one embedding worker of a build.

Conventions: started by :class:`vectorstore.embeddings.MiniLMEmbeddingFunction.encode_ahead`;
reads pickled lists of texts from stdin until EOF and writes, for each, the pickled float32
matrix of their MiniLM vectors (ONNX Runtime, one thread) to stdout, or the
:class:`vectorstore.errors.CatalogError` that stopped it. Nothing else goes to stdout.
"""

from __future__ import annotations

import pickle
import sys

from vectorstore.embeddings import load_minilm_onnx
from vectorstore.errors import CatalogError


def main(argv: list[str]) -> None:
    batch_size, model_path = int(argv[0]), (argv[1] if len(argv) > 1 else None)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    try:
        model = load_minilm_onnx(model_path, threads=1)
    except CatalogError as error:
        pickle.dump(error, sink)
        sink.flush()
        return
    while True:
        try:
            texts = pickle.load(source)
        except EOFError:
            return
        pickle.dump(model.encode(texts, batch_size), sink)
        sink.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
