"""The alignment service without HTTP: limits, per-request settings, batching, transfer.

:class:`AlignmentService` holds the model (loaded once, by :meth:`AlignmentService.load`),
the :class:`~align_cli.serve.batcher.DynamicBatcher` whose worker thread runs it, and the
metrics. Its :meth:`~AlignmentService.align` and :meth:`~AlignmentService.transfer`
coroutines take validated request models and return response models; every refusal is a
:class:`RequestError` carrying its HTTP status and, for a limit, the limit's name. The
web layer (:mod:`align_cli.serve.app`) only reads bodies, checks tokens and writes JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Sequence

from align_cli.aligners.base import Aligner
from align_cli.errors import XalignError
from align_cli.io.formats import format_pharaoh
from align_cli.io.formats.jsonl import unaligned
from align_cli.io.tokenize import get_tokenizer
from align_cli.serve.batcher import DynamicBatcher, Job, QueueFull, ShuttingDown, length_groups
from align_cli.serve.config import CPU_BATCH_COST_WORDS, ServeLimits
from align_cli.serve.metrics import ServiceMetrics
from align_cli.serve.schemas import (
    AlignRequest,
    AlignResponse,
    AlignResult,
    HealthResponse,
    RequestSettings,
    TransferRequest,
    TransferResponse,
    TransferResult,
    segment_chars,
    split_segment,
)
from align_cli.serve.variants import AlignerVariants
from align_cli.settings import AlignerSpec
from align_cli.tools.transfer import (
    MarkupError,
    insert_tags,
    interleave,
    join_tokens,
    parse_markup,
    target_sequence,
)
from align_cli.types import AlignmentResult, Link, SentencePair

Watch = Callable[[], Awaitable[object]]


class RequestError(Exception):
    """A request the service refuses: an HTTP status and a JSON body that says why."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        limit: str | None = None,
        maximum: float | None = None,
        details: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.limit = limit
        self.maximum = maximum
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.message}
        if self.limit is not None:
            body["limit"] = self.limit
            body["max"] = self.maximum
        if self.details is not None:
            body["details"] = self.details
        return body


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


class Arrival:
    """A request from its first byte until it is queued (or refused): while any is open,
    a run of the model waits a little for it. :meth:`done` may be called more than once."""

    def __init__(self, service: AlignmentService):
        self._service = service
        self._open = True
        service.arriving += 1

    def done(self) -> None:
        if self._open:
            self._open = False
            self._service.arriving -= 1

    def __enter__(self) -> Arrival:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.done()


