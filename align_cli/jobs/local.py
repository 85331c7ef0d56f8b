"""Running an alignment job: windows of pairs in, whole windows out, safe to stop.

The CLI's ``extract`` command is a thin layer over :func:`run_alignment`, which reads the
corpus (or a shard of it) in windows, hands the windows to a backend (this process, or Ray
actors across a cluster: :mod:`align_cli.jobs.ray`) and writes the results in input
order through an :class:`~align_cli.io.writer.AlignmentWriter`.

Stopping: the first Ctrl-C (SIGINT) lets the window being aligned finish and be written,
then stops; a second Ctrl-C, or SIGTERM (what Slurm and most schedulers send first),
abandons that window at once. Either way the output holds whole windows and
:class:`RunInterrupted` says how many pairs, so the CLI can print the command that
resumes. A bad input line (a file that ends early, undecodable bytes) stops the run only
after every pair before it has been aligned and written.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from align_cli.aligners.base import Aligner
from align_cli.errors import CorpusError, XalignError
from align_cli.io.live import live_windows
from align_cli.io.writer import AlignmentWriter, Shard
from align_cli.settings import AlignerSpec
from align_cli.signature import Signature
from align_cli.stages.batching import windows
from align_cli.types import AlignmentResult, SentencePair

# --------------------------------------------------------------------------- what a run is


def _model_identity(name: str | None) -> str | None:
    """A local folder as its absolute real path (``./m/`` and ``m`` are one model); hub
    names as given."""
    if name is None:
        return None
    path = Path(name).expanduser()
    return str(path.resolve()) if path.is_dir() else name


def describe_run(
    spec: AlignerSpec,
    *,
    inputs: tuple[str, ...] | list[str],
    shard: Shard | None,
    output_format: str,
    include_matrix: bool,
    encoding_errors: str,
    on_bad_line: str,
    tokenize: str = "whitespace",
    flags: bool = False,
    input_format: str = "text",
) -> dict[str, Any]:
    """Everything about a run that changes the bytes of its output: what ``--resume`` must
    match. How and where the work runs (threads, Ray, the requested device) may differ; the
    dtype and device type the model really ran in are in the signature, which the writer
    checks once the model is loaded. The word splitter, the reviewer flags and the input
    format are recorded only when not the default, so that earlier runs still resume."""
    extra = {
        key: value
        for key, value, default in (
            ("tokenize", tokenize, "whitespace"),
            ("flags", flags, False),
            ("input_format", input_format, "text"),
        )
        if value != default
    }
    return {
        "model": _model_identity(spec.model),
        "reverse_model": _model_identity(spec.reverse_model),
        "revision": spec.revision,
        "dtype": spec.dtype,
        **asdict(spec.settings),
        # Resolved, so that an option given at its default is the same run as one not given.
        **{f"embedding_{key}": value for key, value in asdict(spec.embedding.settings()).items()},
        "src_lang": spec.src_lang,
        "tgt_lang": spec.tgt_lang,
        "source_prefix": spec.source_prefix,
        "target_token": spec.target_token,
        **asdict(spec.batching),
        "format": output_format,
        "matrix": include_matrix,
        "encoding_errors": encoding_errors,
        "on_bad_line": on_bad_line,
        "inputs": [arg if arg == "-" else str(Path(arg).absolute()) for arg in inputs],
        "shard": None if shard is None else f"{shard.index}/{shard.count}",
        **extra,
    }


# --------------------------------------------------------------------------- backends


class WindowBackend(Protocol):
    """Aligns windows of pairs; yields one list of results per window, in order."""

    signature: Signature

    def align_windows(
        self, windows: Iterable[list[SentencePair]]
    ) -> Iterator[list[AlignmentResult]]: ...

    def close(self) -> None: ...


class LocalBackend:
    """Aligns in this process, one window after the other."""

    def __init__(self, aligner: Aligner):
        self.aligner = aligner
        self.signature = aligner.signature

    def align_windows(
        self, windows: Iterable[list[SentencePair]]
    ) -> Iterator[list[AlignmentResult]]:
        for window in windows:
            yield list(self.aligner.align_pairs(window))

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- stopping


class RunInterrupted(Exception):
    """The run stopped on a signal; the output holds ``pairs`` whole pairs."""

    def __init__(self, pairs: int, signal_name: str, exit_code: int):
        super().__init__(f"interrupted by {signal_name} after {pairs} pairs")
        self.pairs = pairs
        self.signal_name = signal_name
        self.exit_code = exit_code


class _Abandon(BaseException):
    """Raised by the signal handler to abandon the current window at once."""

    def __init__(self, signal_name: str, exit_code: int):
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code


class StopSignals:
    """SIGINT/SIGTERM handling for one run (a no-op outside the main thread).

    The first SIGINT sets :attr:`stop_requested` (the run finishes its window, then
    stops); a second SIGINT or a SIGTERM raises :class:`_Abandon`, except inside
    :meth:`writing`, where it waits until the window's write is over, so that a signal
    never tears a window in two.
    """

    def __init__(self, announce: Callable[[str], None] | None = None):
        self.stop_requested = False
        self.signal_name = "SIGINT"
        self._announce = announce
        self._in_write = False
        self._pending: _Abandon | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, number: int, _frame: object) -> None:
        if number == signal.SIGINT and not self.stop_requested:
            self.stop_requested = True
            if self._announce is not None:
                self._announce(
                    "xalign: stopping after the current window (Ctrl-C again to stop at once)"
                )
            return
        name = "SIGTERM" if number == signal.SIGTERM else "SIGINT"
        self.stop_requested = True
        self.signal_name = name
        abandon = _Abandon(name, 128 + number)
        if self._in_write:
            self._pending = abandon
            return
        raise abandon

    @contextmanager
    def writing(self) -> Iterator[None]:
        self._in_write = True
        try:
            yield
        finally:
            self._in_write = False
            if self._pending is not None:
                pending, self._pending = self._pending, None
                raise pending


# --------------------------------------------------------------------------- running


@dataclass
class RunSummary:
    """What a run did. ``pairs_before`` were already in the output (a resumed run)."""

    pairs_before: int = 0
    pairs_written: int = 0
    skipped_lines: list[int] = field(default_factory=list)  # too long for the model
    complete: bool = False
    already_complete: bool = False


class _DeferredErrors:
    """Wraps the corpus so that a reading error ends the stream instead of the run.

    The window that was being filled then still gets aligned and written; the error is
    raised by :func:`run_alignment` afterwards.
    """

    def __init__(self, pairs: Iterator[SentencePair]):
        self._pairs = pairs
        self.error: CorpusError | None = None

    def __iter__(self) -> Iterator[SentencePair]:
        try:
            yield from self._pairs
        except CorpusError as error:
            self.error = error


def run_alignment(
    backend: WindowBackend,
    read_pairs: Callable[[int], Iterator[SentencePair]],
    writer: AlignmentWriter,
    *,
    window: int,
    on_long: str = "skip",
    long_pair_path: str | None = None,
    on_window: Callable[[int], None] | None = None,
    announce: Callable[[str], None] | None = None,
    waiting: Callable[[], bool] | None = None,
) -> RunSummary:
    """Align what ``read_pairs(skip)`` yields (the pairs after the first ``skip``) into
    ``writer``, window by window. Raises :class:`RunInterrupted` on a signal and
    :class:`XalignError` on bad input, in both cases after writing whole windows only.
    ``waiting`` (live input, :mod:`align_cli.io.live`) ends a window as soon as no further
    line is waiting to be read, so that each line is answered as soon as it comes.
    """
    summary = RunSummary()
    done = writer.open()
    if done is None:
        summary.already_complete = summary.complete = True
        return summary
    summary.pairs_before = done
    corpus = _DeferredErrors(read_pairs(done))
    try:
        with StopSignals(announce) as signals:
            # A stop request ends the stream of windows: the backend finishes the windows it
            # has started (one here, all in flight on a cluster) and nothing new starts.
            source = (
                windows(corpus, window)
                if waiting is None
                else live_windows(corpus, window, waiting)
            )
            exhausted = False

            def until_stopped() -> Iterator[list[SentencePair]]:
                nonlocal exhausted
                while not signals.stop_requested:
                    pairs = next(source, None)
                    if pairs is None:
                        exhausted = True
                        return
                    yield pairs

            try:
                for results in backend.align_windows(until_stopped()):
                    long_error = _check_long(results, on_long, long_pair_path)
                    if long_error is not None:
                        results = results[: long_error[0]]
                    summary.skipped_lines.extend(
                        r.pair.line_no for r in results if r.skipped is not None
                    )
                    with signals.writing():
                        writer.write(results)
                    summary.pairs_written += len(results)
                    if on_window is not None:
                        on_window(writer.pairs_in_output)
                    if long_error is not None:
                        raise long_error[1]
            except _Abandon as abandon:
                raise RunInterrupted(
                    writer.pairs_in_output, abandon.signal_name, abandon.exit_code
                ) from None
            if not exhausted:
                raise RunInterrupted(writer.pairs_in_output, "SIGINT", 130)
    except BaseException:
        writer.close()
        backend.close()
        raise
    backend.close()
    if corpus.error is not None:
        writer.close()
        if writer.resumable:
            where = (
                f"{writer.pairs_in_output} pairs before it are aligned in {writer.where}; fix "
                "the input and rerun with --resume to continue"
            )
        else:
            where = f"the {writer.pairs_in_output} pairs before it were written to {writer.where}"
        raise XalignError(f"{corpus.error} [{where}]")
    writer.finish()
    summary.complete = True
    return summary


def _check_long(
    results: list[AlignmentResult], on_long: str, path: str | None
) -> tuple[int, XalignError] | None:
    """With ``--on-long fail``: the position of the first skipped pair, and its error."""
    if on_long != "fail":
        return None
    for position, result in enumerate(results):
        if result.skipped is not None:
            return position, XalignError(
                f"pair too long ({result.skipped}); shorten it, raise --max-length or use "
                "--on-long skip",
                path=path,
                line=result.pair.line_no,
            )
    return None


def stderr_announcer(text: str) -> None:
    """Print a line on stderr from a signal handler (no buffering surprises)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
