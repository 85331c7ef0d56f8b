"""A model that has really learned: xalign's alignments on the synthetic language pair.

``tests/data/synthetic`` holds MarianMT models trained by ``scripts/train_synthetic_marian.py``
on a generated language pair whose gold alignment is known by construction (reordering,
one-to-many, many-to-one, unaligned words, multi-piece words), and 300 held-out pairs
with that gold. Thresholds sit a little above the AER measured when the defaults were
chosen (README, "Choosing the defaults").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.paths import SYNTHETIC

HELDOUT = SYNTHETIC / "heldout.src-tgt"
GOLD = SYNTHETIC / "heldout.gold"


def aer_of(prediction: Path) -> dict:
    result = run_cli(["eval", GOLD, prediction, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_reach_a_low_aer_on_held_out_sentences(tmp_path):
    out = tmp_path / "fwd.pharaoh"
    result = run_cli(["extract", "-i", HELDOUT, "-m", SYNTHETIC / "fwd", "-o", out])
    assert result.exit_code == 0, result.stderr
    assert "extract:inter" in result.stderr
    scores = aer_of(out)
    assert scores["aer"] < 0.08, scores
    assert scores["precision"] > 0.95 and scores["recall"] > 0.88


def test_argmax_on_the_last_layer_beats_the_first_layer(tmp_path):
    """Attention in the top layer aligns; the first layer's does not (the sweep's finding)."""
    aers = {}
    for layer in ("0", "-1"):
        out = tmp_path / f"layer{layer}.pharaoh"
        run_cli(
            [
                "extract",
                "-i",
                HELDOUT,
                "-m",
                SYNTHETIC / "fwd",
                "--layers",
                layer,
                "--method",
                "argmax",
                "-o",
                out,
                "-q",
            ]
        )
        aers[layer] = aer_of(out)["aer"]
    assert aers["-1"] < 0.15 < aers["0"]


def test_two_models_intersected_beat_either_direction_alone(tmp_path):
    """Forward and reverse argmax links, intersected, are better than either alone.

    grow-diag-final-and is not: argmax forces a link on every word, also on the words this
    language leaves unaligned (articles, subject particles), and the grow steps put those
    links back (README, "Choosing the defaults").
    """
    swapped = tmp_path / "swapped.tgt-src"
    swapped.write_text(
        "".join(
            " ||| ".join(reversed(line.split(" ||| "))) + "\n"
            for line in HELDOUT.read_text(encoding="utf-8").splitlines()
        ),
        encoding="utf-8",
    )
    forward, reverse, both = (tmp_path / name for name in ("f.txt", "r.txt", "fr.txt"))
    argmax = ["--method", "argmax", "-q"]
    run_cli(["extract", "-i", HELDOUT, "-m", SYNTHETIC / "fwd", "-o", forward, *argmax])
    run_cli(["extract", "-i", swapped, "-m", SYNTHETIC / "rev", "-o", reverse, *argmax])
    result = run_cli(
        [
            "extract",
            "-i",
            HELDOUT,
            "-m",
            SYNTHETIC / "fwd",
            "--reverse-model",
            SYNTHETIC / "rev",
            "--symmetrize",
            "intersect",
            "-o",
            both,
            *argmax,
        ]
    )
    assert result.exit_code == 0, result.stderr
    forward_aer = aer_of(forward)["aer"]
    reverse_scores = run_cli(["eval", GOLD, reverse, "--reverse-pred", "--json"])
    reverse_aer = json.loads(reverse_scores.stdout)["aer"]
    both_aer = aer_of(both)["aer"]
    assert both_aer < min(forward_aer, reverse_aer)


FUSED_VS_TORCH = r"""
import json, sys
from align_cli.io.corpus import read_joined
from align_cli.model.loading import load_model
from align_cli.aligners.attention import AttentionAligner
from align_cli.settings import BatchingSettings
model = load_model(sys.argv[1], device="cpu")
pairs = list(read_joined(sys.argv[2]))[:40]
links = {}
for backend in ("torch", "triton"):
    aligner = AttentionAligner(model, None, BatchingSettings(batch_size=16),
                      backend=backend)
    links[backend] = [r.links for r in aligner.align_pairs(pairs)]
print(json.dumps(links))
"""


def test_fused_kernel_and_torch_path_agree_link_for_link():
    """The Triton kernel (CPU interpreter here, the GPU where there is one) and the torch
    path give the same links on held-out synthetic sentences."""
    pytest.importorskip("triton", reason="triton is in the test extra")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run(
        [sys.executable, "-c", FUSED_VS_TORCH, str(SYNTHETIC / "fwd"), str(HELDOUT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    links = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(links["torch"]) == 40 and any(links["torch"])
    assert links["triton"] == links["torch"]