class AlignmentService:
    """One loaded aligner behind a bounded, batching queue."""

    def __init__(
        self,
        spec: AlignerSpec,
        aligner: Aligner,
        limits: ServeLimits | None = None,
        *,
        metrics: ServiceMetrics | None = None,
    ):
        self.spec = spec
        self.limits = limits or ServeLimits()
        self.metrics = metrics or ServiceMetrics()
        self.variants = AlignerVariants(spec, aligner)
        self.signature = str(aligner.signature)
        self._signatures: dict[AlignerSpec, str] = {spec: self.signature}
        self.batcher = DynamicBatcher(
            self._run,
            max_queue_pairs=self.limits.max_queue_pairs,
            max_batch_pairs=self.limits.max_batch_pairs,
            max_tokens=spec.batching.max_tokens,
            max_wait_s=self.limits.max_wait_ms / 1000,
            observer=self.metrics,
            expecting=lambda: self.arriving,
        )
        # Requests read or checked right now, not yet queued (see DynamicBatcher).
        self.arriving = 0
        self.draining = False
        # Jobs put on the queue, jobs whose handler got their outcome, and jobs whose
        # client went away first: accepted == answered + abandoned once drained.
        self.accepted = 0
        self.answered = 0
        self.abandoned = 0

    @classmethod
    def load(cls, spec: AlignerSpec, limits: ServeLimits | None = None) -> AlignmentService:
        """Load the model of ``spec`` (once, here) and build the service around it."""
        from align_cli.aligners.factory import build_aligner

        return cls(spec, build_aligner(spec), limits)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.batcher.start()

    def begin_shutdown(self) -> None:
        """New requests are refused from now on; accepted ones still finish."""
        self.draining = True

    def stop(self, timeout: float | None = None) -> bool:
        """Finish every accepted job and stop the worker."""
        self.draining = True
        return self.batcher.close(timeout)

    def health(self) -> HealthResponse:
        if self.draining:
            status = "shutting down"
        elif self.batcher.failure is not None:
            status = "worker stopped"
        elif not self.batcher.alive:
            status = "starting"
        else:
            status = "ok"
        return HealthResponse(
            status=status,
            live=True,
            ready=status == "ok",
            model=self.spec.model,
            signature=self.signature,
            queue_pairs=self.batcher.queued_pairs,
        )

    # -- the model worker's side --------------------------------------------------------

    def _run(self, spec: AlignerSpec, pairs: list[SentencePair]) -> list[AlignmentResult]:
        aligner = self.variants.aligner(spec)
        signature = aligner.signature
        self._signatures[spec] = str(signature)
        cost = self.limits.batch_cost_words
        if cost is None:
            cost = CPU_BATCH_COST_WORDS if signature.get("device") == "cpu" else math.inf
        groups = [list(range(len(pairs)))] if math.isinf(cost) else length_groups(pairs, cost)
        results: list[AlignmentResult | None] = [None] * len(pairs)
        for group in groups:
            # Matrices are tiny for segments within the limits; keep them so that any
            # request in the run may have its own.
            aligned = aligner.align_pairs([pairs[k] for k in group], include_matrix=True)
            for k, result in zip(group, aligned, strict=True):
                results[k] = result
        return results  # type: ignore[return-value]

    # -- checks -------------------------------------------------------------------------

    def _check_count(self, count: int) -> None:
        if count > self.limits.max_pairs:
            raise RequestError(
                413,
                f"{count} pairs in one request; at most {self.limits.max_pairs} (send several "
                "requests)",
                limit="max_pairs",
                maximum=self.limits.max_pairs,
            )

    def _check_segment(
        self, segment: str | list[str], where: str, tokenize: str = "whitespace"
    ) -> tuple[str, ...]:
        return self._split_segment(segment, where, tokenize)[0]

    def _split_segment(
        self, segment: str | list[str], where: str, tokenize: str = "whitespace"
    ) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...] | None]:
        chars = segment_chars(segment)
        if chars > self.limits.max_segment_chars:
            raise RequestError(
                422,
                f"{where} has {chars} characters; at most {self.limits.max_segment_chars}",
                limit="max_segment_chars",
                maximum=self.limits.max_segment_chars,
            )
        if not isinstance(segment, str):
            for k, word in enumerate(segment):
                if not word or word != "".join(word.split()):
                    # Such a word could not be written back as text, nor its links read.
                    raise RequestError(
                        422, f"{where} word {k} ({word!r}) is empty or contains whitespace"
                    )
        return split_segment(segment, tokenize)

    def _spec_for(self, settings: RequestSettings | None) -> AlignerSpec:
        try:
            return self.variants.spec_for(settings.given() if settings is not None else {})
        except XalignError as error:
            raise RequestError(422, f"settings: {error}") from None

    # -- requests -----------------------------------------------------------------------

    async def _align_pairs(
        self,
        spec: AlignerSpec,
        pairs: list[SentencePair],
        watch: Watch | None,
        arrival: Arrival | None,
    ) -> list[AlignmentResult]:
        with arrival if arrival is not None else contextlib.nullcontext():
            if not pairs:
                return []
            job = self._submit(spec, pairs)
        return await self._wait(job, watch)

    def _submit(self, spec: AlignerSpec, pairs: list[SentencePair]) -> Job:
        if self.draining:
            raise RequestError(503, "the service is shutting down", headers={"Connection": "close"})
        try:
            job = self.batcher.submit(spec, pairs)
        except QueueFull:
            raise RequestError(
                503,
                f"the queue is full ({self.batcher.queued_pairs} pairs waiting, at most "
                f"{self.limits.max_queue_pairs}); retry after {self.limits.retry_after_s} s",
                limit="max_queue_pairs",
                maximum=self.limits.max_queue_pairs,
                headers={"Retry-After": str(self.limits.retry_after_s)},
            ) from None
        except ShuttingDown:
            raise RequestError(
                503, "the service is shutting down", headers={"Connection": "close"}
            ) from None
        self.accepted += 1
        return job

    async def _wait(self, job: Job, watch: Watch | None) -> list[AlignmentResult]:
        watcher = asyncio.ensure_future(watch()) if watch is not None else None
        try:
            waiting: set[asyncio.Future] = {job.future}
            if watcher is not None:
                waiting.add(watcher)
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if job.future not in done:
                raise ClientGone
            self.answered += 1
            try:
                return job.future.result()
            except XalignError as error:
                raise RequestError(422, str(error)) from None
        except (ClientGone, asyncio.CancelledError):
            job.abandoned.set()
            job.future.cancel()  # a result (or failure) arriving later is dropped quietly
            self.abandoned += 1
            self.metrics.abandoned.inc()
            raise
        finally:
            if watcher is not None:
                watcher.cancel()

    async def align(
        self, request: AlignRequest, watch: Watch | None = None, arrival: Arrival | None = None
    ) -> AlignResponse:
        """Align the request's pairs; ``watch`` returns when the client disconnects, and
        ``arrival`` (the HTTP layer's, opened when the request began) closes once the pairs
        are queued."""
        self._check_count(len(request.pairs))
        pairs = []
        for k, pair in enumerate(request.pairs):
            src, src_offsets = self._split_segment(
                pair.source, f"pairs[{k}].source", request.tokenize
            )
            tgt, tgt_offsets = self._split_segment(
                pair.target, f"pairs[{k}].target", request.tokenize
            )
            pairs.append(SentencePair(k, src, tgt, k + 1, src_offsets, tgt_offsets))
        spec = self._spec_for(request.settings)
        results = await self._align_pairs(spec, pairs, watch, arrival)
        signature = str(self._signatures.get(spec, self.signature))
        if request.tokenize != "whitespace":  # as extract's signature says it
            signature += f"|tokenize:{request.tokenize}"
        return AlignResponse(
            signature=signature,
            results=[_align_result(r, request.include_matrix, request.flags) for r in results],
        )

    async def transfer(
        self, request: TransferRequest, watch: Watch | None = None, arrival: Arrival | None = None
    ) -> TransferResponse:
        """Carry each source's tags into its target, aligning the pairs without links."""
        self._check_count(len(request.pairs))
        split = None if request.tokenize == "whitespace" else get_tokenizer(request.tokenize).spans
        prepared = []
        for k, pair in enumerate(request.pairs):
            self._check_segment(pair.source, f"pairs[{k}].source")
            target_words, target_spans = self._split_segment(
                pair.target, f"pairs[{k}].target", request.tokenize
            )
            try:
                markup = parse_markup(pair.source, split) if split else parse_markup(pair.source)
            except MarkupError as error:
                raise RequestError(422, f"pairs[{k}].source: {error}") from None
            if pair.links is not None:
                _check_links(pair.links, len(markup.words), len(target_words), f"pairs[{k}]")
            prepared.append((markup, target_words, target_spans, pair))
        todo = [
            SentencePair(k, markup.words, target_words, k + 1)
            for k, (markup, target_words, _, pair) in enumerate(prepared)
            if pair.links is None
        ]
        spec = self._spec_for(request.settings)
        aligned = {
            r.pair.index: r.links for r in await self._align_pairs(spec, todo, watch, arrival)
        }
        results = []
        for k, (markup, target_words, target_spans, pair) in enumerate(prepared):
            links = [tuple(link) for link in pair.links] if pair.links is not None else aligned[k]
            if target_spans is None:  # words: the tagged tokens, joined by single spaces
                target = join_tokens(insert_tags(markup, target_words, links))
            else:  # raw text: the tags go into it as it is
                _, sequence = target_sequence(markup, len(target_words), links)
                pieces = interleave(pair.target, target_spans, sequence)
                target = "".join(p if isinstance(p, str) else p.text for p in pieces)
            results.append(
                TransferResult(
                    target=target,
                    links=links,
                    source_words=list(markup.words),
                    target_words=list(target_words),
                )
            )
        signature = None
        if todo:
            signature = str(self._signatures.get(spec, self.signature))
            if request.tokenize != "whitespace":
                signature += f"|tokenize:{request.tokenize}"
        return TransferResponse(signature=signature, results=results)


