"""What the alignment service accepts and where it listens: plain values, checked once.

Every limit a request can hit has a name here, and that name is what an error response
carries in its ``limit`` field (``{"error": ..., "limit": "max_pairs", "max": 256}``), so a
client can tell which one it hit without parsing a message. No torch, no web framework.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from align_cli.errors import XalignError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CPU_BATCH_COST_WORDS = 100.0  # ServeLimits.batch_cost_words on a CPU


@dataclass(frozen=True)
class ServeLimits:
    """Bounds on what one request may ask and on how much work may wait.

    The defaults keep one request small enough to answer in well under a second on a
    CPU (``max_pairs`` segments of ``max_segment_chars``) and bound the memory a burst of
    clients can pin: ``max_queue_pairs`` pairs wait at most, the rest get 503.
    """

    max_body_bytes: int = 1_048_576  # request body, bytes
    max_pairs: int = 256  # pairs (or transfer segments) in one request
    max_segment_chars: int = 2_000  # characters of one source or target segment
    max_queue_pairs: int = 1_024  # pairs accepted and waiting for the model
    max_batch_pairs: int = 32  # pairs merged into one run of the model at most
    max_wait_ms: float = 5.0  # how long a run waits for more requests to merge
    body_timeout_s: float = 15.0  # a client must send its whole body within this
    retry_after_s: int = 1  # the Retry-After of a 503 for a full queue
    # A run's pairs are cut into length-sorted batches where that saves more padded words
    # than this per extra batch (batcher.length_groups). None: 100 on a CPU, measured
    # (benchmarks/README.md), and no cut on a GPU, where padding costs little and an
    # extra batch much; math.inf: never cut.
    batch_cost_words: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "max_body_bytes",
            "max_pairs",
            "max_segment_chars",
            "max_queue_pairs",
            "max_batch_pairs",
            "retry_after_s",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise XalignError(f"{name} must be a positive integer, not {value!r}")
        if not self.max_wait_ms >= 0:
            raise XalignError(f"max_wait_ms must be 0 or more, not {self.max_wait_ms!r}")
        if self.batch_cost_words is not None and not self.batch_cost_words >= 0:
            raise XalignError(f"batch_cost_words must be 0 or more, not {self.batch_cost_words!r}")
        if not self.body_timeout_s > 0:
            raise XalignError(f"body_timeout_s must be positive, not {self.body_timeout_s!r}")
        if self.max_pairs > self.max_queue_pairs:
            # A request bigger than the whole queue could never be accepted.
            raise XalignError(
                f"max_pairs ({self.max_pairs}) cannot exceed max_queue_pairs "
                f"({self.max_queue_pairs}): such a request could never be queued"
            )


@dataclass(frozen=True)
class ServeConfig:
    """Where the service listens, who may call it, and how long it drains on SIGTERM."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None  # when set, every endpoint but /health needs it
    limits: ServeLimits = ServeLimits()
    # uvicorn answers 503 to connections beyond this (slow clients cannot pile up).
    limit_concurrency: int = 256
    # On SIGTERM: how long in-flight requests may take before they are cancelled.
    graceful_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise XalignError(f"port must be 0..65535, not {self.port!r}")
        if self.token is not None and not self.token.strip():
            raise XalignError("the token is empty; give a secret or leave --token out")
        if self.limit_concurrency < 1:
            raise XalignError("limit_concurrency must be positive")

    @property
    def loopback_only(self) -> bool:
        """Whether only this machine can reach the service."""
        if self.host in LOOPBACK_HOSTS:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False
