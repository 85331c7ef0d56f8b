"""`xalign extract` end to end, through the real console entry point."""

from __future__ import annotations

import json

import pytest

from align_cli.io.formats import read_pharaoh
from tests.cli_runner import run_cli
from tests.marian_fixtures import build_tiny_marian

SOURCES = ["Le chat noir dort .", "", "Bonjour , le monde !", "Il a 25 ans ."]
TARGETS = ["The black cat sleeps .", "", "Hello , world !", "He is 25 ."]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, shared_data):
    return str(build_tiny_marian(tmp_path_factory.mktemp("model")))


@pytest.fixture()
def corpus(tmp_path):
    src, tgt = tmp_path / "corpus.fr", tmp_path / "corpus.en"
    src.write_text("\n".join(SOURCES) + "\n", encoding="utf-8")
    tgt.write_text("\n".join(TARGETS) + "\n", encoding="utf-8")
    joined = tmp_path / "corpus.fr-en"
    joined.write_text("".join(f"{s} ||| {t}\n" for s, t in zip(SOURCES, TARGETS, strict=True)))
    return src, tgt, joined


def pharaoh_lines(text: str) -> list[list[tuple[int, int]]]:
    out = []
    for line in text.splitlines():
        out.append(sorted(tuple(map(int, link.split("-"))) for link in line.split()))
    return out


