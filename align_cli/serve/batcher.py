"""Dynamic batching: requests that arrive together are aligned in one run of the model.

A translation tool sends one segment at a time, and a forward pass over one pair costs
nearly as much as over a dozen. So the HTTP handlers do not run the model: they put a
:class:`Job` (a request's pairs) on a bounded queue and await its future. One worker
thread owns the model. It takes the oldest job, then keeps taking waiting jobs until the
run holds ``max_batch_pairs`` pairs or an estimated ``max_tokens``, and aligns them in one
call; the aligner then cuts the merged pairs into length-sorted batches under the exact
token budget. When no job is waiting, the run waits up to ``max_wait_s`` for more, but
only while requests are arriving (``expecting()``: read or being checked, not yet
queued): a burst is merged, and a lone client is never kept waiting for company. While a
run is on the model, new requests queue up and make the next run, so under load the
runs grow by themselves. Jobs with
different settings are merged into the same cycle but run in separate calls (one per
settings key), since one forward pass reads one set of layers.

:func:`length_groups` is how the service cuts a run into forward batches: pairs of one
run arrive in any order and with any lengths, and one batch would pad them all to the
longest.

The model runs outside the event loop: torch releases the GIL during its kernels, so the
loop keeps accepting, validating and answering requests while a batch runs.

The queue is bounded in *pairs*, the unit of work: :meth:`DynamicBatcher.submit` raises
:class:`QueueFull` instead of letting a burst grow memory and latency without bound (the
service answers 503 with ``Retry-After``). A job whose client went away is dropped
before it runs. :meth:`DynamicBatcher.close` refuses new jobs, lets the worker finish every
accepted one, and stops it: what graceful shutdown needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from align_cli.types import AlignmentResult, SentencePair

log = logging.getLogger("align_cli.serve")

RunBatch = Callable[[Hashable, list[SentencePair]], Sequence[AlignmentResult]]


class QueueFull(Exception):
    """The queue holds as many pairs as it may; try again later."""


class ShuttingDown(Exception):
    """The batcher is closing and takes no new jobs."""


class BatchObserver(Protocol):
    def queue_changed(self, requests: int, pairs: int) -> None: ...

    def batch_done(self, requests: int, pairs: int, seconds: float) -> None: ...


class _NoObserver:
    def queue_changed(self, requests: int, pairs: int) -> None:
        pass

    def batch_done(self, requests: int, pairs: int, seconds: float) -> None:
        pass


def estimated_tokens(pairs: Sequence[SentencePair]) -> int:
    """A lower bound of the tokens of ``pairs``: every word is at least one subword piece,
    plus an end-of-sentence token a side. Used only to decide when to stop merging."""
    return sum(len(p.src_words) + len(p.tgt_words) + 2 for p in pairs)


def length_groups(pairs: Sequence[SentencePair], batch_cost_words: float) -> list[list[int]]:
    """Cut a run's pairs into batches of similar length: the indices of each batch.

    A forward pass pads every pair of a batch to its longest source and target, so a run
    merged from independent requests (mixed lengths, in arrival order) wastes much of its
    time on padding; one batch per pair wastes it on per-batch overhead instead. With
    words standing in for tokens, a batch costs ``batch_cost_words`` plus its pairs times
    (longest source + longest target); the pairs are sorted by length and cut where the
    total cost is least (dynamic programming over the cut points, exact for contiguous
    groups of the sorted pairs, which is where the best grouping lies).
    """
    order = sorted(
        range(len(pairs)), key=lambda k: len(pairs[k].src_words) + len(pairs[k].tgt_words)
    )
    best = [0.0] + [float("inf")] * len(order)  # best[end]: cost of order[:end]
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        longest_src = longest_tgt = 0
        for start in range(end - 1, -1, -1):
            pair = pairs[order[start]]
            longest_src = max(longest_src, len(pair.src_words))
            longest_tgt = max(longest_tgt, len(pair.tgt_words))
            cost = best[start] + batch_cost_words + (end - start) * (longest_src + longest_tgt)
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups, end = [], len(order)
    while end > 0:
        groups.append(order[cut[end] : end])
        end = cut[end]
    return groups[::-1]


@dataclass(eq=False)
class Job:
    """One request's pairs, waiting for the worker; ``future`` gets their results."""

    key: Hashable
    pairs: list[SentencePair]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    tokens: int = 0
    # Set by the handler when its client is gone: the worker then skips the job.
    abandoned: threading.Event = field(default_factory=threading.Event)


