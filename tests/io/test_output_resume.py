"""Resume from any point a run can die at: the result is byte-identical to a clean run.

A killed run leaves its partial files cut at an arbitrary byte (mid-line, mid-record, the
scores file longer or shorter than the main output). These tests cut the files of a real
run at every line boundary, one byte either side of it, and at random bytes, resume, and
compare bytes with an uninterrupted run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from align_cli.aligners.attention import AttentionAligner
from align_cli.errors import XalignError
from align_cli.io.corpus import read_corpus
from align_cli.io.writer import AlignmentWriter, Shard, offset_after_lines
from align_cli.jobs.local import LocalBackend, RunInterrupted, run_alignment
from align_cli.model.loading import load_model
from align_cli.settings import BatchingSettings
from tests.robustness_fixtures import newstest_pairs, one_torch_thread, tiny_model, write_joined

WINDOW = 4
DESCRIPTION = {"model": "tiny", "window": WINDOW}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def backend(tmp_path_factory, shared_data) -> LocalBackend:
    loaded = load_model(tiny_model(tmp_path_factory))
    return LocalBackend(
        AttentionAligner(loaded, batching=BatchingSettings(batch_size=3, window=WINDOW))
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_data) -> Path:
    sources, targets = newstest_pairs(11, offset=100)
    sources[5] = ""  # an empty pair inside, and 11 pairs: the last window is short
    return write_joined(tmp_path_factory.mktemp("corpus"), sources, targets)


def writer_for(folder: Path, output_format: str, **options) -> AlignmentWriter:
    return AlignmentWriter(
        str(folder / "out"),
        str(folder / "out.scores"),
        output_format=output_format,
        include_matrix=False,
        signature="sig",
        description=DESCRIPTION,
        window=WINDOW,
        **options,
    )


def run(backend: LocalBackend, corpus: Path, writer: AlignmentWriter):
    return run_alignment(
        backend, lambda skip: read_corpus([str(corpus)], start=skip), writer, window=WINDOW
    )


def complete_run(backend, corpus, folder: Path, output_format: str) -> tuple[bytes, bytes]:
    folder.mkdir()
    summary = run(backend, corpus, writer_for(folder, output_format))
    assert summary.complete
    return (folder / "out").read_bytes(), (folder / "out.scores").read_bytes()


def cut_points(data: bytes, rng: random.Random) -> list[int]:
    """Every line boundary and one byte either side of it, plus a few random bytes."""
    points = {0, len(data)}
    for position, byte in enumerate(data):
        if byte == ord("\n"):
            points.update({position, position + 1, position + 2})
    points.update(rng.randrange(len(data) + 1) for _ in range(6))
    return sorted(p for p in points if p <= len(data))


@pytest.mark.parametrize("output_format", ["pharaoh", "giza", "jsonl"])
def test_resume_from_any_cut_gives_the_identical_files(backend, corpus, tmp_path, output_format):
    reference, reference_scores = complete_run(backend, corpus, tmp_path / "ref", output_format)
    rng = random.Random(f"{output_format}-cuts")
    cuts = cut_points(reference, rng)
    for number, main_cut in enumerate(cuts):
        # The scores file is cut elsewhere: sometimes ahead of the main output, sometimes
        # behind it; a resume must bring both back in step.
        scores_cut = rng.randrange(len(reference_scores) + 1)
        folder = tmp_path / f"cut{number}"
        folder.mkdir()
        writer = writer_for(folder, output_format)
        assert writer.open() == 0
        writer.close()
        (folder / "out.partial").write_bytes(reference[:main_cut])
        (folder / "out.scores.partial").write_bytes(reference_scores[:scores_cut])

        summary = run(backend, corpus, writer_for(folder, output_format, resume=True))

        where = f"main cut at {main_cut}, scores cut at {scores_cut}"
        assert summary.complete, where
        assert summary.pairs_before % WINDOW == 0, where
        assert (folder / "out").read_bytes() == reference, where
        assert (folder / "out.scores").read_bytes() == reference_scores, where
        assert sorted(p.name for p in folder.iterdir()) == ["out", "out.scores"], where


def test_resume_redoes_only_what_is_missing(backend, corpus, tmp_path):
    reference, _ = complete_run(backend, corpus, tmp_path / "ref", "pharaoh")
    folder = tmp_path / "run"
    folder.mkdir()
    writer = writer_for(folder, "pharaoh")
    writer.open()
    writer.close()
    lines = reference.split(b"\n")
    (folder / "out.partial").write_bytes(b"\n".join(lines[:9]) + b"\n")
    (folder / "out.scores.partial").write_bytes(b"x\n" * 9)  # scores are not re-read

    calls: list[int] = []

    class CountingBackend(LocalBackend):
        def align_windows(self, windows):
            for window in windows:
                calls.append(window[0].index)
                yield list(self.aligner.align_pairs(window))

    summary = run(
        CountingBackend(backend.aligner), corpus, writer_for(folder, "pharaoh", resume=True)
    )
    assert summary.pairs_before == 8 and calls == [8]
    assert (folder / "out").read_bytes() == reference


def test_a_finished_run_killed_between_its_renames_resumes_to_complete(backend, corpus, tmp_path):
    reference, reference_scores = complete_run(backend, corpus, tmp_path / "ref", "pharaoh")
    folder = tmp_path / "run"
    folder.mkdir()
    writer = writer_for(folder, "pharaoh")
    writer.open()
    writer.close()
    # Everything written, the scores renamed, then the process died.
    (folder / "out.partial").write_bytes(reference)
    (folder / "out.scores").write_bytes(reference_scores)
    (folder / "out.scores.partial").unlink()
    assert not (folder / "out").exists()
    summary = run(backend, corpus, writer_for(folder, "pharaoh", resume=True))
    assert summary.complete and summary.pairs_before == 8
    assert (folder / "out").read_bytes() == reference
    assert (folder / "out.scores").read_bytes() == reference_scores


def test_a_signal_mid_run_leaves_whole_windows_and_resumes(backend, corpus, tmp_path):
    import os
    import signal

    reference, reference_scores = complete_run(backend, corpus, tmp_path / "ref", "jsonl")
    folder = tmp_path / "run"
    folder.mkdir()

    def interrupt_after_first_window(pairs_in_output: int) -> None:
        if pairs_in_output == WINDOW:
            os.kill(os.getpid(), signal.SIGINT)  # handled: finish this window, then stop

    with pytest.raises(RunInterrupted) as stopped:
        run_alignment(
            backend,
            lambda skip: read_corpus([str(corpus)], start=skip),
            writer_for(folder, "jsonl"),
            window=WINDOW,
            on_window=interrupt_after_first_window,
        )
    assert stopped.value.pairs == WINDOW and stopped.value.exit_code == 130
    partial = (folder / "out.partial").read_bytes()
    assert partial == reference[: offset_after_lines(folder / "out.partial", WINDOW)]
    assert partial.count(b"\n") == WINDOW and not (folder / "out").exists()
    run(backend, corpus, writer_for(folder, "jsonl", resume=True))
    assert (folder / "out").read_bytes() == reference
    assert (folder / "out.scores").read_bytes() == reference_scores


def test_resume_refuses_another_run_description(tmp_path):
    writer = writer_for(tmp_path, "pharaoh")
    writer.open()
    writer.close()
    other = AlignmentWriter(
        str(tmp_path / "out"),
        str(tmp_path / "out.scores"),
        output_format="pharaoh",
        include_matrix=False,
        signature="sig",
        description={**DESCRIPTION, "model": "another"},
        window=WINDOW,
        resume=True,
    )
    with pytest.raises(XalignError, match=r'model \("tiny" then, "another" now\)'):
        other.open()
    state = json.loads((tmp_path / "out.partial.json").read_text())
    assert state["description"] == DESCRIPTION  # the refused resume changed nothing
    forced = writer_for(tmp_path, "pharaoh", resume=True, force=True)
    (tmp_path / "out.partial.json").write_text("{not json")
    assert forced.open() == 0  # --resume --force: start again where resuming is impossible
    forced.close()


def test_devices_are_written_in_place_and_never_renamed(backend, corpus, tmp_path):
    writer = AlignmentWriter(
        "/dev/null",
        None,
        output_format="pharaoh",
        include_matrix=False,
        signature="sig",
        description=DESCRIPTION,
        window=WINDOW,
    )
    assert not writer.resumable
    assert run(backend, corpus, writer).complete
    assert Path("/dev/null").exists() and not Path("/dev/null").is_file()


@pytest.mark.parametrize("total", [0, 1, 4, 11, 40, 41])
@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_cover_every_pair_once_on_window_boundaries(total, count):
    ranges = [Shard(index, count).pair_range(total, WINDOW) for index in range(1, count + 1)]
    covered = [pair for start, stop in ranges for pair in range(start, stop)]
    assert covered == list(range(total))
    assert all(start % WINDOW == 0 or start == total for start, _ in ranges)
    windows_per_shard = [-(-(stop - start) // WINDOW) for start, stop in ranges]
    assert max(windows_per_shard) - min(windows_per_shard) <= 1  # as even as windows allow
