"""Output files written safely: never over an input, never half-written under their name."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from align_cli.errors import XalignError


def check_output(output: str | None, inputs: Sequence[str | None], *, force: bool) -> None:
    """Refuse an output that is one of the inputs, or exists without ``force``."""
    if output is None or output == "-":
        return
    for given in inputs:
        if given is None or given == "-":
            continue
        same = os.path.realpath(given) == os.path.realpath(output)
        if not same and os.path.exists(given) and os.path.exists(output):
            same = os.path.samefile(given, output)
        if same:
            raise XalignError(
                f"the output {output} is also an input ({given}); write to another file"
            )
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise XalignError(f"the folder of the output {output} does not exist; create it first")
    if os.path.exists(output) and not force:
        raise XalignError(f"{output} exists; pass --force to overwrite it")


@contextmanager
def atomic_output(output: str | None) -> Iterator[BinaryIO]:
    """A binary handle on ``output`` (``None`` or ``-``: stdout). A file is written under a
    temporary name in its folder and renamed when complete, so that it is never left
    half-written under its own name."""
    if output is None or output == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    final = Path(output)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{final.name}.", suffix=".partial", dir=final.parent.resolve()
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # what a plain open() would have made
        os.replace(temporary, final)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


__all__ = ["atomic_output", "check_output"]
