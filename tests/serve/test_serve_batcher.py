"""The dynamic batcher on its own, with a fake model: what is merged into one run, what
is refused, what survives a close. No model, no HTTP; the worker is held at a gate so
that each test decides exactly what is waiting when a run starts."""

from __future__ import annotations

import asyncio
import threading

import pytest

pytest.importorskip("starlette", reason="xalign serve needs the serve extra")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from align_cli.serve.batcher import (  # noqa: E402
    DynamicBatcher,
    QueueFull,
    ShuttingDown,
    length_groups,
)
from align_cli.types import AlignmentResult, SentencePair  # noqa: E402


class FakeModel:
    """Records each run (key, words of each pair); the first run waits at ``gate``."""

    def __init__(self, fail_key: object = None):
        self.runs: list[tuple[object, list[str]]] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.fail_key = fail_key

    def __call__(self, key: object, pairs: list[SentencePair]) -> list[AlignmentResult]:
        self.entered.set()
        assert self.gate.wait(10), "the test never opened the gate"
        self.runs.append((key, [p.src_words[0] for p in pairs]))
        if key == self.fail_key:
            raise ValueError(f"run of {key} failed")
        # The result of a pair links word 0 to word 0 and carries the pair back.
        return [AlignmentResult(p, [(0, 0)], [1.0]) for p in pairs]


def pair(name: str, words: int = 1) -> SentencePair:
    return SentencePair(0, (name,) + ("w",) * (words - 1), ("t",) * words)


def batcher(model: FakeModel, **options: object) -> DynamicBatcher:
    settings = {"max_queue_pairs": 100, "max_batch_pairs": 8, "max_tokens": 10_000}
    settings.update(options)
    return DynamicBatcher(model, max_wait_s=0.0, **settings)  # type: ignore[arg-type]


async def hold_first_run(model: FakeModel, jobs: DynamicBatcher) -> asyncio.Future:
    """Submit a job 'first' and wait until the worker is blocked inside its run."""
    job = jobs.submit("k", [pair("first")])
    assert await asyncio.to_thread(model.entered.wait, 10)
    return job.future


def test_jobs_waiting_together_are_merged_into_one_run_and_answered_separately() -> None:
    model = FakeModel()

    async def scenario() -> None:
        jobs = batcher(model)
        jobs.start()
        first = await hold_first_run(model, jobs)
        waiting = [jobs.submit("k", [pair(f"a{n}"), pair(f"b{n}")]) for n in range(3)]
        assert jobs.queued_pairs == 6
        model.gate.set()
        results = await asyncio.gather(first, *(job.future for job in waiting))
        jobs.close(10)
        assert model.runs == [("k", ["first"]), ("k", ["a0", "b0", "a1", "b1", "a2", "b2"])]
        for n, result in enumerate(results[1:]):
            assert [r.pair.src_words[0] for r in result] == [f"a{n}", f"b{n}"]

    asyncio.run(scenario())


def test_a_run_takes_whole_jobs_up_to_max_batch_pairs() -> None:
    model = FakeModel()

    async def scenario() -> None:
        jobs = batcher(model, max_batch_pairs=4)
        jobs.start()
        first = await hold_first_run(model, jobs)
        # In order, never split: 1+2 (a third job of 2 would pass 4), 2 (2+3 would), 3+1,
        # then 6, bigger than a run, alone.
        sizes = [1, 2, 2, 3, 1, 6]
        waiting = [jobs.submit("k", [pair(f"j{n}")] * size) for n, size in enumerate(sizes)]
        model.gate.set()
        await asyncio.gather(first, *(job.future for job in waiting))
        jobs.close(10)
        assert [len(words) for _, words in model.runs] == [1, 3, 2, 4, 6]
        assert [words[0] for _, words in model.runs] == ["first", "j0", "j2", "j3", "j5"]

    asyncio.run(scenario())


