"""Named alignment settings (presets) and the parsing of --layers/--heads.

A preset fixes layer, heads, shift, pooling and extraction; options given on the command
line override single fields of it. The reasons for each choice are in README.md
("Choosing the defaults").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from align_cli.errors import XalignError
from align_cli.pipeline import AlignmentSettings


@dataclass(frozen=True)
class Preset:
    name: str
    settings: AlignmentSettings
    why: str


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "default",
            AlignmentSettings(),
            "all heads averaged, subword probabilities summed into words, links where both "
            "directions agree (inter); penultimate layer (Garg et al. 2019), the last one in "
            "decoders of 3 layers or fewer: the best setting measured on xalign's "
            "synthetic-language model (README)",
        ),
        Preset(
            "garg",
            AlignmentSettings(layers=(-2,), heads=None, shift=False, method="argmax"),
            "Garg et al. 2019: penultimate layer, heads averaged",
        ),
        Preset(
            "shift-att",
            AlignmentSettings(layers=(-2,), heads=None, shift=True, method="argmax"),
            "Chen et al. 2020: read target word i at the step where it is the decoder input",
        ),
        Preset(
            "opus-align",
            AlignmentSettings(layers=(-1,), heads=(0,), shift=False, method="argmax"),
            "OPUS-MT transformer-align models: decoder head 0 of the last layer is trained "
            "on guided alignments (what Marian's --alignment reads)",
        ),
    )
}


# The preset each model family (config.model_type) gets when no --preset is given, and the
# family's name as users know it. All "default" for now: the per-family choice follows
# measurements (README, "Choosing the defaults").
FAMILY_DEFAULTS: dict[str, str] = {
    "marian": "default",
    "m2m_100": "default",
    "mbart": "default",
    "t5": "default",
    "mt5": "default",
    "bart": "default",
    "fsmt": "default",
}
FAMILY_NAMES: dict[str, str] = {
    "marian": "MarianMT (OPUS-MT, bilingual and multilingual >>xxx<<)",
    "m2m_100": "M2M100 and NLLB (--src-lang, --tgt-lang)",
    "mbart": "mBART and mBART-50 (--src-lang, --tgt-lang)",
    "t5": "T5 (--source-prefix)",
    "mt5": "mT5 (--source-prefix)",
    "bart": "BART",
    "fsmt": "FSMT (fairseq WMT19)",
}
# Hub ids whose measured best setting differs from their family's (none measured yet).
MODEL_DEFAULTS: dict[str, str] = {}


def default_preset_for(model_type: str, model_name: str | None = None) -> str:
    """The preset for a model: its own entry, else its family's, else ``default``."""
    if model_name is not None and model_name in MODEL_DEFAULTS:
        return MODEL_DEFAULTS[model_name]
    return FAMILY_DEFAULTS.get(model_type, "default")


def parse_layers(spec: str) -> tuple[int, ...]:
    """``-2``, ``3``, ``1,2`` or a Python-style range ``2:5`` (layers 2, 3 and 4)."""
    try:
        layers: list[int] = []
        for part in spec.split(","):
            part = part.strip()
            if ":" in part:
                start, stop = (int(x) for x in part.split(":"))
                if (start < 0) != (stop < 0) and stop != 0:
                    raise ValueError
                layers.extend(range(start, stop))
            else:
                layers.append(int(part))
    except ValueError:
        raise XalignError(
            f"cannot read --layers {spec!r}; give an index (-2), a list (3,4) or a range (2:5)"
        ) from None
    if not layers:
        raise XalignError(f"--layers {spec!r} selects no layer")
    return tuple(layers)


def parse_heads(spec: str) -> tuple[int, ...] | None:
    """``mean`` (all heads averaged) or a list of head indices ``0,3``."""
    if spec.strip().lower() in ("mean", "all"):
        return None
    try:
        return tuple(int(part) for part in spec.split(","))
    except ValueError:
        raise XalignError(
            f"cannot read --heads {spec!r}; give 'mean' or indices like 0,3"
        ) from None


def resolve_settings(preset: str = "default", **overrides: object) -> AlignmentSettings:
    """The preset's settings with the given fields replaced."""
    if preset not in PRESETS:
        raise XalignError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[preset].settings, **overrides)
