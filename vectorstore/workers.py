"""Worker processes of a build: their own interpreters, fed pickled tasks through pipes.

Conventions
-----------
- A build runs :func:`worker_count` workers beside itself: one per core it may use. Two
  kinds use them: the embedding workers (``python -m vectorstore.embed_worker``) and the
  card render workers of a track file (``python -m vectorstore.track_stream``).
- Processes, not threads: the work is Python, or C code called while the build process
  holds the GIL (Chroma's upsert). Their own interpreters, not :mod:`multiprocessing`'s:
  a spawned child re-runs the caller's script when it has no ``__main__`` guard, and a
  forked one inherits the locks of the caller's threads (a demo server's, say).
- The protocol: the parent writes pickled tasks to a worker's stdin; the worker
  (:func:`serve`) writes one pickled result per task to its stdout, in order, and ends at
  EOF; a task that fails gets a :class:`vectorstore.errors.CatalogError` sentence instead
  (its own, or one naming only the exception's type: no traceback reaches the user), and
  the worker stops. A thread
  writes the results, so a worker starts its next task while the parent, busy, has not
  yet read the last result (a pipe holds 64 KB).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from vectorstore.errors import CatalogError

_DONE = None  # put after the last result: the writer thread ends


def worker_count() -> int:
    """One worker per core this process may use (its CPU affinity, not the machine's)."""
    return len(os.sched_getaffinity(0))


class WorkerProcesses:
    """``count`` processes running ``python -m module *arguments`` (:func:`serve` inside).

    A job is a list of tasks, at most one per worker, handed out in turn; :meth:`receive`
    gives the results of the oldest job not yet received. ``died`` is the sentence raised
    when a worker ends before answering."""

    def __init__(self, module: str, arguments: Sequence[str], count: int, died: str) -> None:
        # The worker imports this very package, wherever the caller's working folder is.
        package_root = str(Path(__file__).resolve().parents[1])
        path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", module, *arguments],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": path},
            )
            for _ in range(count)
        ]
        self.died = died
        self.sent: deque[list[subprocess.Popen[bytes]]] = deque()  # per job, its workers
        self._next = 0  # the worker given the next task

    @property
    def in_flight(self) -> int:
        """Jobs sent whose results are not yet received."""
        return len(self.sent)

    def send(self, tasks: Sequence[Any]) -> None:
        """Give each task of one job to the next worker in turn."""
        if len(tasks) > len(self.processes):
            raise ValueError(f"{len(tasks)} tasks for {len(self.processes)} workers")
        given = []
        for task in tasks:
            process = self.processes[self._next]
            self._next = (self._next + 1) % len(self.processes)
            with contextlib.suppress(OSError):  # a worker gone: receive() says so
                pickle.dump(task, process.stdin)
                process.stdin.flush()  # type: ignore[union-attr]
            given.append(process)
        self.sent.append(given)

    def pipelined(self, jobs: Iterable[Sequence[Any]], ahead: int) -> Iterator[list[Any]]:
        """The results of each job, in order, sent while earlier ones are still worked on:
        at most ``ahead`` jobs wait beyond the one whose results are being received."""
        for tasks in jobs:
            self.send(tasks)
            if self.in_flight > ahead:
                yield self.receive()
        while self.in_flight:
            yield self.receive()

    def receive(self) -> list[Any]:
        """The results of the oldest job sent and not yet received, task by task."""
        results = []
        for process in self.sent.popleft():
            try:
                result = pickle.load(process.stdout)  # type: ignore[arg-type]
            except (EOFError, OSError, pickle.UnpicklingError):
                raise CatalogError(self.died) from None
            if isinstance(result, CatalogError):
                raise result
            results.append(result)
        return results

    def __enter__(self) -> WorkerProcesses:
        return self

    def __exit__(self, *_: object) -> None:
        for process in self.processes:
            with contextlib.suppress(OSError):
                process.stdin.close()  # type: ignore[union-attr]  # the worker sees EOF
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()  # type: ignore[union-attr]


def serve(start: Callable[[], Callable[[Any], Any]]) -> None:
    """A worker's main loop: ``start()`` makes the task handler (a
    :class:`CatalogError` it raises is sent instead, once), then every task read from
    stdin gets the handler's result on stdout, until EOF."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    try:
        handle = start()
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
                task = pickle.load(source)
            except EOFError:
                return
            try:
                results.put(handle(task))
            except CatalogError as error:
                results.put(error)
                return
            except Exception as error:  # one sentence for the user, not a traceback
                results.put(
                    CatalogError(
                        f"A build worker failed ({type(error).__name__}); run the build again."
                    )
                )
                return
    finally:
        results.put(_DONE)
        writer.join()


def _write_results(results: queue.Queue, sink: BinaryIO) -> None:
    while (result := results.get()) is not _DONE:
        pickle.dump(result, sink)
        sink.flush()
