"""What a long ``xalign extract`` run shows on the terminal: a pair counter, and on Ctrl-C
the one line that says how to resume, which a second Ctrl-C must not cut off."""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def quiet_after_stop() -> Iterator[Callable[[str], None]]:
    """While the run goes: a Ctrl-C that comes after the run has begun to stop (between
    the end of the interrupted run and the line that says how to resume it) is ignored,
    so that it never replaces that line; before that, Ctrl-C stops the run as usual."""
    from align_cli.jobs.local import stderr_announcer

    stopping = False

    def announce(text: str) -> None:
        nonlocal stopping
        stopping = True
        stderr_announcer(text)

    def late_signal(number: int, frame: object) -> None:
        if not stopping:
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield stderr_announcer
        return
    previous = signal.signal(signal.SIGINT, late_signal)
    try:
        yield announce
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def progress() -> Iterator[Callable[[int], None] | None]:
    """A pair counter on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.completed} pairs"), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task("aligning", total=None)
        yield lambda pairs: progress.update(task, completed=pairs)


def resume_command(args: list[str]) -> str:
    """The command line that continues this run: the same one, with --resume."""
    kept = [arg for arg in args if arg not in ("--force", "--resume")]
    return shlex.join(["xalign", *kept, "--resume"])
