"""A build's worker processes: tasks handed out in turn, results back in order, and a
worker that cannot start or dies becomes one CatalogError sentence."""

from __future__ import annotations

import pytest

from vectorstore.errors import CatalogError
from vectorstore.workers import WorkerProcesses

DIED = "A test worker died; run it again."


def test_results_come_back_in_the_order_sent_and_every_worker_gets_tasks():
    with WorkerProcesses("tests.worker_fixture", ["work"], 2, DIED) as workers:
        for number in range(5):
            workers.send([number])  # one task per job: the workers take turns
        workers.send(["a", "b"])  # one job, a task for each worker
        answers = [workers.receive() for _ in range(workers.in_flight)]
    assert [[task for _, task in job] for job in answers] == [[0], [1], [2], [3], [4], ["a", "b"]]
    pids = [pid for job in answers for pid, _ in job]
    assert len(set(pids)) == 2 and pids[0] != pids[1]
    assert workers.in_flight == 0


def test_pipelined_jobs_come_back_in_order_with_a_bounded_number_waiting():
    waiting = []

    def jobs():
        for number in range(7):
            waiting.append(workers.in_flight)  # before this job is sent
            yield [number, -number]

    with WorkerProcesses("tests.worker_fixture", ["work"], 2, DIED) as workers:
        answers = [[task for _, task in job] for job in workers.pipelined(jobs(), ahead=2)]
    assert answers == [[n, -n] for n in range(7)]
    assert max(waiting) == 2 and workers.in_flight == 0


def test_more_tasks_than_workers_in_one_job_is_refused():
    with (
        WorkerProcesses("tests.worker_fixture", ["work"], 1, DIED) as workers,
        pytest.raises(ValueError, match="2 tasks for 1 workers"),
    ):
        workers.send(["a", "b"])


def test_a_worker_that_dies_gives_the_sentence_it_was_given():
    with WorkerProcesses("tests.worker_fixture", ["work"], 1, DIED) as workers:
        workers.send(["die"])
        with pytest.raises(CatalogError) as caught:
            workers.receive()
    assert str(caught.value) == DIED


def test_a_worker_that_cannot_start_sends_its_own_sentence():
    with WorkerProcesses("tests.worker_fixture", ["refuse"], 1, DIED) as workers:
        workers.send(["anything"])
        with pytest.raises(CatalogError, match=r"^The model is missing; run `make install`\.$"):
            workers.receive()


def test_a_task_that_raises_gives_one_sentence_without_its_details(capfd):
    with WorkerProcesses("tests.worker_fixture", ["work"], 1, DIED) as workers:
        workers.send(["fail"])
        with pytest.raises(CatalogError) as caught:
            workers.receive()
    assert str(caught.value) == "A build worker failed (KeyError); run the build again."
    assert "Traceback" not in capfd.readouterr().err and "/some/internal" not in str(caught.value)
