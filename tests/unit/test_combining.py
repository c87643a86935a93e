"""Leader/follower batching (storage/metadata/combining.py) with a stand-in batch runner."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from storage.metadata.combining import Combiner, Job


class Runner:
    """Runs each job's work; the first batch waits until `release` is set."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.running = threading.Event()
        self.fail = False

    def __call__(self, jobs: list[Job[Any]]) -> None:
        self.batches.append([str(id(job)) for job in jobs])
        if len(self.batches) == 1:
            self.running.set()
            assert self.release.wait(60)
        if self.fail:
            raise RuntimeError("commit failed")
        for job in jobs:
            try:
                job.result = job.work(None)  # type: ignore[arg-type]
            except Exception as exc:
                job.error = exc


def _run_all(combiner: Combiner, works: dict[str, Any], runner: Runner) -> dict[str, object]:
    outcomes: dict[str, object] = {}

    def call(name: str) -> None:
        try:
            outcomes[name] = combiner.run(works[name]).outcome()
        except Exception as exc:
            outcomes[name] = exc

    first = threading.Thread(target=call, args=("first",))
    first.start()
    assert runner.running.wait(60)
    others = [threading.Thread(target=call, args=(name,)) for name in works if name != "first"]
    for thread in others:
        thread.start()
    while len(combiner._waiting) < len(others):  # all handed in while the first batch runs
        threading.Event().wait(0.01)
    runner.release.set()
    for thread in [first, *others]:
        thread.join(60)
    return outcomes


def _boom(_: object) -> str:
    raise ValueError("boom")


def test_work_handed_in_during_a_batch_runs_as_the_next_batch() -> None:
    runner = Runner()
    combiner = Combiner(runner)
    works = {"first": lambda _: "one", "a": lambda _: "a", "b": _boom, "c": lambda _: "c"}
    outcomes = _run_all(combiner, works, runner)
    assert [len(batch) for batch in runner.batches] == [1, 3]
    assert outcomes["first"] == "one" and outcomes["a"] == "a" and outcomes["c"] == "c"
    assert isinstance(outcomes["b"], ValueError)  # only its own work failed
    assert combiner.run(lambda _: "later").outcome() == "later"  # nothing left running
    assert [len(batch) for batch in runner.batches] == [1, 3, 1]


def test_a_failed_batch_fails_each_of_its_jobs() -> None:
    runner = Runner()
    runner.fail = True
    combiner = Combiner(runner)
    outcomes = _run_all(combiner, {"first": lambda _: 1, "a": lambda _: 2, "b": lambda _: 3}, runner)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes.values())
    runner.fail = False
    assert combiner.run(lambda _: "recovered").outcome() == "recovered"


def test_one_caller_alone_runs_its_own_batch() -> None:
    runner = Runner()
    runner.release.set()
    with pytest.raises(ValueError):
        Combiner(runner).run(_boom).outcome()
