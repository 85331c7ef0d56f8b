"""``xalign sweep`` and ``xalign models`` through the real CLI, on tiny family models.

The sweep reads every layer's per-head attention in one pass, while ``xalign extract``
reads one head-averaged layer; the tests check that the sweep's score of *every* setting
equals what the alignment pipeline gives for that setting, that a gold file made from one
setting's own links puts that setting first with AER 0, and that the printed ``xalign
extract`` options reproduce the best score through ``xalign eval``.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from align_cli.aligners.attention import AttentionAligner
from align_cli.cli import main
from align_cli.io.formats import format_pharaoh, read_pharaoh
from align_cli.model.loading import load_model
from align_cli.settings import FAMILY_NAMES, PRESETS, AlignmentSettings
from align_cli.tools.evaluate import LinkCounts, count_links
from tests.families import FAMILIES_BY_NAME, FamilyModels

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread

GOLD_SENTENCES = 14  # the first lines of the English-French Hansards gold set


@pytest.fixture(scope="module")
def hansards(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, Path]:
    """A corpus and its 1-based gold file: real pairs of several lengths."""
    folder = tmp_path_factory.mktemp("hansards")
    corpus_lines = (shared_data / "gold" / "enfr.src-tgt").read_text(encoding="utf-8")
    gold_lines = (shared_data / "gold" / "enfr.gold").read_text(encoding="utf-8")
    corpus = folder / "enfr.src-tgt"
    gold = folder / "enfr.gold"
    corpus.write_text("\n".join(corpus_lines.split("\n")[5 : 5 + GOLD_SENTENCES]) + "\n")
    gold.write_text("\n".join(gold_lines.split("\n")[5 : 5 + GOLD_SENTENCES]) + "\n")
    return corpus, gold


def run_json(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> dict:
    main([*arguments, "--json"])
    captured = capsys.readouterr()
    return json.loads(captured.out)


def _setting(row: dict) -> AlignmentSettings:
    heads = None if row["heads"] == "mean" else (int(row["heads"]),)
    return AlignmentSettings(
        layers=(row["layer"],), heads=heads, shift=row["shift"], pooling="mean", method="argmax"
    )


@pytest.mark.parametrize("family_name", ["m2m100", "t5"])
def test_every_setting_scores_as_the_pipeline_does(
    capsys: pytest.CaptureFixture[str],
    family_models: FamilyModels,
    hansards: tuple[Path, Path],
    family_name: str,
) -> None:
    family = FAMILIES_BY_NAME[family_name]
    folder = str(family_models.folder(family_name))
    corpus, gold = hansards
    options = {
        "src_lang": "--src-lang",
        "tgt_lang": "--tgt-lang",
        "source_prefix": "--source-prefix",
    }
    cli_options = [
        part for key, value in family.aligner_options.items() for part in (options[key], value)
    ]
    arguments = ["sweep", str(corpus), str(gold), "--model", folder, "--gold-one-based"]
    report = run_json(capsys, [*arguments, *cli_options, "--batch-size", "5"])
    assert report["layers"] == 2 and report["heads"] == 4
    # Every layer: each of the 4 heads and their mean, without and with shift.
    assert len(report["results"]) == 2 * 5 * 2
    aers = [row["aer"] for row in report["results"]]
    assert aers == sorted(aers)

    loaded = load_model(folder, device="cpu")
    sentences = list(read_pharaoh(str(gold), one_based=True))
    lines = corpus.read_text(encoding="utf-8").splitlines()
    sources = [line.split("|||")[0] for line in lines]
    targets = [line.split("|||")[1] for line in lines]
    for row in report["results"]:
        aligner = AttentionAligner(loaded, _setting(row), **family.aligner_options)
        totals = LinkCounts()
        for result, reference in zip(aligner.align_texts(sources, targets), sentences, strict=True):
            totals += count_links(reference.sure, reference.possible, result.links)
        expected = totals.to_dict()
        assert {key: row[key] for key in expected} == pytest.approx(expected), row


def test_gold_made_from_one_setting_puts_it_first(
    capsys: pytest.CaptureFixture[str],
    family_models: FamilyModels,
    hansards: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    folder = str(family_models.folder("bart"))
    corpus, _ = hansards
    lines = corpus.read_text(encoding="utf-8").splitlines()
    planted = AlignmentSettings(
        layers=(1,), heads=(3,), shift=True, pooling="mean", method="argmax"
    )
    aligner = AttentionAligner(load_model(folder, device="cpu"), planted)
    results = aligner.align_texts(
        [line.split("|||")[0] for line in lines], [line.split("|||")[1] for line in lines]
    )
    gold = tmp_path / "planted.gold"  # 0-based, all links sure
    gold.write_text("".join(format_pharaoh(r.links) + "\n" for r in results))

    report = run_json(capsys, ["sweep", str(corpus), str(gold), "--model", folder])
    best = report["best"]
    assert best["aer"] == 0.0
    perfect = [
        (row["layer"], row["heads"], row["shift"]) for row in report["results"] if row["aer"] == 0
    ]
    assert (1, 3, True) in perfect
    assert len(perfect) < len(report["results"]) // 2, "the planted setting should stand out"


def test_table_and_reproducible_extract_command(
    capsys: pytest.CaptureFixture[str],
    family_models: FamilyModels,
    hansards: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    folder = str(family_models.folder("bart"))
    corpus, gold = hansards
    main(["sweep", str(corpus), str(gold), "--model", folder, "--gold-one-based", "--top", "5"])
    output = capsys.readouterr().out
    assert "20 settings on 14 sentences" in output
    assert "top 5 shown" in output
    best_line = next(line for line in output.splitlines() if line.startswith("best: "))
    command_line = next(line for line in output.splitlines() if line.startswith("reproduce: "))
    command = shlex.split(command_line.removeprefix("reproduce: "))
    assert command[:2] == ["xalign", "extract"] and "--layers" in command

    predicted = tmp_path / "predicted.txt"
    main([*command[1:], "--output", str(predicted), "--quiet"])
    capsys.readouterr()
    main(["eval", str(gold), str(predicted), "--gold-one-based", "--json"])
    evaluation = json.loads(capsys.readouterr().out)
    assert f"AER {100 * evaluation['aer']:.2f}%" in best_line


def test_shift_choice_and_line_count_mismatch(
    capsys: pytest.CaptureFixture[str],
    family_models: FamilyModels,
    hansards: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    folder = str(family_models.folder("bart"))
    corpus, gold = hansards
    report = run_json(
        capsys, ["sweep", str(corpus), str(gold), "-m", folder, "--shift", "no", "--gold-one-based"]
    )
    assert len(report["results"]) == 2 * 5
    assert not any(row["shift"] for row in report["results"])
    assert "--no-shift" in report["best"]["extract_options"]

    short_gold = tmp_path / "short.gold"
    short_gold.write_text("\n".join(gold.read_text().splitlines()[:3]) + "\n")
    with pytest.raises(SystemExit) as stopped:
        main(["sweep", str(corpus), str(short_gold), "-m", folder, "--gold-one-based"])
    captured = capsys.readouterr()
    assert stopped.value.code == 2
    assert captured.err.count("\n") == 1 and "fewer sentences" in captured.err


def test_models_lists_presets_and_families(capsys: pytest.CaptureFixture[str]) -> None:
    main(["models"])
    output = capsys.readouterr().out
    for name, preset in PRESETS.items():
        assert name in output
        assert preset.why.split()[0] in output
    for model_type in FAMILY_NAMES:
        assert model_type in output
    assert "xalign sweep" in output

    report = run_json(capsys, ["models"])
    assert [p["name"] for p in report["presets"]] == list(PRESETS)
    default = next(p for p in report["presets"] if p["name"] == "default")
    settings = PRESETS["default"].settings
    # The default layer depends on the decoder's depth, so it is listed as "auto".
    assert settings.layers is None and default["layers"] == "auto"
    assert default["shift"] == ("yes" if settings.shift else "no")
    assert report["default_preset"] == "default" in PRESETS
    assert {f["model_type"] for f in report["families"]} == set(FAMILY_NAMES)


def test_every_family_the_tests_cover_is_listed() -> None:
    for family in FAMILIES_BY_NAME.values():
        assert family.model_type in FAMILY_NAMES
