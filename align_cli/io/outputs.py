"""The files of one resumable output, and what a run may do with what it finds there.

An output ``OUT`` (and its scores file) is written as ``OUT.partial``, described by the
sidecar ``OUT.partial.json`` while the run lasts, locked through ``.OUT.lock``, and, once
finished, renamed to ``OUT`` beside the record ``.OUT.xalign.json``.
:class:`ResumableOutput` finds out from these files whether a run starts afresh, resumes
or has nothing to do (the table in docs/robustness.md), refusing what would lose or mix
data; :class:`~align_cli.io.writer.AlignmentWriter` builds on it to write the windows.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from align_cli.errors import XalignError
from align_cli.io import files
from align_cli.io.fingerprint import InputFingerprint
from align_cli.io.resume import (
    ResumeRefused,
    check_finished,
    count_newlines,
    dump_record,
    finished_record,
    offset_after_lines,
    read_record,
    record_path,
    run_differences,
)

PARTIAL_SUFFIX = ".partial"
STATE_SUFFIX = ".partial.json"
STATE_VERSION = 3


@dataclass
class OutputTarget:
    """One output stream: the main output or the scores file."""

    final: Path | None  # None: standard output
    lines_per_record: int
    given: str = "-"  # the name as the user gave it, for messages
    special: bool = False  # device or FIFO: no partial file, no resume
    fd: int | None = None
    lock: files.OutputLock | None = None

    @property
    def partial(self) -> Path:
        assert self.final is not None
        return self.final.with_name(self.final.name + PARTIAL_SUFFIX)

    @property
    def renamed_at_end(self) -> bool:
        return self.final is not None and not self.special

    @property
    def compressed(self) -> bool:
        return self.final is not None and self.final.name.endswith(".gz")

    def records(self) -> int:
        """Complete records in the partial file (or in the final one, renamed by a run
        that died between its renames)."""
        assert self.final is not None
        for path in (self.partial, self.final):
            if path.exists() and not (path == self.final and self.compressed):
                return count_newlines(path) // self.lines_per_record
        return 0


def output_paths(output: str | None, scores: str | None) -> list[tuple[str, str]]:
    """Every file a run writing ``output`` (None or ``-``: standard output) and ``scores``
    may write or remove, with the option it comes from: the files themselves, the partial
    files, the sidecar and the records (for :func:`align_cli.io.files.refuse_same_files`)."""
    found = []
    for option, path in (("-o", output or "-"), ("--scores", scores)):
        if path is None:
            continue
        found.append((option, path))
        if path != "-" and not files.is_special_file(path):
            final = Path(path).absolute()
            found.append((option, str(final.with_name(final.name + PARTIAL_SUFFIX))))
            found.append((option, str(record_path(final))))
            if option == "-o":
                found.append((option, str(final.with_name(final.name + STATE_SUFFIX))))
    return found


class ResumableOutput:
    """The main output and the scores file of a run, their sidecar, record and locks.

    ``description`` is everything about the run that changes the bytes of its output (the
    options, the inputs); a resume must match it. ``inputs`` fingerprints the input lines
    (fed by the reader's tap). :meth:`check` locks the files and refuses early what a run
    may not do; :meth:`close` unlocks.
    """

    def __init__(
        self,
        output: str | None,
        scores: str | None,
        *,
        lines_per_record: int,
        description: Mapping[str, Any],
        signature: str | None,
        window: int,
        force: bool,
        resume: bool,
        inputs: InputFingerprint | None,
    ):
        self.signature = signature
        self.window = window
        self.force = force
        self.resume = resume
        self.fingerprint = inputs
        self.description = json.loads(json.dumps(dict(description)))  # plain JSON values
        self.main = self._target(output, lines_per_record)
        self.scores = self._target(scores, 1) if scores is not None else None
        if self.scores is not None and self.scores.final is None:
            raise XalignError("--scores needs a file name (standard output holds the links)")
        if self.scores is not None and self.scores.final == self.main.final:
            raise XalignError("--scores and --output must be different files")
        self._windows: list[list] = []  # per window written: [pairs, input digests]
        self._kept: tuple[int, list[list]] | None = None  # what a resume keeps
        self._finished_checked = False

    @staticmethod
    def _target(path: str | None, lines_per_record: int) -> OutputTarget:
        if path is None or path == "-":
            return OutputTarget(None, lines_per_record)
        final = Path(path).absolute()
        return OutputTarget(final, lines_per_record, path, special=files.is_special_file(final))

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
    def targets(self) -> list[OutputTarget]:
        return [self.main] + ([self.scores] if self.scores is not None else [])

    @property
    def where(self) -> str:
        """Where the pairs written so far are, for messages."""
        if self.main.final is None:
            return "standard output"
        return str(self.main.partial if self.main.renamed_at_end else self.main.final)

    def paths(self) -> list[tuple[str, str]]:
        """Every file this output may write or remove (see :func:`output_paths`)."""
        return output_paths(self.main.given, None if self.scores is None else self.scores.given)

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "xalign_partial_output": STATE_VERSION,
            "description": self.description,
            "signature": self.signature,
            "scores": str(self.scores.final) if self.scores is not None else None,
        }
        if self.fingerprint is not None:
            state["pairs"] = [self.fingerprint.first, self.fingerprint.stop]
            state["windows"] = self._windows
        return state

    def check(self) -> bool:
        """Lock the output and refuse early (before a model is loaded) what :meth:`open`
        would refuse. Returns False when ``--resume`` finds the output already complete."""
        if self._plan() == "complete":
            self._settle_complete()
            return False
        return True

    def _settle_complete(self) -> None:
        """A complete output whose run died before removing its sidecar: finish that."""
        if self.state_path is not None and self.state_path.exists():
            self._write_record()
            self.state_path.unlink(missing_ok=True)

    def _plan(self) -> str:
        """``fresh``, ``resume`` or ``complete``; raises when none is allowed.

        ``--resume --force`` resumes what can be resumed and starts again otherwise.
        """
        try:
            self._lock()
            try:
                return self._plan_strict()
            except ResumeRefused:
                if self.force:
                    return "fresh"
                raise
        except BaseException:
            self._unlock()
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
            saved = read_record(state)
            self._check_same_run(saved)
            if not self.main.partial.exists() and self.main.final.exists():
                # The earlier run renamed its output and died before removing its state.
                self._check_inputs(saved, complete=True)
                return "complete"
            self._check_inputs(saved, complete=False)
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
            self._check_finished()
            return "complete"
        if finals and not self.force:
            raise XalignError(f"{finals[0]} exists; pass --force to overwrite it")
        return "fresh"

    def _check_same_run(self, saved: Mapping[str, Any]) -> None:
        if saved.get("xalign_partial_output") != STATE_VERSION:
            raise ResumeRefused(
                f"{self.state_path} was written by another xalign version; pass --force"
            )
        differences = run_differences(saved, self._state())
        if differences:
            raise ResumeRefused(
                "cannot resume: the interrupted run differs in "
                + "; ".join(differences)
                + ". Resume with the same options, or pass --force to start again"
            )

    def _check_inputs(self, saved: Mapping[str, Any], *, complete: bool) -> None:
        """With a fingerprint, the inputs must still hold what the recorded windows were
        made of; works out once where a resume starts."""
        if self.fingerprint is None:
            return
        windows = self.fingerprint.recorded_windows(saved, "the interrupted run")
        if complete:
            self.fingerprint.verify_files(windows, complete=self.main.given)
            self._windows = windows
            self.signature = self.signature or saved.get("signature")
        elif self._kept is None:
            records = [target.records() for target in self.targets]
            self._kept = self.fingerprint.resume_point(windows, records)

    def _check_finished(self) -> None:
        """With a fingerprint, a complete output is checked against the record of the run
        that wrote it: the options, the files themselves and the inputs."""
        if self.fingerprint is None or self._finished_checked:
            return
        assert self.main.final is not None
        mine = {**self._state(), "signature": None}  # the model is not loaded yet
        named = [(t.given, t.final) for t in self.targets if t.renamed_at_end]
        saved = check_finished(self.main.final, named, mine)  # type: ignore[arg-type]
        windows = self.fingerprint.recorded_windows(saved, "the run that wrote it")
        self.fingerprint.verify_files(windows, complete=self.main.given)
        self._finished_checked = True

    def _finals(self) -> list[Path]:
        return [t.final for t in self.targets if t.renamed_at_end]  # type: ignore[misc]

    def _prepare_fresh(self) -> int:
        # --force: the old record and complete files go first, so that a complete-looking
        # OUT never sits beside a newer run's OUT.partial.
        for target in self.targets:
            if target.renamed_at_end:
                assert target.final is not None
                record_path(target.final).unlink(missing_ok=True)
                target.final.unlink(missing_ok=True)
                target.partial.unlink(missing_ok=True)
        self._windows = []
        self._save_state()
        for target in self.targets:
            if target.renamed_at_end:
                target.partial.write_bytes(b"")
        return 0

    def _prepare_resume(self) -> int:
        for target in self.targets:
            assert target.final is not None
            if not target.partial.exists() and target.final.exists() and not target.compressed:
                # Renamed by a run that died between its two renames: it is this run's file.
                os.replace(target.final, target.partial)
            if not target.partial.exists():
                target.partial.write_bytes(b"")
        if self._kept is not None:
            done, self._windows = self._kept
            assert self.fingerprint is not None
            self.fingerprint.expect(self._windows)
            self._save_state()
        else:
            done = min(target.records() for target in self.targets)
            done -= done % self.window
        for target in self.targets:
            keep = offset_after_lines(target.partial, done * target.lines_per_record)
            os.truncate(target.partial, keep)
        return done

    def _save_state(self) -> None:
        if self.state_path is not None:
            files.write_json(self.state_path, dump_record(self._state()))

    def close(self) -> None:
        """Close the files, leave them partial (for a later ``--resume``) and unlock."""
        for target in self.targets:
            if target.fd is not None:
                os.close(target.fd)
                target.fd = None
        if self.main.final is None:
            with contextlib.suppress(OSError):  # reported where the write failed
                sys.stdout.flush()
        self._unlock()

    def _write_record(self) -> None:
        """The record of a finished run, for a later ``--resume`` to check against."""
        if self.fingerprint is not None and self.main.final is not None:
            record = finished_record(self._state(), self._finals())
            files.write_json(record_path(self.main.final), dump_record(record))

    # -- locks --------------------------------------------------------------------------

    def _lock(self) -> None:
        for target in self.targets:
            if target.renamed_at_end and target.lock is None:
                assert target.final is not None
                lock = files.OutputLock(target.final, target.given)
                lock.acquire()
                target.lock = lock

    def _unlock(self) -> None:
        for target in self.targets:
            if target.lock is not None:
                target.lock.release()
                target.lock = None