def test_merging_stops_at_the_token_estimate() -> None:
    model = FakeModel()

    async def scenario() -> None:
        jobs = batcher(model, max_tokens=20)
        jobs.start()
        first = await hold_first_run(model, jobs)
        # 4 words a side + 2 end tokens = 10 estimated tokens a pair: two pairs reach 20.
        waiting = [jobs.submit("k", [pair(f"p{n}", words=4)]) for n in range(5)]
        model.gate.set()
        await asyncio.gather(first, *(job.future for job in waiting))
        jobs.close(10)
        assert [words for _, words in model.runs[1:]] == [["p0", "p1"], ["p2", "p3"], ["p4"]]

    asyncio.run(scenario())


def test_jobs_with_different_settings_share_a_cycle_but_not_a_run() -> None:
    model = FakeModel()

    async def scenario() -> None:
        jobs = batcher(model)
        jobs.start()
        first = await hold_first_run(model, jobs)
        keys = ["x", "y", "x", "y"]
        waiting = [jobs.submit(key, [pair(f"{key}{n}")]) for n, key in enumerate(keys)]
        model.gate.set()
        await asyncio.gather(first, *(job.future for job in waiting))
        jobs.close(10)
        assert model.runs[1:] == [("x", ["x0", "x2"]), ("y", ["y1", "y3"])]

    asyncio.run(scenario())


def test_a_full_queue_refuses_and_accepts_again_once_it_drains() -> None:
    model = FakeModel()

    async def scenario() -> None:
        jobs = batcher(model, max_queue_pairs=3)
        jobs.start()
        first = await hold_first_run(model, jobs)
        queued = jobs.submit("k", [pair("a"), pair("b")])
        with pytest.raises(QueueFull):
            jobs.submit("k", [pair("c"), pair("d")])  # 2 + 2 > 3
        last = jobs.submit("k", [pair("e")])  # 2 + 1 fits
        model.gate.set()
        await asyncio.gather(first, queued.future, last.future)
        again = jobs.submit("k", [pair("c"), pair("d")])
        await again.future
        jobs.close(10)
        assert "c" not in model.runs[1][1]

    asyncio.run(scenario())


def test_an_abandoned_job_is_never_run() -> None:
    model = FakeModel()

    async def scenario() -> None:
        jobs = batcher(model)
        jobs.start()
        first = await hold_first_run(model, jobs)
        gone = jobs.submit("k", [pair("gone")])
        kept = jobs.submit("k", [pair("kept")])
        gone.abandoned.set()
        model.gate.set()
        await asyncio.gather(first, kept.future)
        jobs.close(10)
        assert model.runs[1] == ("k", ["kept"])
        assert not gone.future.done()
        assert jobs.queued_pairs == 0

    asyncio.run(scenario())


def test_close_answers_every_accepted_job_then_refuses_new_ones() -> None:
    model = FakeModel()

    async def scenario() -> None:
        jobs = batcher(model, max_batch_pairs=2)
        jobs.start()
        first = await hold_first_run(model, jobs)
        waiting = [jobs.submit("k", [pair(f"q{n}")]) for n in range(5)]
        closer = asyncio.ensure_future(asyncio.to_thread(jobs.close, 10))
        await asyncio.sleep(0)  # let close() begin while the worker is still blocked
        model.gate.set()
        assert await closer
        with pytest.raises(ShuttingDown):
            jobs.submit("k", [pair("late")])
        results = await asyncio.gather(first, *(job.future for job in waiting))
        assert [r[0].pair.src_words[0] for r in results] == ["first"] + [f"q{n}" for n in range(5)]

    asyncio.run(scenario())


