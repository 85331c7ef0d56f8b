"""`xalign extract` on wrong or strange input, refused overwrites, shards and loading safety.

Every row of the bad-input table in docs/robustness.md names one of these tests. The
model is a tiny random Marian with the real OPUS tokenizer; the corpus is real newstest
text. The invariant checked throughout: output line N belongs to input line N.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from align_cli.settings import BatchingSettings
from tests.cli_runner import run_cli
from tests.robustness_fixtures import (
    newstest_pairs,
    one_torch_thread,
    tiny_model,
    write_joined,
    write_parallel,
)

WINDOW = ["--window", "4", "--batch-size", "3"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, shared_data) -> str:
    return tiny_model(tmp_path_factory)


@pytest.fixture(scope="module")
def pairs(shared_data) -> tuple[list[str], list[str]]:
    return newstest_pairs(14)


def extract(model_dir: str, *args: object, stdin: str | None = None):
    return run_cli(["extract", *args, "-m", model_dir, "-q", *WINDOW], stdin=stdin)


def aligned(model_dir: str, folder: Path, sources: list[str], targets: list[str]) -> list[str]:
    """The output lines of a clean run on these pairs (the reference)."""
    src, tgt = write_parallel(folder, sources, targets)
    result = extract(model_dir, src, tgt)
    assert result.exit_code == 0, result.stderr
    return result.stdout.split("\n")[:-1]


def partial_lines(path: Path) -> list[str]:
    return path.with_name(path.name + ".partial").read_text(encoding="utf-8").split("\n")[:-1]


# --------------------------------------------------------------------------- bad input


def test_files_of_different_lengths_stop_after_every_earlier_pair(model_dir, pairs, tmp_path):
    sources, targets = pairs
    reference = aligned(model_dir, tmp_path, sources[:9], targets[:9])
    src, tgt = write_parallel(tmp_path, sources, targets[:9])
    out = tmp_path / "out.txt"
    result = extract(model_dir, src, tgt, "-o", out)
    assert result.exit_code == 2
    assert f"{tgt}:10: the file ends here, but {src} has a line 10" in result.stderr
    assert "9 pairs before it are aligned in" in result.stderr
    assert not out.exists()  # the output is never complete-looking
    assert partial_lines(out) == reference
    # The other way round names the other file.
    src2, tgt2 = write_parallel(tmp_path / "other", sources[:9], targets)
    reverse = extract(model_dir, src2, tgt2)
    assert reverse.exit_code == 2 and f"{src2}:10: the file ends here" in reverse.stderr


def test_files_of_different_lengths_are_refused_before_a_shard_starts(model_dir, pairs, tmp_path):
    sources, targets = pairs
    src, tgt = write_parallel(tmp_path, sources, targets[:9])
    result = extract(model_dir, src, tgt, "--shard", "2/2", "-o", tmp_path / "o")
    assert result.exit_code == 2
    assert f"{tgt}: has 9 lines but {src} has 14" in result.stderr
    assert not list(tmp_path.glob("o*"))


def test_invalid_utf8_names_file_and_line_or_is_replaced(model_dir, pairs, tmp_path):
    sources, targets = pairs
    src, tgt = write_parallel(tmp_path, sources[:7], targets[:7])
    lines = src.read_bytes().split(b"\n")
    lines[4] = lines[4][:10] + b"\xff\xfe" + lines[4][10:]
    src.write_bytes(b"\n".join(lines))
    out = tmp_path / "out.txt"
    strict = extract(model_dir, src, tgt, "-o", out)
    assert strict.exit_code == 2
    assert f"{src}:5: invalid UTF-8 at byte 10" in strict.stderr
    assert "--encoding-errors replace" in strict.stderr
    assert len(partial_lines(out)) == 4  # the pairs before line 5 are written
    replaced = extract(model_dir, src, tgt, "--encoding-errors", "replace")
    assert replaced.exit_code == 0
    assert len(replaced.stdout.split("\n")[:-1]) == 7
    assert replaced.stdout.split("\n")[4] != ""  # the repaired line is aligned


def test_bom_and_crlf_change_nothing(model_dir, pairs, tmp_path):
    sources, targets = pairs
    reference = aligned(model_dir, tmp_path, sources, targets)
    src, tgt = tmp_path / "bom.fr", tmp_path / "bom.en"
    src.write_bytes(b"\xef\xbb\xbf" + "".join(s + "\r\n" for s in sources).encode())
    tgt.write_bytes(b"\xef\xbb\xbf" + "".join(t + "\r\n" for t in targets).encode())
    result = extract(model_dir, src, tgt)
    assert result.stdout.split("\n")[:-1] == reference
    joined = tmp_path / "bom.fr-en"
    joined.write_bytes(
        b"\xef\xbb\xbf" + "".join(f"{s} ||| {t}\r\n" for s, t in zip(*pairs, strict=True)).encode()
    )
    assert extract(model_dir, "-i", joined).stdout.split("\n")[:-1] == reference


@pytest.mark.parametrize("character", ["\x85", "\u2028", "\x0c"])
def test_characters_other_tools_break_lines_on_are_word_spaces(
    model_dir, pairs, tmp_path, character
):
    sources, targets = pairs
    reference = aligned(model_dir, tmp_path, sources, targets)
    odd = [s.replace(" ", character, 2) for s in sources]
    assert odd != sources
    src, tgt = write_parallel(tmp_path / "odd", odd, targets)
    result = extract(model_dir, src, tgt)
    assert result.exit_code == 0
    assert result.stdout.split("\n")[:-1] == reference  # same lines, same words


def test_empty_and_whitespace_only_lines_keep_their_output_line(model_dir, pairs, tmp_path):
    sources, targets = pairs
    sources = [sources[0], "", "  \t ", sources[3], "word", ""]
    targets = [targets[0], "", " ", "", "", "mot"]
    src, tgt = write_parallel(tmp_path, sources, targets)
    pharaoh = extract(model_dir, src, tgt)
    lines = pharaoh.stdout.split("\n")[:-1]
    assert len(lines) == 6
    assert lines[0] != "" and lines[1:] == ["", "", "", "", ""]
    jsonl = extract(model_dir, src, tgt, "--format", "jsonl")
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [r["index"] for r in records] == list(range(6))
    assert records[2] == {**records[2], "src_words": [], "tgt_words": [], "links": []}
    giza = extract(model_dir, src, tgt, "--format", "giza")
    assert giza.stdout.count("\n") == 3 * 6
    assert "# Sentence pair (3) source length 0 target length 0" in giza.stdout


@pytest.mark.parametrize(
    ("bad_line", "found"), [("no separator at all", "found no"), ("a ||| b ||| c", "found 2")]
)
def test_a_line_without_exactly_one_separator(model_dir, pairs, tmp_path, bad_line, found):
    sources, targets = pairs
    lines = [f"{s} ||| {t}" for s, t in zip(sources[:6], targets[:6], strict=True)]
    lines[4] = bad_line
    joined = tmp_path / "c.fr-en"
    joined.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    failed = extract(model_dir, "-i", joined, "-o", out)
    assert failed.exit_code == 2
    assert f"{joined}:5: expected one '|||'" in failed.stderr and found in failed.stderr
    assert "--on-bad-line skip" in failed.stderr
    assert len(partial_lines(out)) == 4
    skipped = run_cli(["extract", "-i", joined, "-m", model_dir, *WINDOW, "--on-bad-line", "skip"])
    assert skipped.exit_code == 0
    out_lines = skipped.stdout.split("\n")[:-1]
    assert len(out_lines) == 6 and out_lines[4] == "" and out_lines[5] != ""
    assert "1 line(s) without exactly one '|||'" in skipped.stderr
    assert "input lines: 5" in skipped.stderr


def test_lines_far_beyond_the_model_limit_are_skipped_or_fail(model_dir, pairs, tmp_path):
    sources, targets = pairs
    sources = [sources[0], " ".join(["mot"] * 3000), sources[2]]
    targets = [targets[0], "word", targets[2]]
    src, tgt = write_parallel(tmp_path, sources, targets)
    skipped = run_cli(["extract", src, tgt, "-m", model_dir])  # the model's own limit: 512
    assert skipped.exit_code == 0
    lines = skipped.stdout.split("\n")[:-1]
    assert len(lines) == 3 and lines[1] == "" and lines[0] and lines[2]
    assert "more than the model's" not in skipped.stdout
    assert "1 pair(s) longer than the model takes" in skipped.stderr
    out = tmp_path / "out.txt"
    failed = extract(model_dir, src, tgt, "--on-long", "fail", "-o", out)
    assert failed.exit_code == 2 and f"{src}:2: pair too long" in failed.stderr
    assert len(partial_lines(out)) == 1  # the pair before it is written


def test_words_of_hundreds_of_characters_are_just_words(model_dir, tmp_path):
    long_word = "anticonstitutionnellement" * 12  # 300 characters
    huge_word = "x" * 5000
    src, tgt = write_parallel(
        tmp_path, [f"le {long_word} chat", f"un {huge_word}"], ["the cat", "a b"]
    )
    result = run_cli(
        ["extract", src, tgt, "-m", model_dir, "--format", "jsonl", "--method", "argmax", "-q"]
    )
    assert result.exit_code == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["src_words"][1] == long_word and first["skipped"] is None
    # argmax links every target word
    assert sorted(j for _, j in first["links"]) == [0, 1]
    assert second["links"] == [] and "more than the model's" in second["skipped"]


def test_control_characters_and_nul_inside_a_line(model_dir, tmp_path):
    src, tgt = write_parallel(tmp_path, ["a\x00b c\x07 d\x1b[0m", "e"], ["x y", "f"])
    result = extract(model_dir, src, tgt)
    assert result.exit_code == 0
    assert len(result.stdout.split("\n")[:-1]) == 2


def test_an_empty_input_gives_an_empty_complete_output(model_dir, tmp_path):
    src, tgt = write_parallel(tmp_path, [], [])
    out = tmp_path / "out.txt"
    result = extract(model_dir, src, tgt, "-o", out)
    assert result.exit_code == 0 and out.read_bytes() == b""
    assert not list(tmp_path.glob("*.partial*"))


def test_a_gold_file_shorter_than_the_prediction(tmp_path):
    gold, pred = tmp_path / "gold.talp", tmp_path / "pred.pharaoh"
    gold.write_text("1-1 2-2\n1-1\n")
    pred.write_text("0-0 1-1\n0-0\n0-0\n")
    result = run_cli(["eval", gold, pred, "--gold-one-based"])
    assert result.exit_code == 2
    assert f"{gold}:3: ends after 2 sentences, but {pred} has more" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- never overwrite


def test_outputs_are_never_overwritten_without_force_or_resume(model_dir, pairs, tmp_path):
    sources, targets = pairs
    src, tgt = write_parallel(tmp_path, sources[:5], targets[:5])
    out, scores = tmp_path / "out.txt", tmp_path / "out.scores"
    scores.write_text("precious\n")
    refused = extract(model_dir, src, tgt, "-o", out, "--scores", scores)
    assert refused.exit_code == 2 and f"{scores} exists; pass --force" in refused.stderr
    assert scores.read_text() == "precious\n" and not out.exists()
    assert not list(tmp_path.glob("*.partial*"))  # refused before anything was written

    forced = extract(model_dir, src, tgt, "-o", out, "--scores", scores, "--force")
    assert forced.exit_code == 0 and len(scores.read_text().splitlines()) == 5
    complete = out.read_bytes()
    again = extract(model_dir, src, tgt, "-o", out, "--scores", scores, "--resume")
    assert again.exit_code == 0 and out.read_bytes() == complete  # resume of a complete run


def test_a_scores_file_beside_standard_output_is_not_overwritten(model_dir, pairs, tmp_path):
    sources, targets = pairs
    src, tgt = write_parallel(tmp_path, sources[:5], targets[:5])
    scores = tmp_path / "out.scores"
    scores.write_text("precious\n")
    refused = extract(model_dir, src, tgt, "--scores", scores)
    assert refused.exit_code == 2 and f"{scores} exists; pass --force" in refused.stderr
    assert refused.stdout == "" and scores.read_text() == "precious\n"
    (tmp_path / "out.scores.partial").write_text("left over by a killed run\n")
    forced = extract(model_dir, src, tgt, "--scores", scores, "--force")
    assert forced.exit_code == 0 and forced.stdout.count("\n") == 5
    assert len(scores.read_text().splitlines()) == 5  # the leftover was not appended to
    assert not (tmp_path / "out.scores.partial").exists()


def test_a_partial_output_is_neither_overwritten_nor_resumed_with_other_options(
    model_dir, pairs, tmp_path
):
    sources, targets = pairs
    src, tgt = write_parallel(tmp_path, sources, targets)
    src_lines = src.read_text().split("\n")
    broken = tmp_path / "broken.fr"
    broken.write_bytes(src.read_bytes().replace(src_lines[9].encode(), b"\xff", 1))
    out = tmp_path / "out.txt"
    first = extract(model_dir, broken, tgt, "-o", out)
    assert first.exit_code == 2 and len(partial_lines(out)) == 9
    plain = extract(model_dir, broken, tgt, "-o", out)
    assert plain.exit_code == 2 and "pass --resume to continue it or --force" in plain.stderr
    other = run_cli(["extract", broken, tgt, "-m", model_dir, "-o", out, "--resume", "-q"])
    assert other.exit_code == 2
    default = BatchingSettings()
    assert (
        f"differs in batch_size (3 then, {default.batch_size} now); "
        f"window (4 then, {default.window} now)" in other.stderr
    )
    assert len(partial_lines(out)) == 9  # untouched by the refused resume
    stdout_resume = extract(model_dir, src, tgt, "--resume")
    assert stdout_resume.exit_code == 2 and "--resume needs -o FILE" in stdout_resume.stderr


def test_fix_the_bad_line_and_resume(model_dir, pairs, tmp_path):
    sources, targets = pairs
    reference = aligned(model_dir, tmp_path, sources, targets)
    src, tgt = tmp_path / "corpus.fr", tmp_path / "corpus.en"
    good = src.read_bytes()
    src.write_bytes(good.replace(sources[9].encode(), b"\xff", 1))
    out = tmp_path / "out.txt"
    assert extract(model_dir, src, tgt, "-o", out).exit_code == 2
    src.write_bytes(good)
    resumed = run_cli(["extract", src, tgt, "-m", model_dir, *WINDOW, "-o", out, "--resume"])
    assert resumed.exit_code == 0
    assert "resumed after 8" in resumed.stderr  # the last, unfinished window is redone
    assert out.read_text().split("\n")[:-1] == reference


# --------------------------------------------------------------------------- shards


@pytest.mark.parametrize("count", [3, 5])
def test_shards_concatenate_to_the_single_run_output(model_dir, pairs, tmp_path, count):
    sources, targets = pairs
    joined = write_joined(tmp_path, sources, targets)
    full = extract(model_dir, "-i", joined, "--format", "giza").stdout
    outputs = []
    for index in range(1, count + 1):
        out = tmp_path / f"out.{index}"
        result = extract(
            model_dir, "-i", joined, "--format", "giza", "--shard", f"{index}/{count}", "-o", out
        )
        assert result.exit_code == 0, result.stderr
        outputs.append(out.read_text(encoding="utf-8"))
    assert "".join(outputs) == full
    # 14 pairs in windows of 4 are 4 windows: with 5 shards one of them is empty.
    assert sum(1 for text in outputs if not text) == max(0, count - 4)


def test_shard_syntax_and_stdin_are_checked(model_dir, pairs, tmp_path):
    for bad in ("0/2", "3/2", "1-2", "a/b"):
        result = extract(model_dir, "-i", "-", "--shard", bad, stdin="a ||| b\n")
        assert result.exit_code == 2 and "--shard" in result.stderr
    piped = extract(model_dir, "-i", "-", "--shard", "1/2", stdin="a ||| b\n")
    assert piped.exit_code == 2 and "stdin cannot be counted" in piped.stderr


# --------------------------------------------------------------------------- loading safety


class _Payload:
    """Unpickling this runs os.system: what a hostile pytorch_model.bin could hold."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _model_folder_with_pickle(model_dir: str, folder: Path, marker: Path, keep_safetensors: bool):
    import shutil

    import torch

    shutil.copytree(model_dir, folder)
    if not keep_safetensors:
        (folder / "model.safetensors").unlink()
    torch.save({"model.shared.weight": _Payload(marker)}, folder / "pytorch_model.bin")
    with pytest.raises(Exception):  # noqa: B017 - the file is refused by weights-only loading
        torch.load(folder / "pytorch_model.bin", weights_only=True)
    assert not marker.exists()


