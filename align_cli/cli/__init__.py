"""The ``xalign`` command line: a thin Click layer over the Python API.

Each sub-command lives in its own module next to this one and only parses options, calls
the API and prints. Errors a user can cause arrive as :class:`~align_cli.errors.XalignError`
and are printed as one line on stderr with exit code 2, never as a traceback.

The same holds for what the user's shell does to the process:

* Ctrl-C (SIGINT) at any moment prints one line and exits 130: while this module and the
  command's modules import (the handler below is installed before anything else here,
  when the process is the ``xalign`` command), while a model loads, and while a corpus is
  aligned (there ``xalign extract`` finishes the window first, see ``jobs/local.py``);
* a reader that goes away (``xalign ... | head``) ends the run quietly with exit code 0;
* a closed standard output or input (``>&-``, ``<&-``) is one line naming it, and only
  when the command needs it.
"""

from __future__ import annotations

import os
import signal
import sys


def _exit_interrupted(_signum: int = signal.SIGINT, _frame: object = None) -> None:
    """Ctrl-C before or after a command runs: one line, exit 130, no traceback."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        pass
    try:
        if sys.stderr is not None:
            # After the terminal's "^C" echo, start a line of our own.
            start = "\n" if sys.stderr.isatty() else ""
            sys.stderr.write(f"{start}xalign: interrupted\n")
            sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(130)


def _is_the_xalign_process() -> bool:
    """True in the ``xalign`` console script and ``python -m align_cli``; false where this
    module is imported by other code (a test run, a notebook), whose signals stay its own."""
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    if getattr(spec, "name", None) == "align_cli.__main__":
        return True
    script = os.path.basename(str(getattr(main_module, "__file__", "") or ""))
    return script in ("xalign", "xalign.exe", "xalign-script.py")


if _is_the_xalign_process():
    try:  # noqa: SIM105 - contextlib is not imported yet, on purpose
        signal.signal(signal.SIGINT, _exit_interrupted)
    except ValueError:  # not the main thread
        pass

import errno  # noqa: E402 - after the Ctrl-C handler, on purpose
import importlib  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager, suppress  # noqa: E402

import click  # noqa: E402

from align_cli.errors import XalignError  # noqa: E402
from align_cli.version import __version__  # noqa: E402

# Command name -> "module:function" in this package. A command's module is imported only
# when that command runs (or its help is shown), so `xalign eval` never pays for torch.
COMMANDS = {
    "extract": "extract_cmd:extract",
    "eval": "eval_cmd:eval_command",
    "symmetrize": "symmetrize_cmd:symmetrize_command",
    "convert": "convert_cmd:convert",
    "show": "show_cmd:show_command",
    "sweep": "sweep_cmd:sweep_command",
    "models": "models_cmd:models_command",
    "serve": "serve_cmd:serve_command",
    "transfer": "transfer_cmd:transfer_command",
    "train": "train_cmd:train_command",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[cmd_name].split(":")
        module = importlib.import_module(f"{__name__}.{module_name}")
        return getattr(module, attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xalign")
def cli() -> None:
    """Word alignments from translation models and multilingual encoders."""


class _ClosedStream:
    """Stands in for ``sys.stdin``/``sys.stdout`` when the shell closed that descriptor:
    using it is one clear error instead of ``'NoneType' object has no attribute ...``."""

    def __init__(self, name: str, advice: str):
        self._name = name
        self._advice = advice

    def _refuse(self, *_args: object, **_kwargs: object):
        raise XalignError(f"standard {self._name} is closed; {self._advice}")

    read = readline = readlines = write = writelines = fileno = _refuse
    __iter__ = __next__ = _refuse

    @property
    def buffer(self):
        self._refuse()

    def flush(self) -> None:  # nothing was written; the interpreter flushes at exit
        pass

    def isatty(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return False


def _guard_closed_descriptors() -> None:
    """Put /dev/null on closed descriptors 0-2 (so that no file the run opens gets one of
    their numbers) and make a closed stdin or stdout an error where it is used."""
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
            except OSError:
                continue
            if null != descriptor:
                os.dup2(null, descriptor)
                os.close(null)
    if sys.stdin is None:
        sys.stdin = _ClosedStream("input", "give the input as a file, or pipe it in")  # type: ignore[assignment]
    if sys.stdout is None:
        sys.stdout = _ClosedStream("output", "give -o FILE, or redirect it to a file")  # type: ignore[assignment]


def _stdout_is_broken() -> bool:
    """Whether standard output is a pipe or socket whose reader has gone away."""
    try:
        import select

        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        events = poller.poll(0)
    except (AttributeError, OSError, ValueError, XalignError):
        return True  # no poll() here (Windows), or no stdout to ask: assume it was stdout
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in events)


def _quiet_exit_on_broken_pipe() -> None:
    """The reader of our stdout went away (``| head``): that is not an error. Point stdout
    at /dev/null so that the interpreter's last flush does not complain, and exit 0."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (AttributeError, OSError, ValueError, XalignError):
        pass
    sys.exit(0)


@contextmanager
def _interrupts_raise() -> Iterator[None]:
    """Inside a command, Ctrl-C raises KeyboardInterrupt (so that ``finally`` blocks run),
    which :func:`main` turns into one line; the previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _say(line: str) -> None:
    with suppress(OSError, ValueError):
        click.echo(line, err=True)


def _identity(descriptor_or_path: int | str) -> tuple[int, int, int] | None:
    try:
        status = os.stat(descriptor_or_path)
    except (OSError, ValueError):
        return None
    return (status.st_dev, status.st_ino, status.st_rdev)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the group and turn user errors into one line."""
    args = list(sys.argv[1:] if argv is None else argv)
    _guard_closed_descriptors()
    stdout_before = _identity(1)
    try:
        with _interrupts_raise():
            _run(args)
    except SystemExit as stop:
        # rich answers a broken pipe by pointing stdout at /dev/null and exiting 1; for
        # xalign a reader that went away is not an error, whoever noticed it.
        now = _identity(1)
        if stop.code == 1 and now != stdout_before and now == _identity(os.devnull):
            sys.exit(0)
        raise
    except XalignError as error:
        _say(f"xalign: error: {error}")
        sys.exit(error.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        start = "\n" if sys.stderr is not None and sys.stderr.isatty() else ""
        _say(f"{start}xalign: interrupted")
        sys.exit(130)
    except EOFError:
        _say("xalign: error: standard input ended while a command was waiting for it")
        sys.exit(2)
    except click.ClickException as error:
        with suppress(OSError, ValueError):
            error.show()
        sys.exit(2 if error.exit_code == 1 else error.exit_code)
    except OSError as error:
        if error.errno != errno.EPIPE:
            raise
        if _stdout_is_broken():
            _quiet_exit_on_broken_pipe()
        _say(f"xalign: error: a pipe closed early ({error})")
        sys.exit(1)


def _run(args: list[str]) -> None:
    """What ``cli.main(standalone_mode=False)`` does, minus its handling of Ctrl-C and
    broken pipes (a blank line, and exit code 1), which :func:`main` does itself."""
    # Shell completion (_XALIGN_COMPLETE=...) answers and exits here.
    completion = getattr(cli, "_main_shell_completion", None)
    if completion is not None:
        completion({}, "xalign", None)
    try:
        # The arguments travel with the context so that an interrupted extract can print
        # the exact command that resumes it.
        with cli.make_context("xalign", args, obj={"args": args}) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as done:  # --help, --version
        if done.exit_code:
            sys.exit(done.exit_code)