def test_two_files_give_one_sorted_line_per_pair(model_dir, corpus):
    src, tgt, _ = corpus
    result = run_cli(
        ["extract", str(src), str(tgt), "--model", model_dir, "--method", "argmax", "-q"]
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.split("\n")[:-1]
    assert len(lines) == len(SOURCES)
    assert lines[1] == ""  # the empty pair keeps its line
    for line, src_text, tgt_text in zip(lines, SOURCES, TARGETS, strict=True):
        links = [tuple(map(int, link.split("-"))) for link in line.split()]
        assert links == sorted(links)
        # argmax links every target word exactly once, to a source word in range
        assert sorted(j for _, j in links) == list(range(len(tgt_text.split())))
        assert all(0 <= i < len(src_text.split()) for i, _ in links)


def test_joined_input_and_stdin_give_the_same_output(model_dir, corpus):
    src, tgt, joined = corpus
    two_files = run_cli(["extract", str(src), str(tgt), "-m", model_dir, "-q"]).stdout
    from_file = run_cli(["extract", "-i", str(joined), "-m", model_dir, "-q"]).stdout
    from_stdin = run_cli(
        ["extract", "-i", "-", "-m", model_dir, "-q"], stdin=joined.read_text()
    ).stdout
    assert two_files == from_file == from_stdin


def test_scores_file_matches_links_and_jsonl_carries_everything(model_dir, corpus, tmp_path):
    _, _, joined = corpus
    out, scores = tmp_path / "out.pharaoh", tmp_path / "out.scores"
    result = run_cli(
        [
            "extract",
            "-i",
            str(joined),
            "-m",
            model_dir,
            "-o",
            str(out),
            "--scores",
            str(scores),
            "-q",
        ]
    )
    assert result.exit_code == 0
    link_lines = out.read_text().split("\n")[:-1]
    score_lines = scores.read_text().split("\n")[:-1]
    assert len(link_lines) == len(score_lines) == len(SOURCES)
    for links, probs in zip(link_lines, score_lines, strict=True):
        values = [float(p) for p in probs.split()]
        assert len(values) == len(links.split())
        assert all(0.0 < v <= 1.0 for v in values)

    jsonl = run_cli(
        ["extract", "-i", str(joined), "-m", model_dir, "--format", "jsonl", "--matrix", "-q"]
    ).stdout
    records = [json.loads(line) for line in jsonl.splitlines()]
    assert [r["src_words"] for r in records] == [s.split() for s in SOURCES]
    assert [" ".join(f"{i}-{j}" for i, j in r["links"]) for r in records] == link_lines
    first = records[0]
    assert len(first["matrix"]) == len(SOURCES[0].split())
    assert len(first["matrix"][0]) == len(TARGETS[0].split())
    # each target word's column is a distribution over the source words
    for j in range(len(TARGETS[0].split())):
        assert sum(row[j] for row in first["matrix"]) == pytest.approx(1.0, abs=1e-3)
    assert first["signature"].startswith("xalign:")


def test_signature_goes_to_stderr_never_into_the_output(model_dir, corpus):
    _, _, joined = corpus
    result = run_cli(["extract", "-i", str(joined), "-m", model_dir])
    assert "xalign:0." in result.stderr and "layer:" in result.stderr
    assert "xalign" not in result.stdout


def test_giza_output_reads_back_to_the_same_links(model_dir, corpus, tmp_path):
    _, _, joined = corpus
    pharaoh = run_cli(["extract", "-i", str(joined), "-m", model_dir, "-q"]).stdout
    giza = tmp_path / "out.A3.final"
    run_cli(
        ["extract", "-i", str(joined), "-m", model_dir, "--format", "giza", "-o", str(giza), "-q"]
    )
    expected = pharaoh_lines(pharaoh)
    from align_cli.io.formats import read_giza_a3

    read_back = [sorted(sentence.sure) for sentence in read_giza_a3(str(giza))]
    assert read_back == expected


def test_pairs_longer_than_the_model_are_skipped_with_an_empty_line(model_dir, tmp_path):
    joined = tmp_path / "long.src-tgt"
    joined.write_text("a b ||| c d\n" + " ".join(["mot"] * 40) + " ||| x\ne ||| f\n")
    result = run_cli(["extract", "-i", str(joined), "-m", model_dir, "--max-length", "20"])
    assert result.exit_code == 0
    assert result.stdout.split("\n")[1] == ""
    assert result.stdout.count("\n") == 3
    assert "input lines: 2" in result.stderr
    failed = run_cli(
        ["extract", "-i", str(joined), "-m", model_dir, "--max-length", "20", "--on-long", "fail"]
    )
    assert failed.exit_code == 2
    assert f"{joined}:2:" in failed.stderr and "Traceback" not in failed.stderr


def test_existing_output_is_not_overwritten_without_force(model_dir, corpus, tmp_path):
    _, _, joined = corpus
    out = tmp_path / "out.pharaoh"
    out.write_text("precious\n")
    refused = run_cli(["extract", "-i", str(joined), "-m", model_dir, "-o", str(out)])
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert out.read_text() == "precious\n"
    forced = run_cli(["extract", "-i", str(joined), "-m", model_dir, "-o", str(out), "--force"])
    assert forced.exit_code == 0 and out.read_text().count("\n") == len(SOURCES)


def test_hub_name_without_network_fails_with_one_clear_line(corpus, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _, _, joined = corpus
    result = run_cli(["extract", "-i", str(joined), "-m", "opus-mt-en-fr"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Helsinki-NLP/opus-mt-en-fr" in lines[0] and "--model DIR" in lines[0]


def test_missing_separator_names_file_and_line(model_dir, tmp_path):
    joined = tmp_path / "bad.src-tgt"
    joined.write_text("a ||| b\nno separator here\n")
    result = run_cli(["extract", "-i", str(joined), "-m", model_dir])
    assert result.exit_code == 2
    assert f"{joined}:2:" in result.stderr and "|||" in result.stderr


def test_presets_and_options_change_the_signature(model_dir, corpus):
    _, _, joined = corpus
    result = run_cli(
        [
            "extract",
            "-i",
            str(joined),
            "-m",
            model_dir,
            "--preset",
            "opus-align",
            "--shift",
            "--pooling",
            "max",
            "--method",
            "itermax",
        ]
    )
    assert "layer:-1|heads:0|shift:yes|pool:max|extract:itermax" in result.stderr
    assert result.stdout.count("\n") == len(SOURCES)


def test_python_api_yields_one_result_per_pair(model_dir):
    import align_cli

    results = list(align_cli.align(SOURCES, TARGETS, model=model_dir))
    assert [r.pair.src_words for r in results] == [tuple(s.split()) for s in SOURCES]
    assert results[1].links == []
    assert all(len(r.links) == len(r.scores) for r in results)


def test_pharaoh_output_is_readable_by_the_formats_layer(model_dir, corpus, tmp_path):
    _, _, joined = corpus
    out = tmp_path / "o.pharaoh"
    run_cli(["extract", "-i", str(joined), "-m", model_dir, "-o", str(out), "-q"])
    assert len(list(read_pharaoh(str(out)))) == len(SOURCES)


def test_python_api_dispatches_encoder_only_models_like_the_cli(tmp_path, shared_data):
    import align_cli
    from tests.embedding_fixtures import build_tiny_bert

    folder = build_tiny_bert(tmp_path / "bert", shared_data)
    results = list(align_cli.align(["le chat dort"], ["the cat sleeps"], model=str(folder)))
    assert len(results) == 1 and results[0].links
    assert all(0 <= i < 3 and 0 <= j < 3 for i, j in results[0].links)


def test_a_threshold_alone_adjusts_the_threshold_a_model_folder_records(tmp_path):
    # A folder from `xalign train` may record a threshold extraction: --threshold alone then
    # changes its value (it was refused, checked against the default preset's method).
    import shutil

    from align_cli.model_settings import write_model_settings
    from align_cli.settings import AlignmentSettings
    from tests.paths import SYNTHETIC

    folder = tmp_path / "taught"
    shutil.copytree(SYNTHETIC / "fwd", folder)
    recorded = AlignmentSettings(layers=(0,), heads=(0,), method="threshold", threshold=0.3)
    write_model_settings(folder, recorded, {"teacher": "a test"})
    corpus = tmp_path / "three.src-tgt"
    lines = (SYNTHETIC / "heldout.src-tgt").read_text(encoding="utf-8").splitlines()[:3]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run_cli(["extract", "-i", corpus, "-m", folder, "--threshold", "0.5"])
    assert result.exit_code == 0, result.stderr
    assert "|settings:xalign.json|layer:0|heads:0|" in result.stderr
    assert "extract:threshold>0.5" in result.stderr and len(result.stdout.splitlines()) == 3
    # A method that reads no threshold is still refused, in one line, before loading.
    refused = run_cli(["extract", "-i", corpus, "-m", folder, "--threshold", "0.5",
                       "--method", "inter"])  # fmt: skip
    assert refused.exit_code == 2 and "the method here is inter" in refused.stderr
    # A model without recorded settings: the default preset's method (inter) is named.
    plain = run_cli(["extract", "-i", corpus, "-m", SYNTHETIC / "fwd", "--threshold", "0.5"])
    assert plain.exit_code == 2 and "the method here is inter" in plain.stderr
    # The recorded method is named with the file it came from.
    write_model_settings(folder, AlignmentSettings(method="itermax"), {"teacher": "a test"})
    named = run_cli(["extract", "-i", corpus, "-m", folder, "--threshold", "0.5"])
    assert named.exit_code == 2 and f"itermax ({folder}/xalign.json)" in named.stderr


def test_a_loaded_models_recorded_method_is_checked_against_a_given_threshold(tmp_path):
    # What a hub model (whose xalign.json is known only once it is downloaded) goes
    # through: the check after loading.
    from types import SimpleNamespace

    from align_cli.aligners.attention import settings_for_model
    from align_cli.errors import XalignError
    from align_cli.model_settings import write_model_settings
    from align_cli.settings import AlignmentSettings

    write_model_settings(tmp_path, AlignmentSettings(method="argmax"), {})
    loaded = SimpleNamespace(source=str(tmp_path))
    given = AlignmentSettings(threshold=0.5)
    with pytest.raises(XalignError, match=r"the method here is argmax \(xalign.json\)"):
        settings_for_model(loaded, given, ("threshold",))
    write_model_settings(tmp_path, AlignmentSettings(method="threshold"), {})
    settings, source = settings_for_model(loaded, given, ("threshold",))
    assert (settings.method, settings.threshold, source) == ("threshold", 0.5, "xalign.json")