def test_a_failing_run_fails_its_own_jobs_only_and_the_worker_goes_on() -> None:
    model = FakeModel(fail_key="bad")

    async def scenario() -> None:
        jobs = batcher(model)
        jobs.start()
        first = await hold_first_run(model, jobs)
        bad = jobs.submit("bad", [pair("b")])
        good = jobs.submit("k", [pair("g")])
        model.gate.set()
        await first
        with pytest.raises(ValueError, match="run of bad failed"):
            await bad.future
        assert (await good.future)[0].pair.src_words == ("g",)
        later = jobs.submit("k", [pair("later")])
        assert (await later.future)[0].pair.src_words == ("later",)
        assert jobs.alive
        jobs.close(10)

    asyncio.run(scenario())


def test_a_run_waits_for_requests_still_arriving_and_not_for_nobody() -> None:
    model = FakeModel()
    model.gate.set()
    arriving = [1]

    async def scenario() -> None:
        # max_wait is an hour: a run that waited for nobody would hang the test.
        jobs = DynamicBatcher(
            model,
            max_queue_pairs=100,
            max_batch_pairs=8,
            max_tokens=10_000,
            max_wait_s=3600,
            expecting=lambda: arriving[0],
        )
        jobs.start()
        first = jobs.submit("k", [pair("a")])
        # The worker takes it and, one request still arriving, waits for it (a worker that
        # did not wait would be given the time to run "a" alone here).
        while jobs.queued_pairs:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)
        assert not model.entered.is_set()
        second = jobs.submit("k", [pair("b")])
        arriving[0] = 0
        await asyncio.wait_for(asyncio.gather(first.future, second.future), 30)
        assert model.runs == [("k", ["a", "b"])]
        # Nobody arriving: a lone job runs at once, despite the hour of max_wait.
        alone = jobs.submit("k", [pair("c")])
        await asyncio.wait_for(alone.future, 30)
        assert model.runs[-1] == ("k", ["c"])
        jobs.close(10)

    asyncio.run(scenario())


def _cost(pairs: list[SentencePair], groups: list[list[int]], batch_cost: float) -> float:
    return sum(
        batch_cost
        + len(group)
        * (
            max(len(pairs[k].src_words) for k in group)
            + max(len(pairs[k].tgt_words) for k in group)
        )
        for group in groups
    )


def _partitions(items: list[int]):  # every way to cut a sequence into contiguous groups
    if not items:
        yield []
        return
    for end in range(1, len(items) + 1):
        for rest in _partitions(items[end:]):
            yield [items[:end], *rest]


lengths = st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), min_size=1, max_size=7)


@settings(max_examples=200, deadline=None)
@given(lengths=lengths, batch_cost=st.sampled_from([0.0, 5.0, 40.0, 100.0, 1e9]))
def test_length_groups_is_the_cheapest_cut_of_the_length_sorted_pairs(
    lengths: list[tuple[int, int]], batch_cost: float
) -> None:
    pairs = [SentencePair(k, ("s",) * a, ("t",) * b) for k, (a, b) in enumerate(lengths)]
    groups = length_groups(pairs, batch_cost)
    assert sorted(k for group in groups for k in group) == list(range(len(pairs)))
    order = [k for group in groups for k in group]
    total = [len(pairs[k].src_words) + len(pairs[k].tgt_words) for k in order]
    assert total == sorted(total)
    cheapest = min(_cost(pairs, cut, batch_cost) for cut in _partitions(order))
    assert _cost(pairs, groups, batch_cost) == pytest.approx(cheapest)


def test_length_groups_keeps_a_run_whole_when_batches_are_dear_and_splits_when_cheap() -> None:
    short = [SentencePair(k, ("s",) * 3, ("t",) * 3) for k in range(4)]
    long = [SentencePair(4 + k, ("s",) * 40, ("t",) * 40) for k in range(4)]
    mixed = [p for pair in zip(short, long, strict=True) for p in pair]
    assert length_groups(mixed, 1e9) == [[0, 2, 4, 6, 1, 3, 5, 7]]
    # One batch pads the four short pairs to 80 words: 4 * 74 wasted, more than a batch.
    assert length_groups(mixed, 100) == [[0, 2, 4, 6], [1, 3, 5, 7]]
