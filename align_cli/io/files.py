"""The files xalign reads and writes, handled so that no user data is ever lost.

* **Checks before anything is opened or removed** (:func:`check_output`,
  :func:`refuse_same_files`; inputs: :func:`align_cli.io.sources.check_input`): an output
  that is a folder, in a folder that does not exist, or read-only, and an output that is
  the same file as an input however it is spelled (relative or absolute, ``..``, symlinks,
  hard links: the device and inode are compared) are refused with one line naming the
  option. The checks use ``stat`` only.
* **Atomic writes** (:func:`output_file`): a file is written to a temporary file in its
  own folder, flushed, fsynced and renamed over the final name, so the final name holds
  either the old file or the complete new one; on any error the temporary file is
  removed and the old file is untouched. A name ending in ``.gz`` is written gzipped.
  Devices and named pipes are written in place; ``-`` is standard output.
* **Locks** (:class:`OutputLock`): ``flock`` on a hidden lock file beside an output, held
  for a whole run, so that two runs never write one output; the second names the first.
* **Write errors as one line** (:func:`write_error`, :func:`stdout_errors`): a full disk
  (``ENOSPC``) or any other failed write becomes an :class:`XalignError` naming the file.

Every byte written to a file goes through :func:`write_all`, which is also where tests
simulate a full disk.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

from align_cli.errors import XalignError
from align_cli.io.sources import check_inputs

STDIO = "-"


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of ``data`` to ``fd`` (the one place file data is written)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# --------------------------------------------------------------------------- errors


def write_error(error: OSError, path: str | Path, *, kept: str | None = None) -> XalignError:
    """A failed write as one line: what failed, where, and what became of the old file."""
    reason = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        reason += " (free some space and run again)"
    tail = f"; {kept}" if kept else ""
    return XalignError(f"cannot write {path}: {reason}{tail}")


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so that the interpreter's last flush of what
    is still buffered cannot fail again (and print a traceback) after the error line."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def stdout_error(error: OSError) -> XalignError:
    """A failed write to standard output (``/dev/full``, a full disk) as one line."""
    _silence_stdout()
    return XalignError(f"cannot write to standard output: {error.strerror or error}")


@contextmanager
def stdout_errors() -> Iterator[None]:
    """Turn a failed write to standard output inside the block into one line.

    A closed pipe (``| head``) is left to the entry point, which treats it as the normal
    end it is.
    """
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        if error.errno == errno.EPIPE:
            raise
        raise stdout_error(error) from None


# --------------------------------------------------------------------------- checks


def _stat(path: str | Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def is_special_file(path: str | Path) -> bool:
    """A device, pipe or socket that exists (``/dev/null``, a FIFO): written in place."""
    status = _stat(path)
    return (
        status is not None and not stat.S_ISREG(status.st_mode) and not stat.S_ISDIR(status.st_mode)
    )


def check_output(path: str | None, option: str) -> None:
    """Refuse an output that cannot be written: a folder, a folder that does not exist, a
    read-only file. Nothing is created."""
    if path is None or path == STDIO:
        return
    status = _stat(path)
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise XalignError(f"{option} {path} is a folder; give a file name")
    folder = Path(os.path.abspath(path)).parent
    if status is None:
        parent = _stat(folder)
        if parent is None:
            raise XalignError(
                f"{option} {path}: the folder {folder} does not exist; create it first"
            )
        if not stat.S_ISDIR(parent.st_mode):
            raise XalignError(f"{option} {path}: {folder} is not a folder")
    elif not os.access(path, os.W_OK):
        raise XalignError(f"{option} {path} is read-only; make it writable or write elsewhere")
    if (status is None or stat.S_ISREG(status.st_mode)) and not os.access(
        folder, os.W_OK | os.X_OK
    ):
        raise XalignError(f"{option} {path}: cannot write in the folder {folder}")


def _stdio_status(stream: object) -> os.stat_result | None:
    try:
        return os.fstat(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return None


def _identity(path: str | None, *, output: bool) -> tuple | None:
    """What makes two spellings one file: device and inode of a regular file that exists
    (the standard stream for ``-``), else the real path of a file still to be written."""
    if path is None:
        return None
    if path == STDIO:
        status = _stdio_status(sys.stdout if output else sys.stdin)
        if status is not None and stat.S_ISREG(status.st_mode):
            return ("file", status.st_dev, status.st_ino)
        return None
    status = _stat(path)
    if status is not None:
        if stat.S_ISREG(status.st_mode):
            return ("file", status.st_dev, status.st_ino)
        return None  # devices and pipes: writing one loses no file
    return ("new", os.path.realpath(path))


def _label(option: str, path: str, stream: str) -> str:
    return f"{option} - (standard {stream})" if path == STDIO else f"{option} {path}"


def refuse_same_files(
    outputs: Iterable[tuple[str, str | None]], inputs: Iterable[tuple[str, str | None]]
) -> None:
    """Refuse any output that is the same file as an input, or as another output.

    ``outputs`` and ``inputs`` are ``(option, path)`` pairs, the option as messages name
    it (``-o``, ``--scores``, ``IN``, ``--corpus``). Paths are compared by what they are,
    not how they are written: an existing file by device and inode (symlinks, hard links,
    ``..``, relative or absolute), a file still to be written by its real path.
    """
    seen: dict[tuple, str] = {}
    for option, path in inputs:
        key = _identity(path, output=False)
        if key is not None and key[0] == "file":
            seen.setdefault(key, _label(option, path or "", "input"))
    written: dict[tuple, str] = {}
    for option, path in outputs:
        key = _identity(path, output=True)
        if key is None:
            continue
        label = _label(option, path or "", "output")
        if key in seen:
            raise XalignError(
                f"{label} is the same file as the input {seen[key]}: writing it would "
                "destroy the input; choose another output file"
            )
        if key in written and written[key] != label:
            raise XalignError(f"{label} and {written[key]} are the same file; give two files")
        written[key] = label


def refuse_outputs_in_folder(
    outputs: Iterable[tuple[str, str | None]], folder: str | None, what: str
) -> None:
    """Refuse an output that is an existing file inside ``folder`` (a local model)."""
    if folder is None or not os.path.isdir(folder):
        return
    root = os.path.realpath(folder)
    for option, path in outputs:
        if path is None or path == STDIO or not os.path.exists(path):
            continue
        real = os.path.realpath(path)
        if os.path.commonpath([root, real]) == root:
            raise XalignError(
                f"{option} {path} is a file of {what} {folder}; choose another output file"
            )


def check_paths(
    inputs: list[tuple[str, str | None]],
    outputs: list[tuple[str, str | None]],
    *,
    also_written: Iterable[tuple[str, str]] = (),
    model_folders: Iterable[str | None] = (),
) -> None:
    """Everything about a command's files that can be refused before any is opened or
    removed: each input and output (``(option, path)``, ``-`` for the standard streams),
    an output that is an input or another output (``also_written``: the other files the
    command writes), an output inside a local model folder."""
    check_inputs(inputs)
    for option, path in outputs:
        check_output(path, option)
    written = [*outputs, *also_written]
    refuse_same_files(written, inputs)
    for folder in model_folders:
        refuse_outputs_in_folder(written, folder, "the model folder")


# --------------------------------------------------------------------------- atomic writes


class _File(io.FileIO):
    """A file whose writes go through :func:`write_all`; once abandoned (a failed write),
    it takes what is still buffered above it without writing it."""

    abandoned = False

    def write(self, data) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        if not self.abandoned:
            write_all(self.fileno(), view)
        return len(view)


def _new_file_mode(existing: Path) -> int:
    status = _stat(existing)
    if status is not None:
        return stat.S_IMODE(status.st_mode)
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def temporary_beside(final: Path) -> tuple[int, Path]:
    """A new hidden temporary file in ``final``'s folder (so that a rename is atomic)."""
    fd, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    return fd, Path(name)


