"""Alignment output that never loses or shifts a line: whole windows, resume, one writer.

Downstream tools assume that line N of an alignment file belongs to pair N. So:

* **A file named OUT is always complete.** A run writes ``OUT.partial`` (and
  ``SCORES.partial``), described in ``OUT.partial.json``, and renames them (scores first,
  a ``.gz`` name compressed on the way) only when every pair is written.
* **Whole windows only.** One write per file per window, flushed and fsynced: a killed run
  leaves whole windows (at worst a torn last write, which a resume cuts off).
* **One run per output.** A run holds an ``flock`` on ``.OUT.lock`` (and the scores
  file's) from its checks to its end; a second run stops at once, naming the first.
* **A resume is byte-identical to an uninterrupted run on the same input.** ``--resume``
  counts the complete records of each file, takes the smaller count, rounds it down to a
  whole window, truncates both files there and continues (windows are the unit of
  batching, so the numbers are those of an uninterrupted run). Other options are refused.
  Given the inputs' :class:`~align_cli.io.fingerprint.InputFingerprint` (``xalign
  extract`` gives it), the sidecar records a digest of the input lines behind every
  window, a resume refuses an input whose aligned lines changed or that was cut short, and
  a finished run leaves ``.OUT.xalign.json``, against which a later ``--resume`` checks
  the options, the inputs and the files before saying there is nothing to do.

Shards (``--shard K/N``) are contiguous runs of whole windows, so that concatenating the
shard files in order (``cat``) gives, byte for byte, the output of a single run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from align_cli.errors import XalignError
from align_cli.io import files
from align_cli.io.fingerprint import InputFingerprint
from align_cli.io.formats import FORMATS, AlignedSentence, format_scores
from align_cli.io.outputs import PARTIAL_SUFFIX, STATE_SUFFIX, ResumableOutput
from align_cli.io.resume import ResumeRefused, Shard, count_newlines, offset_after_lines
from align_cli.signature import Signature
from align_cli.types import AlignmentResult

__all__ = [
    "PARTIAL_SUFFIX",
    "RECORD_LINES",
    "STATE_SUFFIX",
    "AlignmentWriter",
    "InputFingerprint",
    "ResumeRefused",
    "Shard",
    "count_newlines",
    "format_record",
    "offset_after_lines",
]

# Lines one pair takes in each format a run can write (GIZA A3 records are three lines). A
# resume counts records by lines, so a format whose records vary in length (NAACL) is out,
# and so is a file of scores alone (it is the --scores file). Shortest records first:
# pharaoh, jsonl, giza, the order `xalign extract --format` has always listed them in.
RECORD_LINES = {
    fmt.name: fmt.lines_per_record
    for fmt in sorted(FORMATS.values(), key=lambda fmt: fmt.lines_per_record or 0)
    if fmt.writable and fmt.holds_links and fmt.lines_per_record is not None
}


def format_record(
    result: AlignmentResult,
    output_format: str,
    *,
    include_matrix: bool,
    signature: str,
    flags: bool = False,
) -> str:
    """One pair's output, with its final newline."""
    if output_format not in RECORD_LINES:
        raise XalignError(f"unknown output format {output_format!r}")
    sentence = AlignedSentence.from_result(
        result, include_matrix=include_matrix, signature=signature, flags=flags
    )
    text = FORMATS[output_format].write(sentence)
    assert text is not None  # every record format has lines for every pair
    return text + "\n"


