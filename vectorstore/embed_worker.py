"""``python -m vectorstore.embed_worker BATCH [MODEL_PATH]``: one embedding worker of a build.

Conventions: started by :class:`vectorstore.embeddings.MiniLMEmbeddingFunction.encode_ahead`;
reads pickled lists of texts from stdin until EOF and writes, for each, the pickled float32
matrix of their MiniLM vectors (ONNX Runtime, one thread) to stdout, or the
:class:`vectorstore.errors.CatalogError` that stopped it. Nothing else goes to stdout.
A thread writes the results, so the worker embeds the next list while the build, busy
writing to Chroma, has not yet read the last result (a pipe holds 64 KB, a result
~0.8 MB).
"""

from __future__ import annotations

import pickle
import queue
import sys
import threading
from typing import BinaryIO

from vectorstore.embeddings import load_minilm_onnx
from vectorstore.errors import CatalogError

_DONE = None  # put after the last result: the writer thread ends


def main(argv: list[str]) -> None:
    batch_size, model_path = int(argv[0]), (argv[1] if len(argv) > 1 else None)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    try:
        model = load_minilm_onnx(model_path, threads=1)
    except CatalogError as error:
        pickle.dump(error, sink)
        sink.flush()
        return
    results: queue.Queue = queue.Queue()
    writer = threading.Thread(target=_write_results, args=(results, sink))
    writer.start()
    try:
        while True:
            try:
                texts = pickle.load(source)
            except EOFError:
                return
            results.put(model.encode(texts, batch_size))
    finally:
        results.put(_DONE)
        writer.join()


def _write_results(results: queue.Queue, sink: BinaryIO) -> None:
    while (vectors := results.get()) is not _DONE:
        pickle.dump(vectors, sink)
        sink.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
