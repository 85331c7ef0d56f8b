"""What a head is taught, and how a taught null is read back: no model, no torch training.

``alignment_targets`` turns word links into per-piece distributions over source tokens;
``make_result`` with ``null`` leaves target words whose null outweighs every source
word unaligned; ``xalign.json`` round-trips the settings a trained model records.
"""

from __future__ import annotations

import numpy as np
import pytest

from align_cli.aligners.attention import make_result
from align_cli.errors import XalignError
from align_cli.model_settings import (
    MODEL_SETTINGS_FILE,
    apply_model_settings,
    read_model_settings,
    write_model_settings,
)
from align_cli.settings import AlignmentSettings, TeacherSpec, TrainingSettings
from align_cli.stages.subwords import EncodedSide
from align_cli.training.targets import alignment_targets, decoder_row_targets, source_slots
from align_cli.types import SentencePair


def side(owners: list[int]) -> EncodedSide:
    """An encoded side whose token k belongs to word owners[k] (-1: a special token)."""
    return EncodedSide(
        np.arange(len(owners), dtype=np.int64),
        np.asarray(owners, dtype=np.int64),
        max(owners) + 1,
    )


# source: word 0 = one piece, word 1 = two pieces, word 2 = one piece, then </s>
SOURCE = side([0, 1, 1, 2, -1])
# target: word 0 = two pieces, word 1, word 2, then </s>
TARGET = side([0, 0, 1, 2, -1])


def test_a_linked_word_spreads_its_mass_evenly_over_the_linked_words():
    targets = alignment_targets(SOURCE, TARGET, {(0, 0), (1, 0), (2, 1)}, null=False)
    assert targets.shape == (5, 4)  # target tokens x (3 source words + the null)
    # Both pieces of target word 0 are taught half on source word 0, half on word 1
    # (whichever of word 1's two pieces the head prefers: attention is summed per word).
    for piece in (0, 1):
        np.testing.assert_allclose(targets[piece], [0.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(targets[2], [0, 0, 1, 0])


def test_an_unaligned_word_is_taught_the_null_or_nothing():
    links = {(0, 0), (2, 1)}  # target word 2 unaligned
    with_null = alignment_targets(SOURCE, TARGET, links, null=True)
    without = alignment_targets(SOURCE, TARGET, links, null=False)
    np.testing.assert_allclose(with_null[3], [0, 0, 0, 1])  # the null slot
    assert not without[3].any()
    # The target </s> is never taught, with or without the null.
    assert not with_null[4].any() and not without[4].any()


def test_special_source_tokens_are_the_null_slot():
    # A language tag first, then words, then </s> and another tag (mBART-style).
    mbart_like = side([-1, 0, 1, -1, -1])
    assert source_slots(mbart_like).tolist() == [2, 0, 1, 2, 2]
    with pytest.raises(XalignError, match="no special token"):
        alignment_targets(side([0, 1]), TARGET, set(), null=True)


@pytest.mark.parametrize(("shift", "first_row"), [(False, 0), (True, 1)])
def test_targets_go_to_the_rows_extraction_reads(shift, first_row):
    targets = alignment_targets(SOURCE, TARGET, {(0, 0), (1, 1)}, null=True)
    # Padded to a batch whose widest source has 5 words: the null moves to slot 5.
    rows = decoder_row_targets([targets], decoder_rows=6, n_slots=6, shift=shift)
    assert rows.shape == (1, 6, 6)
    np.testing.assert_allclose(rows[0, first_row], [1, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(rows[0, first_row + 3], [0, 0, 0, 0, 0, 1])  # unaligned word 2
    assert not rows[0, first_row + 4 :].any()


def pair(n_src: int, n_tgt: int) -> SentencePair:
    return SentencePair(
        0, tuple(f"s{i}" for i in range(n_src)), tuple(f"t{j}" for j in range(n_tgt))
    )


def test_a_target_word_whose_null_wins_gets_no_link():
    matrix = np.array([[0.9, 0.2, 0.6], [0.1, 0.8, 0.4]])  # [n_src, n_tgt], columns sum to 1
    null = np.array([0.5, 0.1, 0.7])  # word 2's null (0.7) beats its best source word (0.6)
    settings = AlignmentSettings(method="argmax", null=True)
    with_null = make_result(pair(2, 3), matrix, None, settings, False, null=null)
    without = make_result(pair(2, 3), matrix, None, settings, False)
    assert without.links == [(0, 0), (0, 2), (1, 1)]
    assert with_null.links == [(0, 0), (1, 1)]


def test_null_appears_in_the_signature_only_when_on():
    assert "null" not in AlignmentSettings().describe()
    assert AlignmentSettings(null=True).describe().endswith("|null:eos")


def test_recorded_settings_round_trip_through_xalign_json(tmp_path):
    recorded = TrainingSettings(layer=-2, head=3, method="threshold", threshold=0.3)
    settings = recorded.alignment_settings()
    write_model_settings(tmp_path, settings, {"steps": 5})
    assert (tmp_path / MODEL_SETTINGS_FILE).is_file()
    assert read_model_settings(tmp_path) == settings
    assert settings.layers == (-2,) and settings.heads == (3,) and settings.null
    assert read_model_settings(tmp_path / "elsewhere") is None
    given = AlignmentSettings(method="inter")
    assert apply_model_settings(settings, given, ("method",)) == AlignmentSettings(
        layers=(-2,), heads=(3,), shift=True, method="inter", threshold=0.3, null=True
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read it as JSON"),
        ('{"xalign_settings_version": 1}', "no 'alignment'"),
        ('{"xalign_settings_version": 9, "alignment": {}}', "upgrade xalign"),
        ('{"xalign_settings_version": 1, "alignment": {"layers": [], "x": 1}}', "'x'"),
        ('{"xalign_settings_version": 1, "alignment": {"pooling": "median"}}', "'median'"),
    ],
)
def test_a_broken_xalign_json_is_one_line_naming_the_file(tmp_path, content, message):
    (tmp_path / MODEL_SETTINGS_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(XalignError) as raised:
        read_model_settings(tmp_path)
    text = str(raised.value)
    assert message in text and MODEL_SETTINGS_FILE in text and "\n" not in text


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"scope": "everything"}, "'everything'"),
        ({"epochs": 0}, "epochs"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"max_steps": -1}, "max_steps"),
        ({"method": "best"}, "'best'"),
    ],
)
def test_training_settings_refuse_bad_values(fields, named):
    with pytest.raises(XalignError, match=named):
        TrainingSettings(**fields)