class AlignmentWriter(ResumableOutput):
    """Writes alignments (and optionally their scores) window by window; see the module doc.

    ``description`` is everything about the run that changes the bytes of its output (the
    options, the inputs); a resume must match it. ``inputs`` fingerprints the input lines
    (fed by the reader's tap). Call :meth:`check` before the expensive work, then
    :meth:`open` once, :meth:`write` per window, and :meth:`finish` (complete) or
    :meth:`close` (interrupted: the partial files stay for a resume). Used as a context
    manager, it closes (and unlocks) on the way out.
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
        inputs: InputFingerprint | None = None,
        flags: bool = False,
    ):
        if output_format not in RECORD_LINES:
            raise XalignError(f"unknown output format {output_format!r}")
        super().__init__(
            output,
            scores,
            lines_per_record=RECORD_LINES[output_format],
            description=description,
            signature=None if signature is None else str(signature),
            window=window,
            force=force,
            resume=resume,
            inputs=inputs,
        )
        self.output_format = output_format
        self.include_matrix = include_matrix
        self.flags = flags  # JSONL lists the words without a link
        self.fsync = fsync
        self.pairs_in_output = 0  # pairs written so far, counting those of an earlier run

    def sign(self, signature: Signature | str) -> None:
        """Name what produced the results (once the model is loaded); it goes into JSONL
        records and the resume sidecar, and a resume must produce the same one."""
        self.signature = str(signature)

    def __enter__(self) -> AlignmentWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- opening ------------------------------------------------------------------------

    def open(self) -> int | None:
        """Open the output; return the number of pairs already in it (``None``: complete).

        The count is a whole number of windows: a resumed run starts at a window boundary.
        """
        plan = self._plan()
        try:
            if plan == "complete":
                self._settle_complete()
                self._unlock()
                return None
            done = self._prepare_resume() if plan == "resume" else self._prepare_fresh()
            for target in self.targets:
                if target.final is None:
                    continue
                if target.special:
                    target.fd = os.open(target.final, os.O_WRONLY)
                else:
                    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
                    target.fd = os.open(target.partial, flags, 0o666)
        except OSError as error:
            self.close()
            raise files.write_error(error, self.where) from None
        except BaseException:
            self.close()
            raise
        self.pairs_in_output = done
        return done

    # -- writing ------------------------------------------------------------------------

    def write(self, results: Sequence[AlignmentResult]) -> None:
        """Write one window: record its input digests in the sidecar, then one write per
        file, flushed (and fsynced)."""
        if not results:
            return
        main_text = "".join(
            format_record(
                r,
                self.output_format,
                include_matrix=self.include_matrix,
                signature=self.signature or "",
                flags=self.flags,
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
        path: Path | None = None
        try:
            if self.fingerprint is not None and self.resumable:
                # The sidecar first: a resume keeps only the windows both it and the files
                # hold, so either order is safe, and the output's write stays the last act
                # of a window (what a Ctrl-C between windows sees).
                path = self.state_path
                k = len(self._windows)
                self._windows.append(self.fingerprint.window_record(k, len(results)))
                self._save_state()
            for target, text in chunks:
                if target.fd is None:
                    path = None
                    sys.stdout.write(text)
                    sys.stdout.flush()
                    continue
                path = target.partial if target.renamed_at_end else target.final
                files.write_all(target.fd, text.encode("utf-8"))
                if self.fsync and not target.special:
                    os.fsync(target.fd)
        except BrokenPipeError:
            raise
        except OSError as error:
            if path is None:
                raise files.stdout_error(error) from None
            raise files.write_error(error, path, kept=self._kept_message()) from None
        self.pairs_in_output += len(results)

    def _kept_message(self) -> str:
        if not self.resumable:
            return f"{self.pairs_in_output} pairs were written before it"
        return (
            f"the {self.pairs_in_output} pairs before this window are in {self.where}: rerun "
            "with --resume to continue"
        )

    def finish(self) -> None:
        """Close the files and give them their real names: the output is complete."""
        try:
            for target in self.targets:
                if target.fd is not None and not target.special:
                    os.fsync(target.fd)
            for target in self.targets:
                if target.fd is not None:
                    os.close(target.fd)
                    target.fd = None
            if self.fingerprint is not None and self.resumable:
                self.fingerprint.require_expected_read()
            # Scores first and the main output last: OUT existing means everything is there.
            renamed = [t for t in [*self.targets[1:], self.main] if t.renamed_at_end]
            for target in renamed:
                assert target.final is not None
                if target.compressed:
                    files.copy_into(target.partial, str(target.final))
                else:
                    os.replace(target.partial, target.final)
                    files.fsync_folder(target.final.parent)
            for target in renamed:
                target.partial.unlink(missing_ok=True)
            if self.state_path is not None:
                self._write_record()
                self.state_path.unlink(missing_ok=True)
        except OSError as error:
            raise files.write_error(error, self.where) from None
        finally:
            self.close()
