"""``xalign extract --ray``: align on Ray actors across a cluster, write one ordered output.

The driver (the ``xalign`` process) reads the corpus and cuts it into the same windows as
a single-process run; each actor loads the model once and aligns whole windows; the driver
writes the results in input order through the same writer, so the output, and the resume
guarantee, are those of a single-process run. At most ``in_flight`` windows per actor are
out at any time, so the driver's memory stays flat however large the corpus.

Ray is optional (``pip install 'xalign[ray]'``). Every node needs xalign installed and the
model reachable under the same name (a shared folder, or a hub id in each node's cache).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from align_cli.aligners.factory import build_aligner
from align_cli.errors import XalignError
from align_cli.settings import AlignerSpec
from align_cli.signature import Signature
from align_cli.types import AlignmentResult, SentencePair

LOCAL = "local"  # --ray with no address: start a Ray instance on this machine


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise XalignError(
            "--ray needs Ray, which is not installed: pip install 'xalign[ray]'"
        ) from None
    return ray


def connect(address: str) -> None:
    """Join the Ray cluster at ``address`` (``auto``, ``host:port``, ``ray://...``), or
    start one on this machine for ``local``. Reuses a connection this process already has.
    """
    ray = _import_ray()
    if ray.is_initialized():
        return
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
    try:
        if address == LOCAL:
            ray.init(include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise XalignError(
            f"cannot connect to the Ray cluster at {address!r}: {error}".splitlines()[0]
        ) from None


class _AlignActor:
    """One model replica. Created through ``ray.remote`` by :class:`RayBackend`."""

    def __init__(self, spec: AlignerSpec):
        self.aligner = build_aligner(spec)

    def signature(self) -> Signature:
        return self.aligner.signature

    def align(self, window: list[SentencePair]) -> list[AlignmentResult]:
        return list(self.aligner.align_pairs(window))


class RayBackend:
    """Aligns windows on ``actors`` Ray actors; yields their results in input order."""

    def __init__(
        self,
        spec: AlignerSpec,
        *,
        actors: int | None = None,
        in_flight: int = 2,
    ):
        ray = _import_ray()
        self._ray = ray
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0)) if spec.device != "cpu" else 0
        if actors is None:
            actors = gpus or max(1, int(resources.get("CPU", 1)))
        if actors < 1:
            raise XalignError("--ray-actors must be at least 1")
        # One GPU per actor where the cluster has them, else one CPU each (so a CPU actor
        # runs torch on one thread and the cluster's cores are shared out evenly).
        per_actor = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": 1}
        remote_class = ray.remote(_AlignActor).options(
            # A window is a pure function of its pairs, so a lost actor is restarted and its
            # windows are simply aligned again.
            max_restarts=2,
            max_task_retries=2,
            **per_actor,
        )
        self.actors = [remote_class.remote(spec) for _ in range(actors)]
        self.in_flight_limit = max(1, in_flight) * actors
        try:
            self.signature: Signature = ray.get(self.actors[0].signature.remote())
            # Wait for every replica, so a model that fails to load fails here, at once.
            ray.get([actor.signature.remote() for actor in self.actors[1:]])
        except ray.exceptions.RayError as error:
            self.close()
            raise XalignError(f"a Ray actor could not load the model: {_cause(error)}") from None

    def align_windows(
        self, windows: Iterable[list[SentencePair]]
    ) -> Iterator[list[AlignmentResult]]:
        in_flight: deque[Any] = deque()
        next_actor = 0
        try:
            for window in windows:
                in_flight.append(self.actors[next_actor].align.remote(window))
                next_actor = (next_actor + 1) % len(self.actors)
                if len(in_flight) >= self.in_flight_limit:
                    yield self._get(in_flight.popleft())
            while in_flight:
                yield self._get(in_flight.popleft())
        finally:
            for reference in in_flight:
                self._ray.cancel(reference)

    def _get(self, reference: Any) -> list[AlignmentResult]:
        try:
            return self._ray.get(reference)
        except self._ray.exceptions.RayError as error:
            raise XalignError(f"a Ray actor failed: {_cause(error)}") from None

    def close(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor)
        self.actors = []


def _cause(error: BaseException) -> str:
    """The last line of a Ray error: the original exception, without Ray's tracebacks."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
