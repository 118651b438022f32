"""``python -m tests.worker_fixture MODE``: a worker for tests/test_vectorstore_workers.py.

Each task gets back (this worker's pid, the task); the task "die" ends the process without
answering, "fail" raises inside the handler; MODE "refuse" makes the start fail with a
CatalogError sentence.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from vectorstore.errors import CatalogError
from vectorstore.workers import serve


def start(mode: str) -> Callable[[object], object]:
    if mode == "refuse":
        raise CatalogError("The model is missing; run `make install`.")

    def handle(task: object) -> object:
        if task == "die":
            os._exit(3)
        if task == "fail":
            raise KeyError("/some/internal/path")
        return os.getpid(), task

    return handle


if __name__ == "__main__":
    serve(lambda: start(sys.argv[1]))