def test_a_teacher_is_a_kind_or_a_file():
    assert not TeacherSpec().is_file
    assert not TeacherSpec(source="self").is_file
    assert TeacherSpec(source="links.pharaoh").is_file
    with pytest.raises(XalignError, match="'sideways'"):
        TeacherSpec(symmetrize="sideways")


def test_the_loss_sums_a_words_pieces_before_the_log():
    import torch

    from align_cli.training.data import TrainingBatch
    from align_cli.training.objective import alignment_loss

    # One row over 4 source tokens: word 0 = tokens 0 and 1, word 1 = token 2, </s> = 3.
    slots = torch.tensor([[0, 0, 1, 2]])
    half_on_word_0 = torch.log(torch.tensor([[[0.5, 0.5, 1e-9, 1e-9]]]))
    on_word_1 = torch.log(torch.tensor([[[0.25, 0.25, 0.5, 1e-9]]]))

    def loss(logits: torch.Tensor, target: list[float]) -> float:
        targets = torch.tensor([[target]])
        batch = TrainingBatch(
            forced=None,  # type: ignore[arg-type]  (the loss reads only the tensors below)
            slots=slots,
            targets=targets,
            taught=targets.sum(-1) > 0,
            labels=torch.zeros(1, 1, dtype=torch.long),
            pairs=1,
        )
        return float(alignment_loss(logits, batch))

    # All mass on word 0, split over its two pieces: nothing to learn.
    assert loss(half_on_word_0, [1.0, 0.0, 0.0]) == pytest.approx(0.0, abs=1e-6)
    assert loss(on_word_1, [0.0, 1.0, 0.0]) == pytest.approx(-np.log(0.5), rel=1e-5)
    assert loss(on_word_1, [0.5, 0.5, 0.0]) == pytest.approx(-np.log(0.5), rel=1e-5)