def _check_links(links: Sequence[Link], n_src: int, n_tgt: int, where: str) -> None:
    for i, j in links:
        if not (0 <= i < n_src and 0 <= j < n_tgt):
            raise RequestError(
                422,
                f"{where}.links: link {i}-{j} is outside the {n_src} source words (tags left "
                f"out) and {n_tgt} target words",
            )


def _align_result(result: AlignmentResult, include_matrix: bool, flags: bool) -> AlignResult:
    matrix = None
    if include_matrix and result.matrix is not None:
        matrix = [[round(float(x), 6) for x in row] for row in result.matrix.tolist()]
    pair = result.pair
    return AlignResult(
        source_words=list(result.pair.src_words),
        target_words=list(result.pair.tgt_words),
        links=result.links,
        scores=[float(s) for s in result.scores],
        pharaoh=format_pharaoh(result.links),
        skipped=result.skipped,
        matrix=matrix,
        source_offsets=None if pair.src_offsets is None else list(pair.src_offsets),
        target_offsets=None if pair.tgt_offsets is None else list(pair.tgt_offsets),
        unaligned_source=unaligned(len(pair.src_words), (i for i, _ in result.links))
        if flags
        else None,
        unaligned_target=unaligned(len(pair.tgt_words), (j for _, j in result.links))
        if flags
        else None,
    )