def fsync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def output_file(path: str, *, text: bool = True, option: str = "-o") -> Iterator[IO]:
    """A file to write ``path`` through, atomically (see the module doc).

    Yields a text handle (UTF-8, ``\\n`` line ends) or, with ``text=False``, a binary one.
    ``-`` is standard output; devices and pipes are written in place; a name ending in
    ``.gz`` is written gzipped (reproducibly: no name or time in the header). Any failed
    write raises an :class:`XalignError` naming the file and saying that the previous file
    is untouched.
    """
    if path == STDIO:
        with stdout_errors():
            yield sys.stdout if text else sys.stdout.buffer
        return
    final = Path(os.path.realpath(path))  # through a symlink, to the file it names
    compress = final.name.endswith(".gz")
    if is_special_file(final):
        try:
            with _File(final, "w") as raw, _layers(raw, text, compress) as handle:
                yield handle
        except OSError as error:
            raise write_error(error, path) from None
        return
    try:
        fd, temporary = temporary_beside(final)
    except OSError as error:
        raise write_error(error, path) from None
    try:
        with _File(fd, "w", closefd=True) as raw:
            with _layers(raw, text, compress) as handle:
                yield handle
            os.fsync(raw.fileno())
        os.chmod(temporary, _new_file_mode(final))
        os.replace(temporary, final)
    except BaseException as failure:
        temporary.unlink(missing_ok=True)
        if isinstance(failure, OSError):
            kept = f"{path} was left as it was" if final.exists() else None
            raise write_error(failure, path, kept=kept) from None
        raise
    fsync_folder(final.parent)


