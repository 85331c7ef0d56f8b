"""Alignment output that never loses or shifts a line: whole windows, resume, shards.

Downstream tools assume that line N of an alignment file belongs to pair N. Three rules
keep that true however a run ends:

* **A file named OUT is always complete.** While a run is going, it writes ``OUT.partial``
  (and ``SCORES.partial``), with a description of the run in ``OUT.partial.json``; only
  when every pair is written are the files renamed to their real names (scores first,
  the main output last). A killed run therefore never leaves a file that looks finished.
* **Whole windows only.** Results are written one window of pairs at a time, as a single
  write per file, then flushed and fsynced, so a killed run leaves whole windows (at worst
  a torn last write, which a resume cuts off).
* **A resume is byte-identical to an uninterrupted run.** ``--resume`` counts the complete
  records in each file, takes the smaller count (the main output and the scores file stay
  in step), rounds it down to a whole window, truncates both files there and continues
  from that pair. Windows are the unit in which pairs are sorted and batched, so the
  resumed run computes exactly the batches, and so the numbers, of an uninterrupted one.
  A resume with options that would change the output is refused.

Shards (``--shard K/N``) are contiguous runs of whole windows, so that concatenating the
shard files in order (``cat``) gives, byte for byte, the output of a single run.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from align_cli.errors import XalignError
from align_cli.io.formats import FORMATS, AlignedSentence, format_scores
from align_cli.signature import Signature
from align_cli.types import AlignmentResult

# Lines one pair takes in each format a run can write (GIZA A3 records are three lines). A
# resume counts records by lines, so a format whose records vary in length (NAACL) is out,
# and so is a file of scores alone (it is the --scores file). Shortest records first:
# pharaoh, jsonl, giza, the order `xalign extract --format` has always listed them in.
RECORD_LINES = {
    fmt.name: fmt.lines_per_record
    for fmt in sorted(FORMATS.values(), key=lambda fmt: fmt.lines_per_record or 0)
    if fmt.writable and fmt.holds_links and fmt.lines_per_record is not None
}
PARTIAL_SUFFIX = ".partial"
STATE_SUFFIX = ".partial.json"
STATE_VERSION = 2
_CHUNK = 1 << 20


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


# --------------------------------------------------------------------------- writing


def format_record(
    result: AlignmentResult, output_format: str, *, include_matrix: bool, signature: str
) -> str:
    """One pair's output, with its final newline."""
    if output_format not in RECORD_LINES:
        raise XalignError(f"unknown output format {output_format!r}")
    sentence = AlignedSentence.from_result(
        result, include_matrix=include_matrix, signature=signature
    )
    text = FORMATS[output_format].write(sentence)
    assert text is not None  # every record format has lines for every pair
    return text + "\n"


