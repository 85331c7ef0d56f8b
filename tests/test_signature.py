"""``align_cli.signature``: the ``key:value|...`` line that says what produced a result.

The line is read back field by field (a resume compares two signatures), so ``parse`` must
invert ``str``; the alignment signature must pin down the model, the settings in their
order, and the dtype and device the model really ran in; and the commands must print
exactly the aligner's own signature.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from align_cli.errors import XalignError
from align_cli.settings import AlignmentSettings, EmbeddingSettings
from align_cli.signature import Signature, alignment_signature, evaluation_signature
from align_cli.version import __version__
from tests.cli_runner import run_cli
from tests.paths import SYNTHETIC

FWD = str(SYNTHETIC / "fwd")

pytestmark = pytest.mark.usefixtures("one_thread")  # the synthetic model: one torch thread

# --------------------------------------------------------------------------- the line

# Keys hold neither ":" nor "|"; values hold no "|". Whitespace may appear inside, but
# parse() strips the line's ends (the line is read back from files), so no field starts or
# ends with it here (see test_a_value_ending_in_a_space_survives_the_round_trip).
_text = st.characters(blacklist_categories=("Cs",), blacklist_characters="|")
keys = st.text(_text, min_size=1, max_size=8).filter(lambda k: ":" not in k and k == k.strip())
values = st.text(_text, max_size=12).filter(lambda v: v == v.strip())
field_lists = st.lists(st.tuples(keys, values), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(field_lists)
def test_parse_inverts_str(fields):
    signature = Signature(tuple(fields))
    line = str(signature)
    assert line == "|".join(f"{key}:{value}" for key, value in fields)
    assert Signature.parse(line) == signature
    assert Signature.parse(line + "\n") == signature  # as read back from a file
    assert list(signature) == fields


@settings(max_examples=100, deadline=None)
@given(field_lists, field_lists)
def test_differences_name_exactly_the_keys_whose_values_differ(before, after):
    then, now = Signature(tuple(before)), Signature(tuple(after))
    old, new = dict(before), dict(after)
    # Brute force: every key of either, in first-seen order, once.
    expected = []
    for key in [k for k, _ in before] + [k for k, _ in after]:
        line = f"{key} ({old.get(key, '-')} then, {new.get(key, '-')} now)"
        if old.get(key) != new.get(key) and line not in expected:
            expected.append(line)
    assert then.differences(now) == expected
    assert then.differences(then) == []


def test_differences_spell_out_changed_added_and_dropped_fields():
    then = Signature.of(model="m", layer="-2", dtype="float32")
    now = Signature.of(model="m", layer="-1", device="cpu")
    assert then.differences(now) == [
        "layer (-2 then, -1 now)",
        "dtype (float32 then, - now)",
        "device (- then, cpu now)",
    ]


def test_of_keeps_the_order_and_writes_underscores_as_dashes():
    signature = Signature.of(gold_links="sure-only", b="2", a="1")
    assert str(signature) == "gold-links:sure-only|b:2|a:1"
    assert signature.get("gold-links") == "sure-only" and signature.get("gold_links") is None


def test_a_value_may_hold_a_colon():
    signature = Signature.of(model="C:/models/opus", layer="2:5")
    assert Signature.parse(str(signature)).get("model") == "C:/models/opus"


def test_a_value_ending_in_a_space_survives_the_round_trip():
    signature = Signature.of(model="my model ")
    assert Signature.parse(str(signature)) == signature


@pytest.mark.parametrize(
    "fields", [(("", "x"),), (("a:b", "x"),), (("a|b", "x"),), (("a", "x|y"),)]
)
def test_a_field_that_cannot_be_written_is_refused(fields):
    with pytest.raises(ValueError, match="cannot be written"):
        Signature(fields)


@pytest.mark.parametrize("line", ["", "model", "model:m|layer", "a:1||b:2"])
def test_parse_refuses_a_field_without_a_colon_in_one_line(line):
    with pytest.raises(XalignError) as raised:
        Signature.parse(line)
    assert "key:value" in str(raised.value) and "\n" not in str(raised.value)


# --------------------------------------------------------------------------- builders


def test_alignment_signature_fields_in_order():
    settings = AlignmentSettings(layers=(-2, 3), heads=(0,), shift=True, pooling="max")
    signature = alignment_signature(
        model="opus-mt-en-fr",
        revision=None,
        settings=settings.describe(),
        symmetrize=None,
        dtype="bfloat16",
        device="cuda",
    )
    assert str(signature) == (
        f"xalign:{__version__}|model:opus-mt-en-fr|revision:unknown|layer:-2,3|heads:0"
        "|shift:yes|pool:max|extract:inter|sym:none|dtype:bfloat16|device:cuda"
    )


def test_alignment_signature_names_the_reverse_model_and_symmetrisation():
    settings = AlignmentSettings(layers=(-1,), method="threshold", threshold=0.25)
    signature = alignment_signature(
        model="fwd",
        revision="abc123",
        settings=settings.describe(),
        symmetrize="grow-diag-final-and",
        dtype="float32",
        device="cpu",
        reverse_model="rev",
    )
    assert [key for key, _ in signature] == [
        "xalign",
        "model",
        "revision",
        "reverse",
        "layer",
        "heads",
        "shift",
        "pool",
        "extract",
        "sym",
        "dtype",
        "device",
    ]
    assert signature.get("revision") == "abc123" and signature.get("reverse") == "rev"
    assert signature.get("extract") == "threshold>0.25"
    assert signature.get("sym") == "grow-diag-final-and"


def test_alignment_signature_of_embedding_settings():
    signature = alignment_signature(
        model="bert",
        revision=None,
        settings=EmbeddingSettings(layer=6, method="softmax_threshold").describe(),
        symmetrize=None,
        dtype="float32",
        device="cpu",
    )
    assert str(signature).endswith(
        "|embedding-layer:6|granularity:subword|sim:dot|extract:softmax_threshold>0.001"
        "|sym:none|dtype:float32|device:cpu"
    )


@pytest.mark.parametrize(
    ("flags", "gold", "pred", "gold_links"),
    [
        ({}, "0-based", "0-based", "sure+possible"),
        ({"gold_one_based": True}, "1-based", "0-based", "sure+possible"),
        ({"reverse_gold": True, "pred_one_based": True}, "0-based-reversed", "1-based", None),
        ({"reverse_pred": True}, "0-based", "0-based-reversed", None),
        ({"all_sure": True}, "0-based", "0-based", "all-sure"),
        ({"ignore_possible": True}, "0-based", "0-based", "sure-only"),
    ],
)
def test_evaluation_signature_spells_the_conventions(flags, gold, pred, gold_links):
    options = dict.fromkeys(
        (
            "gold_one_based",
            "pred_one_based",
            "reverse_gold",
            "reverse_pred",
            "all_sure",
            "ignore_possible",
        ),
        False,
    )
    signature = evaluation_signature(**{**options, **flags})
    assert [key for key, _ in signature] == [
        "xalign",
        "metric",
        "average",
        "gold",
        "pred",
        "gold-links",
    ]
    assert signature.get("xalign") == __version__
    assert (signature.get("metric"), signature.get("average")) == ("aer", "micro")
    assert (signature.get("gold"), signature.get("pred")) == (gold, pred)
    assert signature.get("gold-links") == (gold_links or "sure+possible")


# --------------------------------------------------------------------------- on a real model


@pytest.fixture(scope="module")
def synthetic():
    from align_cli.model.loading import load_model

    return load_model(FWD, device="cpu", dtype="float32")


def test_an_aligner_signs_with_the_dtype_and_device_it_ran_in(synthetic):
    from align_cli.aligners.attention import AttentionAligner

    signature = AttentionAligner(synthetic, AlignmentSettings(layers=(-2,))).signature
    assert str(signature).endswith("|sym:none|dtype:float32|device:cpu")
    assert signature.get("model") == FWD and signature.get("layer") == "-2"
    assert Signature.parse(str(signature)) == signature


@pytest.fixture(scope="module")
def heldout(tmp_path_factory) -> tuple[Path, Path]:
    """The first 6 held-out pairs of the synthetic language and their gold (0-based)."""
    folder = tmp_path_factory.mktemp("heldout")
    corpus, gold = folder / "six.src-tgt", folder / "six.gold"
    for name, path in (("heldout.src-tgt", corpus), ("heldout.gold", gold)):
        lines = (SYNTHETIC / name).read_text(encoding="utf-8").splitlines()[:6]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return corpus, gold


def test_extract_prints_exactly_the_aligners_signature(synthetic, heldout, tmp_path):
    from align_cli.aligners.attention import AttentionAligner

    output = tmp_path / "out.pharaoh"
    options = ["--preset", "shift-att", "--pooling", "max", "--device", "cpu"]
    result = run_cli(["extract", "-i", heldout[0], "-m", FWD, "-o", output, *options])
    assert result.exit_code == 0, result.stderr
    printed = [line for line in result.stderr.splitlines() if "signature" in line]
    expected = AttentionAligner(
        synthetic, AlignmentSettings(layers=(-2,), shift=True, pooling="max", method="argmax")
    ).signature
    assert printed == [f"xalign: signature {expected}"]
    assert Signature.parse(printed[0].removeprefix("xalign: signature ")) == expected


def test_extract_signature_follows_the_dtype(heldout, tmp_path):
    result = run_cli(
        [
            "extract",
            "-i",
            heldout[0],
            "-m",
            FWD,
            "-o",
            tmp_path / "out",
            "--dtype",
            "float64",
            "--device",
            "cpu",
        ]
    )
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if "signature" in line)
    signature = Signature.parse(line.removeprefix("xalign: signature "))
    assert (signature.get("dtype"), signature.get("device")) == ("float64", "cpu")


def test_eval_json_carries_its_signature(heldout):
    corpus, gold = heldout
    result = run_cli(["eval", gold, gold, "--reverse-pred", "--all-sure", "--json"])
    assert result.exit_code == 0, result.stderr
    expected = evaluation_signature(
        gold_one_based=False,
        pred_one_based=False,
        reverse_gold=False,
        reverse_pred=True,
        all_sure=True,
        ignore_possible=False,
    )
    assert json.loads(result.stdout)["signature"] == str(expected)
    assert f"xalign: signature {expected}" in result.stderr.splitlines()