def _resolve(future: asyncio.Future, result: object, error: BaseException | None) -> None:
    if future.done():  # the handler gave up on it (cancelled)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class DynamicBatcher:
    """A bounded queue of jobs and the one worker thread that runs them."""

    def __init__(
        self,
        run: RunBatch,
        *,
        max_queue_pairs: int,
        max_batch_pairs: int,
        max_tokens: int,
        max_wait_s: float,
        observer: BatchObserver | None = None,
        expecting: Callable[[], int] | None = None,
    ):
        self._run = run
        self.max_queue_pairs = max_queue_pairs
        self.max_batch_pairs = max_batch_pairs
        self.max_tokens = max_tokens
        self.max_wait_s = max_wait_s
        self._observer = observer or _NoObserver()
        # How many requests are arriving (read or checked, not yet submitted): a run
        # waits for more only while some are, so a lone client never waits max_wait_s.
        self._expecting = expecting or (lambda: 1)
        self._queue: deque[Job] = deque()
        self._queued_pairs = 0
        self._condition = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None  # what stopped the worker, if anything

    # -- state --------------------------------------------------------------------------

    @property
    def queued_pairs(self) -> int:
        return self._queued_pairs

    @property
    def alive(self) -> bool:
        """Whether the worker is running and takes jobs."""
        return self._thread is not None and self._thread.is_alive() and not self._closing

    # -- the handlers' side -------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the batcher is already started")
        self._thread = threading.Thread(target=self._work, name="xalign-model", daemon=True)
        self._thread.start()

    def submit(self, key: Hashable, pairs: list[SentencePair]) -> Job:
        """Queue ``pairs`` (run with the aligner of ``key``); await ``job.future``.

        Call from the event loop. Raises :class:`QueueFull` when the pairs do not fit,
        :class:`ShuttingDown` once :meth:`close` has begun.
        """
        loop = asyncio.get_running_loop()
        job = Job(key, pairs, loop, loop.create_future(), estimated_tokens(pairs))
        with self._condition:
            if self._closing or self._thread is None:
                raise ShuttingDown
            if self._queued_pairs + len(pairs) > self.max_queue_pairs:
                raise QueueFull
            self._queue.append(job)
            self._queued_pairs += len(pairs)
            self._changed()
            self._condition.notify()
        return job

    def close(self, timeout: float | None = None) -> bool:
        """Refuse new jobs, let the worker finish the accepted ones, and stop it.

        Returns whether the worker stopped within ``timeout``.
        """
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the worker's side --------------------------------------------------------------

    def _changed(self) -> None:
        self._observer.queue_changed(len(self._queue), self._queued_pairs)

    def _take(self, job: Job) -> None:
        self._queue.popleft()
        self._queued_pairs -= len(job.pairs)

    def _next_run(self) -> list[Job] | None:
        """The jobs of the next run (waiting for the first one), or None when closed and
        drained."""
        with self._condition:
            while True:
                while self._queue and self._queue[0].abandoned.is_set():
                    self._take(self._queue[0])
                if self._queue:
                    break
                self._changed()
                if self._closing:
                    return None
                self._condition.wait()
            first = self._queue[0]
            self._take(first)
            run, pairs, tokens = [first], len(first.pairs), first.tokens
            deadline = time.monotonic() + self.max_wait_s
            while pairs < self.max_batch_pairs and tokens < self.max_tokens:
                if self._queue:
                    job = self._queue[0]
                    if job.abandoned.is_set():
                        self._take(job)
                        continue
                    if pairs + len(job.pairs) > self.max_batch_pairs:
                        break  # it starts the next run instead
                    self._take(job)
                    run.append(job)
                    pairs += len(job.pairs)
                    tokens += job.tokens
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closing or self._expecting() <= 0:
                    break
                self._condition.wait(remaining)
            self._changed()
            return run

    def _work(self) -> None:
        try:
            while (run := self._next_run()) is not None:
                self._run_jobs(run)
        except BaseException as error:  # a bug: health turns "worker stopped"
            self.failure = error
            log.exception("the model worker stopped")
            with self._condition:
                self._closing = True
                failed = list(self._queue)
                self._queue.clear()
                self._queued_pairs = 0
            for job in failed:
                with contextlib.suppress(RuntimeError):
                    job.loop.call_soon_threadsafe(_resolve, job.future, None, error)

    def _run_jobs(self, run: list[Job]) -> None:
        groups: dict[Hashable, list[Job]] = {}
        for job in run:
            groups.setdefault(job.key, []).append(job)
        started = time.perf_counter()
        for key, jobs in groups.items():
            merged = [pair for job in jobs for pair in job.pairs]
            try:
                results: Sequence[AlignmentResult] = self._run(key, merged)
                error: BaseException | None = None
            except Exception as failure:  # reported to these jobs only
                results, error = [], failure
            start = 0
            for job in jobs:
                stop = start + len(job.pairs)
                part = None if error is not None else list(results[start:stop])
                start = stop
                # RuntimeError: its event loop is closed, nobody is waiting.
                with contextlib.suppress(RuntimeError):
                    job.loop.call_soon_threadsafe(_resolve, job.future, part, error)
        self._observer.batch_done(
            len(run), sum(len(job.pairs) for job in run), time.perf_counter() - started
        )