@contextmanager
def _layers(raw: _File, text: bool, compress: bool) -> Iterator[IO]:
    """Buffering, gzip and text encoding over ``raw``, flushed and finished in order."""
    buffered = io.BufferedWriter(raw, buffer_size=1 << 16)
    zipped: gzip.GzipFile | None = None
    binary: BinaryIO = buffered
    if compress:
        zipped = gzip.GzipFile(filename="", mode="wb", fileobj=buffered, mtime=0)
        binary = zipped  # type: ignore[assignment]
    handle: IO = io.TextIOWrapper(binary, encoding="utf-8", newline="\n") if text else binary
    try:
        yield handle
        handle.flush()
        if isinstance(handle, io.TextIOWrapper):
            handle.detach()
        if zipped is not None:
            zipped.close()
        buffered.flush()
        buffered.detach()
    except BaseException:
        # Close the layers now, their buffers dropped: left to the garbage collector, they
        # would flush into a closed file and print an error after the one-line message.
        raw.abandoned = True
        for layer in (handle, zipped, buffered):
            with contextlib.suppress(Exception):
                if layer is not None:
                    layer.close()
        raise


def copy_into(source: Path, path: str) -> None:
    """Copy ``source`` to ``path`` atomically (gzipped when ``path`` ends in ``.gz``)."""
    with open(source, "rb") as handle, output_file(path, text=False) as out:
        while chunk := handle.read(1 << 20):
            out.write(chunk)


def write_json(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (a run's sidecar files)."""
    fd, temporary = temporary_beside(path)
    try:
        with _File(fd, "w", closefd=True) as raw:
            raw.write(text.encode("utf-8"))
        os.chmod(temporary, _new_file_mode(path))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- locks


class OutputLock:
    """An exclusive ``flock`` on ``.NAME.lock`` beside an output, held for a whole run.

    The lock file holds the process id of its holder, for the message another run gives.
    It is removed on release; a run that finds the file replaced after it locked it
    (another run released and removed it meanwhile) locks the new one instead.
    """

    def __init__(self, output: Path, name: str | None = None):
        self.output = output
        self.name = name or str(output)  # as messages call it
        self.path = output.with_name(f".{output.name}.lock")
        self.fd: int | None = None

    def acquire(self) -> None:
        if self.fd is not None:
            return
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as error:
                raise write_error(error, self.path) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                holder = _read_pid(fd)
                os.close(fd)
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise write_error(error, self.path) from None
                who = f"process {holder}" if holder else "another process"
                raise XalignError(
                    f"{self.name} is being written by another xalign run ({who}); wait "
                    "for it to finish, or write to another file"
                ) from None
            status = _stat(self.path)
            mine = os.fstat(fd)
            if status is None or (status.st_dev, status.st_ino) != (mine.st_dev, mine.st_ino):
                os.close(fd)  # released and removed by its holder meanwhile: lock the new one
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            return

    def release(self) -> None:
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""
