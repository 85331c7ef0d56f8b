"""``xalign serve``: load a model once and answer alignment requests over HTTP."""

from __future__ import annotations

import importlib.util
from typing import Any

import click

from align_cli.cli.options import (
    aggregation_options,
    aligner_spec,
    batching_options,
    device_options,
    hub_options,
    language_options,
    model_path_options,
    preset_option,
)
from align_cli.errors import XalignError
from align_cli.serve.config import ServeConfig, ServeLimits
from align_cli.settings import BatchingSettings

SERVE_PACKAGES = ("uvicorn", "starlette", "pydantic", "prometheus_client")


def _say(message: str) -> None:
    click.echo(f"xalign serve: {message}", err=True)


@click.command()
@click.option(
    "-m",
    "--model",
    required=True,
    help="Local folder, hub id (Helsinki-NLP/opus-mt-en-fr) or opus-mt-xx-yy; loaded once, "
    "at start. Requests never choose a model.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback exposes the model: give --token.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="0: any free port.",
)
@click.option(
    "--token",
    envvar="XALIGN_SERVE_TOKEN",
    help="Require 'Authorization: Bearer TOKEN' on every endpoint but /health (also from "
    "$XALIGN_SERVE_TOKEN, which keeps it out of the process list).",
)
@preset_option("default")
@aggregation_options
@model_path_options
@language_options
@batching_options
@click.option(
    "--max-batch",
    type=click.IntRange(min=1),
    help="Pairs of concurrent requests merged into one run of the model at most "
    "[default: --batch-size].",
)
@click.option(
    "--max-wait-ms",
    type=click.FloatRange(min=0),
    default=ServeLimits.max_wait_ms,
    show_default=True,
    help="How long a run waits for more requests to merge when none is waiting.",
)
@click.option(
    "--batch-cost",
    type=click.FloatRange(min=0),
    help="Cut each run of the model into length-sorted batches where that saves more padded "
    "words than this per extra batch [default: 100 on a CPU, no cut on a GPU; inf: never].",
)
@click.option(
    "--max-queue",
    type=click.IntRange(min=1),
    default=ServeLimits.max_queue_pairs,
    show_default=True,
    help="Pairs accepted and waiting at most; beyond it requests get 503 with Retry-After.",
)
@click.option(
    "--max-pairs",
    type=click.IntRange(min=1),
    default=ServeLimits.max_pairs,
    show_default=True,
    help="Pairs in one request at most (413 beyond).",
)
@click.option(
    "--max-chars",
    type=click.IntRange(min=1),
    default=ServeLimits.max_segment_chars,
    show_default=True,
    help="Characters in one source or target segment at most (422 beyond).",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1),
    default=ServeLimits.max_body_bytes,
    show_default=True,
    help="Bytes in one request body at most (413 beyond).",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=ServeLimits.body_timeout_s,
    show_default=True,
    help="Seconds a client has to send its whole body (408 beyond): slow clients cannot "
    "hold a request open.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=ServeConfig.limit_concurrency,
    show_default=True,
    help="Open connections at most; beyond it uvicorn answers 503.",
)
@click.option(
    "--graceful-timeout",
    type=click.FloatRange(min=0),
    default=ServeConfig.graceful_timeout_s,
    show_default=True,
    help="On SIGTERM or Ctrl-C: seconds in-flight requests may still take.",
)
@device_options
@click.option(
    "--threads", type=click.IntRange(min=1), help="CPU threads for torch (default: one per core)."
)
@hub_options
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="warning",
    show_default=True,
    help="uvicorn's log level.",
)
def serve_command(
    model: str,
    host: str,
    port: int,
    token: str | None,
    batch_size: int,
    max_tokens: int,
    max_length: int | None,
    max_batch: int | None,
    max_wait_ms: float,
    batch_cost: float | None,
    max_queue: int,
    max_pairs: int,
    max_chars: int,
    max_body: int,
    body_timeout: float,
    max_connections: int,
    graceful_timeout: float,
    threads: int | None,
    log_level: str,
    **model_options: Any,
) -> None:
    """Serve alignments over HTTP: POST /align, POST /transfer, GET /health, GET /metrics,
    GET /openapi.json, and a page at / to see and correct alignments.

    The alignment options are those of `xalign extract`; a request may override them
    (its "settings"), never the model. Stops on SIGTERM or Ctrl-C after answering every
    request it accepted.
    """
    missing = [name for name in SERVE_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise XalignError(f"xalign serve needs {', '.join(missing)}: pip install 'xalign[serve]'")
    batching = BatchingSettings(batch_size=batch_size, max_tokens=max_tokens, max_length=max_length)
    spec = aligner_spec(
        model,
        **model_options,
        batching=batching,
    )
    config = ServeConfig(
        host=host,
        port=port,
        token=token,
        limits=ServeLimits(
            max_body_bytes=max_body,
            max_pairs=max_pairs,
            max_segment_chars=max_chars,
            max_queue_pairs=max_queue,
            max_batch_pairs=max_batch or batch_size,
            max_wait_ms=max_wait_ms,
            body_timeout_s=body_timeout,
            batch_cost_words=batch_cost,
        ),
        limit_concurrency=max_connections,
        graceful_timeout_s=graceful_timeout,
    )
    if not config.loopback_only and config.token is None:
        _say(
            f"warning: listening on {host} without --token: anyone who reaches this port can "
            "use the model"
        )
    if threads is not None:
        import torch

        torch.set_num_threads(threads)

    from align_cli.serve.server import serve
    from align_cli.serve.service import AlignmentService

    service = AlignmentService.load(spec, config.limits)
    click.echo(f"xalign: signature {service.signature}", err=True)
    serve(service, config, announce=_say, log_level=log_level)