def test_a_pickled_checkpoint_is_never_unpickled(model_dir, tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "hostile"
    _model_folder_with_pickle(model_dir, folder, marker, keep_safetensors=False)
    src, tgt = write_parallel(tmp_path, ["a b"], ["c d"])
    result = run_cli(["extract", src, tgt, "-m", folder])
    assert not marker.exists()
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_safetensors_weights_are_preferred_over_a_pickle(model_dir, tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "both"
    _model_folder_with_pickle(model_dir, folder, marker, keep_safetensors=True)
    src, tgt = write_parallel(tmp_path, ["a b"], ["c d"])
    result = run_cli(["extract", src, tgt, "-m", folder, "-q"])
    assert result.exit_code == 0 and result.stdout.count("\n") == 1
    assert not marker.exists()


def test_model_code_in_a_folder_never_runs_without_trust_remote_code(model_dir, tmp_path):
    import shutil

    marker = tmp_path / "pwned"
    folder = tmp_path / "custom"
    shutil.copytree(model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "evil-marian"
    config["auto_map"] = {
        "AutoConfig": "evil_code.EvilConfig",
        "AutoModelForSeq2SeqLM": "evil_code.EvilModel",
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "evil_code.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
        "from transformers import MarianConfig, MarianMTModel\n"
        "class EvilConfig(MarianConfig):\n    model_type = 'evil-marian'\n"
        "class EvilModel(MarianMTModel):\n    config_class = EvilConfig\n"
    )
    src, tgt = write_parallel(tmp_path, ["a b"], ["c d"])
    result = run_cli(["extract", src, tgt, "-m", folder])
    assert not marker.exists()
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
