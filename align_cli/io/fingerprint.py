"""Fingerprints of the inputs behind an output, so that ``--resume`` never joins the
alignments of two different inputs.

Per window of the output, :class:`InputFingerprint` keeps one BLAKE2b digest per input
file of the raw bytes of the input lines behind it (line ends included, before decoding).
The sidecar of a running output and the record of a finished one keep them, so a resume
finds any change to a line already aligned, and an input cut short, and refuses to
continue. A resume checks twice: before the model loads, by reading the files
(:meth:`InputFingerprint.verify_files`), and again while it skips the aligned lines
(:meth:`InputFingerprint.tap`), which also covers standard input and pipes, which cannot
be read ahead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from align_cli.io.corpus import display_name, raw_lines
from align_cli.io.files import is_special_file
from align_cli.io.resume import ResumeRefused
from align_cli.io.sources import is_seekable


def _hasher() -> Any:
    return hashlib.blake2b(digest_size=16)


Window = list  # [pairs, [one digest per input]]


class InputFingerprint:
    """Digests of the input lines behind each window of an output (see the module doc).

    ``first`` is the 0-based pair the output starts at (a shard's first pair) and ``stop``
    the pair it ends before (``None``: the end of the input). Feed it every raw line read,
    skipped ones included, through :meth:`tap`.
    """

    def __init__(
        self, inputs: Sequence[str], *, window: int, first: int = 0, stop: int | None = None
    ):
        self.inputs = [str(path) for path in inputs]
        self.window = window
        self.first = first
        self.stop = stop
        self._hashers: dict[int, list[Any]] = {}
        self._lines: dict[int, list[int]] = {}
        self._expected: list[Window] = []
        self._verified = 0

    @classmethod
    def for_output(
        cls,
        output: str | None,
        inputs: Sequence[str],
        window: int,
        pair_range: tuple[int, int | None],
        shard: object | None,
    ) -> InputFingerprint | None:
        """The fingerprint of a run writing pairs ``pair_range`` of ``inputs`` to
        ``output``; None where the output cannot be resumed (standard output, a device)."""
        if output in (None, "-") or is_special_file(output):
            return None
        stop = None if shard is None else pair_range[1]
        return cls(inputs, window=window, first=pair_range[0], stop=stop)

    # -- while reading ------------------------------------------------------------------

    def tap(self, input_index: int, line_no: int, raw: bytes) -> None:
        """Take one raw line (1-based ``line_no``) of input ``input_index``."""
        pair = line_no - 1 - self.first
        if pair < 0 or (self.stop is not None and line_no > self.stop):
            return
        k = pair // self.window
        if k not in self._hashers:
            self._hashers[k] = [_hasher() for _ in self.inputs]
            self._lines[k] = [0] * len(self.inputs)
        self._hashers[k][input_index].update(raw)
        self._lines[k][input_index] += 1
        if k < len(self._expected) and self._lines[k][input_index] == self.window:
            digest = self._hashers[k][input_index].hexdigest()
            if digest != self._expected[k][1][input_index]:
                raise self._changed(input_index, k, None)
            self._verified += 1
            if all(count == self.window for count in self._lines[k]):
                del self._hashers[k], self._lines[k]

    def window_record(self, k: int, pairs: int) -> Window:
        """What the sidecar keeps of window ``k`` once its ``pairs`` results are written."""
        hashers = self._hashers.pop(k, None) or [_hasher() for _ in self.inputs]
        self._lines.pop(k, None)
        return [pairs, [hasher.hexdigest() for hasher in hashers]]

    def expect(self, windows: Sequence[Window]) -> None:
        """Have :meth:`tap` check that these (whole) windows are read unchanged."""
        self._expected = [list(window) for window in windows]
        self._verified = 0

    def require_expected_read(self) -> None:
        """Refuse to finish when an input ended before the windows a resume kept."""
        if self._verified < len(self._expected) * len(self.inputs):
            aligned = len(self._expected) * self.window
            raise ResumeRefused(
                f"an input has fewer than the {aligned} pairs the interrupted run had "
                "aligned (was it cut short?); resuming would leave an output longer than its "
                "input. Pass --force to align it again"
            )

    # -- before a model loads -------------------------------------------------------------

    def recorded_windows(self, saved: Mapping[str, Any], what: str) -> list[Window]:
        """The windows a sidecar or record keeps, once its pair range is this run's."""
        windows = saved.get("windows")
        if not isinstance(windows, list) or not isinstance(saved.get("pairs"), list):
            raise ResumeRefused(f"{what} recorded no input fingerprints; pass --force")
        first, stop = saved["pairs"]
        if (first, stop) != (self.first, self.stop):
            raise ResumeRefused(
                f"the input's length changed: this shard now covers pairs {self.first + 1} to "
                f"{self.stop}, {what} covered {first + 1} to {stop}; pass --force to align it "
                "again"
            )
        return windows

    def resume_point(
        self, windows: Sequence[Window], records: Sequence[int]
    ) -> tuple[int, list[Window]]:
        """Where a resume starts, and the windows it keeps: whole windows that every output
        file holds (``records``) and the sidecar describes, checked against the inputs now
        where they are files (pipes are checked while the resume skips them)."""
        whole = 0
        while whole < len(windows) and windows[whole][0] == self.window:
            whole += 1
        done = min([*records, whole * self.window])
        done -= done % self.window
        kept = [list(window) for window in windows[: done // self.window]]
        if all(is_seekable(path) for path in self.inputs):
            self.verify_files(kept)
        return done, kept

    def scan(self, limit: int | None = None) -> tuple[list[list[str]], list[int]]:
        """Read the inputs now: the digests of the windows of pairs ``first`` to ``stop``
        (at most ``limit`` pairs), and how many lines each input has in that range."""
        end = self.stop
        if limit is not None:
            end = self.first + limit if end is None else min(end, self.first + limit)
        windows: dict[int, list[Any]] = {}
        lines = []
        for index, path in enumerate(self.inputs):
            count = 0
            for line_no, raw in raw_lines(path):
                if line_no <= self.first:
                    continue
                if end is not None and line_no > end:
                    break
                k = (line_no - 1 - self.first) // self.window
                windows.setdefault(k, [_hasher() for _ in self.inputs])[index].update(raw)
                count += 1
            lines.append(count)
        digests = [[hasher.hexdigest() for hasher in windows[k]] for k in sorted(windows)]
        return digests, lines

    def verify_files(self, windows: Sequence[Window], *, complete: str | None = None) -> None:
        """Compare the inputs as they are now with recorded ``windows``.

        For a resume the inputs must hold at least the windows' pairs, unchanged. For a
        finished output (``complete`` names it) they must hold exactly its pairs.
        """
        recorded = sum(window[0] for window in windows)
        digests, lines = self.scan(recorded if complete is None else None)
        for index, count in enumerate(lines):
            if count < recorded or (complete is not None and count != recorded):
                name = display_name(self.inputs[index])
                span = f" from line {self.first + 1} on" if self.first else ""
                if complete is None:
                    raise ResumeRefused(
                        f"{name} has {count} lines{span}, fewer than the {recorded} pairs the "
                        "interrupted run had aligned (was it cut short?); resuming would leave "
                        "an output longer than its input. Pass --force to align it again"
                    )
                raise ResumeRefused(
                    f"{complete} is complete, but {name} now has {count} lines{span} where the "
                    f"run that wrote it had {recorded}; pass --force to align it again"
                )
        for k, window in enumerate(windows):
            for index in range(len(self.inputs)):
                if digests[k][index] != window[1][index]:
                    raise self._changed(index, k, complete)

    def _changed(self, input_index: int, k: int, complete: str | None) -> ResumeRefused:
        start = self.first + k * self.window + 1
        name = display_name(self.inputs[input_index])
        lines = f"lines {start}-{start + self.window - 1} of {name}"
        if complete is not None:
            return ResumeRefused(
                f"{complete} is complete, but {lines} changed since it was written; pass "
                "--force to align it again"
            )
        return ResumeRefused(
            f"{lines} changed since the interrupted run aligned them; resuming would join "
            "alignments of two different inputs. Pass --force to align it again"
        )