def _is_special_file(path: Path) -> bool:
    """A device or FIFO (``/dev/null``, a named pipe): written in place, never renamed."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


@dataclass
class _Target:
    """One output stream: the main output or the scores file."""

    final: Path | None  # None: standard output
    lines_per_record: int
    special: bool = False  # device or FIFO: no partial file, no resume
    fd: int | None = None

    @property
    def partial(self) -> Path:
        assert self.final is not None
        return self.final.with_name(self.final.name + PARTIAL_SUFFIX)

    @property
    def renamed_at_end(self) -> bool:
        return self.final is not None and not self.special


class ResumeRefused(XalignError):
    """``--resume`` cannot continue this output safely."""


class AlignmentWriter:
    """Writes alignments (and optionally their scores) window by window; see the module doc.

    ``description`` is everything about the run that changes the bytes of its output (the
    options, the inputs); a resume must match it. Call :meth:`open` once, then
    :meth:`write` per window, then :meth:`finish` (complete) or :meth:`close` (interrupted:
    the partial files stay for a resume).
    """

    def __init__(
        self,
        output: str | None,
        scores: str | None,
        *,
        output_format: str,
        include_matrix: bool,
        description: Mapping[str, Any],
        signature: Signature | str | None = None,
        window: int,
        force: bool = False,
        resume: bool = False,
        fsync: bool = True,
    ):
        if output_format not in RECORD_LINES:
            raise XalignError(f"unknown output format {output_format!r}")
        self.output_format = output_format
        self.include_matrix = include_matrix
        self.signature: str | None = None if signature is None else str(signature)
        self.window = window
        self.force = force
        self.resume = resume
        self.fsync = fsync
        self.description = json.loads(json.dumps(dict(description)))  # plain JSON values
        self.main = self._target(output, RECORD_LINES[output_format])
        self.scores = self._target(scores, 1) if scores is not None else None
        if self.scores is not None and self.scores.final is None:
            raise XalignError("--scores needs a file name (standard output holds the links)")
        if self.scores is not None and self.scores.final == self.main.final:
            raise XalignError("--scores and --output must be different files")
        self.pairs_in_output = 0  # pairs written so far, counting those of an earlier run

    @staticmethod
    def _target(path: str | None, lines_per_record: int) -> _Target:
        if path is None or path == "-":
            return _Target(None, lines_per_record)
        final = Path(path).absolute()
        return _Target(final, lines_per_record, special=_is_special_file(final))

    def sign(self, signature: Signature | str) -> None:
        """Name what produced the results (once the model is loaded); it goes into JSONL
        records and the resume sidecar, and a resume must produce the same one."""
        self.signature = str(signature)

    # -- state --------------------------------------------------------------------------

    @property
    def resumable(self) -> bool:
        """Whether this output can be resumed (a regular file, not stdout or a device)."""
        return self.main.renamed_at_end

    @property
    def state_path(self) -> Path | None:
        if not self.main.renamed_at_end:
            return None
        assert self.main.final is not None
        return self.main.final.with_name(self.main.final.name + STATE_SUFFIX)

    @property
    def targets(self) -> list[_Target]:
        return [self.main] + ([self.scores] if self.scores is not None else [])

    @property
    def where(self) -> str:
        """Where the pairs written so far are, for messages."""
        if self.main.final is None:
            return "standard output"
        return str(self.main.partial if self.main.renamed_at_end else self.main.final)

    def _state(self) -> dict[str, Any]:
        return {
            "xalign_partial_output": STATE_VERSION,
            "description": self.description,
            "signature": self.signature,
            "scores": str(self.scores.final) if self.scores is not None else None,
        }

    def check(self) -> bool:
        """Refuse early (before a model is loaded) what :meth:`open` would refuse.

        Returns False when ``--resume`` finds the output already complete: nothing to do.
        """
        return self._plan() != "complete"

    def _plan(self) -> str:
        """``fresh``, ``resume`` or ``complete``; raises when none is allowed.

        ``--resume --force`` resumes what can be resumed and starts again otherwise.
        """
        try:
            return self._plan_strict()
        except ResumeRefused:
            if self.force:
                return "fresh"
            raise

    def _plan_strict(self) -> str:
        if self.resume and not self.resumable:
            raise XalignError("--resume needs -o FILE (standard output and devices cannot resume)")
        state = self.state_path
        if state is None:
            # Standard output or a device: only a scores file can be overwritten.
            if self.scores is not None and self.scores.renamed_at_end and not self.force:
                assert self.scores.final is not None
                if self.scores.final.exists():
                    raise XalignError(f"{self.scores.final} exists; pass --force to overwrite it")
            return "fresh"
        assert self.main.final is not None
        if self.force and not self.resume:
            return "fresh"
        if state.exists():
            if not self.resume:
                raise XalignError(
                    f"an interrupted run left {self.main.partial}; pass --resume to continue "
                    "it or --force to start again"
                )
            self._check_same_run(self._read_state())
            if not self.main.partial.exists() and self.main.final.exists():
                # The earlier run renamed its output and died before removing its state.
                return "complete"
            return "resume"
        for target in self.targets:
            if target.renamed_at_end and target.partial.exists() and not self.force:
                raise ResumeRefused(
                    f"{target.partial} exists but {state.name}, which describes its run, "
                    "does not, so it cannot be resumed; pass --force to start again"
                )
        finals = [t.final for t in self.targets if t.renamed_at_end and t.final.exists()]  # type: ignore[union-attr]
        if self.resume and self.main.final.exists():
            missing = [t.final for t in self.targets if t.final not in finals]
            if missing:
                raise ResumeRefused(
                    f"{self.main.final} is complete but {missing[0]} does not exist; pass "
                    "--force to run again"
                )
            return "complete"
        if finals and not self.force:
            raise XalignError(f"{finals[0]} exists; pass --force to overwrite it")
        return "fresh"

    def open(self) -> int | None:
        """Open the output; return the number of pairs already in it (``None``: complete).

        The count is a whole number of windows: a resumed run starts at a window boundary.
        """
        plan = self._plan()
        if plan == "complete":
            if self.state_path is not None:
                self.state_path.unlink(missing_ok=True)
            return None
        if plan == "resume":
            done = self._prepare_resume()
        else:
            self._prepare_fresh()
            done = 0
        for target in self.targets:
            if target.final is None:
                continue
            if target.special:
                target.fd = os.open(target.final, os.O_WRONLY)
            else:
                target.fd = os.open(target.partial, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self.pairs_in_output = done
        return done

    def _prepare_fresh(self) -> None:
        # --force: the old complete files go first, so that a complete-looking OUT never
        # sits beside a newer run's OUT.partial.
        for target in self.targets:
            if target.renamed_at_end:
                assert target.final is not None
                target.final.unlink(missing_ok=True)
                target.partial.unlink(missing_ok=True)
        if self.state_path is not None:
            _write_json_atomically(self.state_path, self._state())
        for target in self.targets:
            if target.renamed_at_end:
                target.partial.write_bytes(b"")

    def _read_state(self) -> dict[str, Any]:
        state_path = self.state_path
        assert state_path is not None
        try:
            saved = json.loads(state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ResumeRefused(
                f"cannot read {state_path} ({error}); pass --force to start again"
            ) from None
        if not isinstance(saved, dict):
            raise ResumeRefused(f"{state_path} is not a run description; pass --force")
        return saved

    def _prepare_resume(self) -> int:
        for target in self.targets:
            assert target.final is not None
            if not target.partial.exists() and target.final.exists():
                # Renamed by a run that died between its two renames: it is this run's file.
                os.replace(target.final, target.partial)
            if not target.partial.exists():
                target.partial.write_bytes(b"")
        records = [
            count_newlines(target.partial) // target.lines_per_record for target in self.targets
        ]
        done = min(records)
        done -= done % self.window
        for target in self.targets:
            keep = offset_after_lines(target.partial, done * target.lines_per_record)
            os.truncate(target.partial, keep)
        return done

    def _check_same_run(self, saved: Mapping[str, Any]) -> None:
        if saved.get("xalign_partial_output") != STATE_VERSION:
            raise ResumeRefused(
                f"{self.state_path} was written by another xalign version; pass --force"
            )
        mine = self._state()
        differences = []
        if saved.get("scores") != mine["scores"]:
            differences.append(f"--scores ({saved.get('scores')} then, {mine['scores']} now)")
        then_signed, now_signed = saved.get("signature"), mine["signature"]
        if then_signed and now_signed and then_signed != now_signed:
            # Checked once the model is loaded: the dtype and device it really runs in.
            differences += Signature.parse(then_signed).differences(Signature.parse(now_signed))
        before: Mapping[str, Any] = saved.get("description", {})
        for key in sorted(set(before) | set(mine["description"])):
            then, now = before.get(key), mine["description"].get(key)
            if then != now:
                differences.append(f"{key} ({_show(then)} then, {_show(now)} now)")
        if differences:
            raise ResumeRefused(
                "cannot resume: the interrupted run differs in "
                + "; ".join(differences)
                + ". Resume with the same options, or pass --force to start again"
            )

    # -- writing ------------------------------------------------------------------------

    def write(self, results: Sequence[AlignmentResult]) -> None:
        """Write one window: one write per file, then flush (and fsync) both."""
        if not results:
            return
        main_text = "".join(
            format_record(
                r,
                self.output_format,
                include_matrix=self.include_matrix,
                signature=self.signature or "",
            )
            for r in results
        )
        chunks = [(self.main, main_text)]
        if self.scores is not None:
            # Scores first: should a crash fall between the two writes, the main output is
            # the shorter one, and a resume cuts both to it anyway.
            chunks.insert(
                0, (self.scores, "".join(format_scores(r.scores) + "\n" for r in results))
            )
        for target, text in chunks:
            if target.fd is None:
                sys.stdout.write(text)
                sys.stdout.flush()
                continue
            _write_all(target.fd, text.encode("utf-8"))
            if self.fsync and not target.special:
                os.fsync(target.fd)
        self.pairs_in_output += len(results)

    def close(self) -> None:
        """Close the files and leave them partial (for a later ``--resume``)."""
        for target in self.targets:
            if target.fd is not None:
                os.close(target.fd)
                target.fd = None
        if self.main.final is None:
            sys.stdout.flush()

    def finish(self) -> None:
        """Close the files and give them their real names: the output is complete."""
        for target in self.targets:
            if target.fd is not None and not target.special:
                os.fsync(target.fd)
        self.close()
        # Scores first and the main output last: OUT existing means everything is there.
        for target in [*self.targets[1:], self.main]:
            if target.renamed_at_end:
                assert target.final is not None
                os.replace(target.partial, target.final)
                _fsync_directory(target.final.parent)
        if self.state_path is not None:
            self.state_path.unlink(missing_ok=True)


def _show(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _write_json_atomically(path: Path, value: object) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _fsync_directory(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
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
