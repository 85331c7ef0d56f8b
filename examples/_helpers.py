"""Small helpers shared by the examples: where things are, and running `xalign` visibly.

The examples run from any directory (paths are relative to the repository), print every
``xalign`` command before running it so that you can copy it, and stop politely when the
data they need is not on your machine.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The real test sets live next to the repository on development machines and in CI;
# a user's clone does not have them.
SHARED_DATA = REPO.parent / "shared" / "data"
# Small MarianMT models trained on a synthetic language pair, committed with the tests:
# real models that learned real alignments, a few MB each.
SYNTHETIC = REPO / "tests" / "data" / "synthetic"
OPUS_TOKENIZER = SHARED_DATA / "tokenizers" / "opus-mt-tc-big-fr-en"


def shared_data_or_exit(*relative: str) -> Path:
    """``SHARED_DATA / relative``, or a clear message and exit 0 when it is absent."""
    path = SHARED_DATA.joinpath(*relative)
    if not path.exists():
        print(
            f"skipped: this example needs {path}, the shared data folder of the xalign "
            "development machines; it is not part of a clone."
        )
        sys.exit(0)
    return path


def synthetic_or_exit() -> Path:
    """The synthetic models' folder, or a clear message and exit 0 when it is absent."""
    if not (SYNTHETIC / "fwd").is_dir():
        print(f"skipped: this example needs the synthetic model in {SYNTHETIC}/fwd.")
        sys.exit(0)
    return SYNTHETIC


def xalign_command() -> list[str]:
    """How to run xalign: the console script next to this Python, else ``python -m``."""
    script = Path(sys.executable).with_name("xalign")
    if script.exists():
        return [str(script)]
    found = shutil.which("xalign")
    return [found] if found else [sys.executable, "-m", "align_cli"]


def xalign(*args: object, check: bool = True) -> subprocess.CompletedProcess:
    """Print ``$ xalign ARGS`` and run it; its output goes straight to ours."""
    words = [str(arg) for arg in args]
    print("\n$ xalign " + shlex.join(words), flush=True)
    return subprocess.run([*xalign_command(), *words], check=check)


def build_untrained_marian(folder: Path) -> Path:
    """An OPUS-MT-shaped MarianMT model with random weights, small enough for a laptop.

    It uses the real opus-mt-tc-big-fr-en tokenizer and architecture, shrunk; it has
    learned nothing, so its alignments are chance: it shows the workflow, not the quality.
    """
    import torch
    import transformers
    from transformers import AutoTokenizer, MarianConfig, MarianMTModel

    transformers.utils.logging.disable_progress_bar()
    if (folder / "config.json").exists():
        return folder
    config = MarianConfig.from_pretrained(OPUS_TOKENIZER)
    config.update(
        {
            "d_model": 64,
            "encoder_layers": 2,
            "decoder_layers": 2,
            "encoder_attention_heads": 4,
            "decoder_attention_heads": 4,
            "encoder_ffn_dim": 128,
            "decoder_ffn_dim": 128,
        }
    )
    torch.manual_seed(0)
    MarianMTModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(OPUS_TOKENIZER).save_pretrained(folder)
    return folder


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
