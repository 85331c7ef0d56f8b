"""The service's Prometheus metrics: requests, latency, batch sizes, queue depth.

``prometheus_client`` is the Prometheus project's own Python client: it writes the text
exposition format scrapers expect, and its histograms and gauges are thread-safe, which
matters here because the batching worker updates them from its own thread. Each service
has its own :class:`~prometheus_client.CollectorRegistry` (not the process-wide default),
so that two services in one process, as in the tests, never share or clash on counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Pairs per run of the model: powers of two up to well past any sane --max-batch.
PAIR_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Requests merged into one run.
REQUEST_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)
# Request latency, seconds: from a warm single pair on a GPU to a full request on a CPU.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServiceMetrics:
    """Every metric of one service, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "xalign_requests",
            "HTTP requests answered, by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "xalign_request_seconds",
            "Time from a request's arrival to its answer, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_pairs = Histogram(
            "xalign_batch_pairs",
            "Pairs aligned together in one run of the model (merged from the requests).",
            buckets=PAIR_BUCKETS,
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "xalign_batch_requests",
            "Requests merged into one run of the model.",
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "xalign_batch_seconds",
            "Time the model took for one run.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_pairs = Gauge(
            "xalign_queue_pairs",
            "Pairs accepted and waiting for the model.",
            registry=self.registry,
        )
        self.queue_requests = Gauge(
            "xalign_queue_requests",
            "Requests accepted and waiting for the model.",
            registry=self.registry,
        )
        self.pairs = Counter(
            "xalign_pairs_aligned",
            "Pairs aligned.",
            registry=self.registry,
        )
        self.abandoned = Counter(
            "xalign_requests_abandoned",
            "Requests whose client went away before the answer (their pairs are not run "
            "if they were still waiting).",
            registry=self.registry,
        )

    # The batcher's observer interface (align_cli.serve.batcher.BatchObserver).
    def queue_changed(self, requests: int, pairs: int) -> None:
        self.queue_requests.set(requests)
        self.queue_pairs.set(pairs)

    def batch_done(self, requests: int, pairs: int, seconds: float) -> None:
        self.batch_requests.observe(requests)
        self.batch_pairs.observe(pairs)
        self.batch_seconds.observe(seconds)
        self.pairs.inc(pairs)

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
