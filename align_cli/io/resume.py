"""What a resumable run keeps beside its output, and what ``--resume`` checks against it.

* :class:`Shard`: ``--shard K/N``, a contiguous run of whole windows.
* :func:`count_newlines`, :func:`offset_after_lines`: the complete records of a partial
  output, and where to cut it.
* The sidecar of a running output (``OUT.partial.json``) and the record of a finished
  one (``.OUT.xalign.json``): :func:`read_record`, :func:`run_differences` (what differs
  between the recorded run and this one), :func:`check_finished` (a complete output
  against its record: options and the files themselves; the inputs are checked by
  :class:`~align_cli.io.fingerprint.InputFingerprint`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from align_cli.errors import XalignError
from align_cli.signature import Signature

_CHUNK = 1 << 20
RECORD_VERSION = 1


class ResumeRefused(XalignError):
    """``--resume`` cannot continue this output safely."""


# --------------------------------------------------------------------------- shards


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``: a contiguous run of whole windows."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``K/N`` with ``1 <= K <= N``."""
        parts = text.split("/")
        if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
            raise XalignError(f"--shard wants K/N, such as 3/8, not {text!r}")
        index, count = int(parts[0]), int(parts[1])
        if not 1 <= index <= count:
            raise XalignError(f"--shard {text}: K must be between 1 and N")
        return cls(index, count)

    def pair_range(self, total_pairs: int, window: int) -> tuple[int, int]:
        """Pairs ``[start, stop)`` of this shard in a corpus of ``total_pairs``.

        The corpus's windows are split as evenly as whole windows allow; the boundaries
        fall on the windows of an unsharded run, so that each shard computes exactly the
        batches that run would, and ``cat`` of the shards equals its output. A shard may be
        empty when there are fewer windows than shards.
        """
        n_windows = -(-total_pairs // window)
        first = n_windows * (self.index - 1) // self.count
        stop = n_windows * self.index // self.count
        return min(first * window, total_pairs), min(stop * window, total_pairs)


# --------------------------------------------------------------------------- counting lines


def count_newlines(path: Path) -> int:
    """Complete lines in ``path`` (a trailing piece without ``\\n`` does not count)."""
    count = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            count += chunk.count(b"\n")
    return count


def offset_after_lines(path: Path, n_lines: int) -> int:
    """The byte offset just past the ``n_lines``-th ``\\n`` of ``path`` (0 for none)."""
    if n_lines <= 0:
        return 0
    seen = 0
    offset = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            in_chunk = chunk.count(b"\n")
            if seen + in_chunk < n_lines:
                seen += in_chunk
                offset += len(chunk)
                continue
            position = -1
            for _ in range(n_lines - seen):
                position = chunk.index(b"\n", position + 1)
            return offset + position + 1
    raise XalignError(f"{path} has fewer than {n_lines} lines")


def file_digest(path: Path) -> dict[str, Any]:
    """Size and BLAKE2b digest of a whole file (what a finished run wrote)."""
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"size": size, "blake2b": digest.hexdigest()}


# --------------------------------------------------------------------------- run records


def read_record(path: Path) -> dict[str, Any]:
    """A sidecar or record file, or :class:`ResumeRefused` when it cannot be read."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ResumeRefused(f"cannot read {path} ({error}); pass --force to start again") from None
    if not isinstance(saved, dict):
        raise ResumeRefused(f"{path} is not a run description; pass --force to start again")
    return saved


def dump_record(value: Mapping[str, Any]) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False) + "\n"


def show_value(value: object) -> str:
    """A recorded value as messages show it (``none``, not JSON's ``null``)."""
    if value is None:
        return "none"
    return json.dumps(value, ensure_ascii=False)


def run_differences(saved: Mapping[str, Any], mine: Mapping[str, Any]) -> list[str]:
    """What differs between a recorded run and this one: the scores file, the signature
    (when both are known) and every entry of the description."""
    differences = []
    if saved.get("scores") != mine["scores"]:
        differences.append(
            f"--scores ({show_value(saved.get('scores'))} then, {show_value(mine['scores'])} now)"
        )
    then_signed, now_signed = saved.get("signature"), mine["signature"]
    if then_signed and now_signed and then_signed != now_signed:
        # Checked once the model is loaded: the dtype and device it really runs in.
        differences += Signature.parse(then_signed).differences(Signature.parse(now_signed))
    before: Mapping[str, Any] = saved.get("description", {})
    for key in sorted(set(before) | set(mine["description"])):
        then, now = before.get(key), mine["description"].get(key)
        if then != now:
            differences.append(f"{key} ({show_value(then)} then, {show_value(now)} now)")
    return differences


def record_path(final: Path) -> Path:
    """Where a finished run keeps its record: ``.OUT.xalign.json`` beside ``OUT``."""
    return final.with_name(f".{final.name}.xalign.json")


def finished_record(state: Mapping[str, Any], finals: Sequence[Path]) -> dict[str, Any]:
    """The record of a finished run: its sidecar, and the size and digest of its files."""
    record = {key: value for key, value in state.items() if key != "xalign_partial_output"}
    record["xalign_output"] = RECORD_VERSION
    record["files"] = {str(path): file_digest(path) for path in finals}
    return record


def check_finished(final: Path, files: Sequence[tuple[str, Path]], mine: Mapping[str, Any]) -> dict:
    """Check a complete output against the record of the run that wrote it: the same
    options (``mine``, this run's sidecar without its signature), the files as written
    (``files``: the name messages use, and the path; the main output first). Returns the
    record, whose windows the caller checks the inputs against."""
    path = record_path(final)
    name = files[0][0]
    if not path.exists():
        raise ResumeRefused(
            f"{name} exists, but there is no record of an xalign run that wrote it "
            f"({path.name}), so --resume cannot check it against these inputs and options; "
            "pass --force to align again"
        )
    saved = read_record(path)
    if saved.get("xalign_output") != RECORD_VERSION:
        raise ResumeRefused(f"{path} was written by another xalign version; pass --force")
    differences = run_differences(saved, mine)
    if differences:
        raise ResumeRefused(
            f"{name} is complete, but was written by a run that differs in "
            + "; ".join(differences)
            + "; pass --force to align it again with these options"
        )
    recorded = saved.get("files", {})
    for given, written in files:
        if recorded.get(str(written)) != file_digest(written):
            raise ResumeRefused(
                f"{given} has changed since xalign wrote it; pass --force to align again"
            )
    return saved
