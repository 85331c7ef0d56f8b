"""``xalign models``: the presets, and the model families xalign reads."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from align_cli.settings import FAMILY_NAMES, PRESETS, AlignmentSettings, Preset


def settings_fields(settings: AlignmentSettings) -> dict[str, str]:
    """A preset's settings as the words `xalign extract` options take."""
    method = settings.method
    if method == "threshold":
        method += f" > {settings.threshold:g}"
    return {
        "layers": "auto"
        if settings.layers is None
        else ",".join(str(layer) for layer in settings.layers),
        "heads": "mean" if settings.heads is None else ",".join(str(h) for h in settings.heads),
        "shift": "yes" if settings.shift else "no",
        "pooling": settings.pooling,
        "extraction": method,
        "symmetrize": settings.symmetrize or "none",
    }


def _preset_dict(preset: Preset) -> dict[str, str]:
    return {"name": preset.name, **settings_fields(preset.settings), "why": preset.why}


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def models_command(as_json: bool) -> None:
    """List the presets (layer, heads, shift, pooling, extraction, and why) and the model
    families xalign reads.

    Every model starts from the 'default' preset unless --preset says otherwise; its layer
    follows the decoder's depth. Layers count from 0 at the decoder's first layer, or from
    the end when negative (-1 is the last). `xalign sweep CORPUS GOLD --model M` measures
    every layer and head of your own model against a gold file.
    """
    families = [
        {"model_type": model_type, "family": name} for model_type, name in FAMILY_NAMES.items()
    ]
    if as_json:
        payload = {
            "presets": [_preset_dict(preset) for preset in PRESETS.values()],
            "default_preset": "default",
            "families": families,
        }
        click.echo(json.dumps(payload))
        return
    console = Console(file=sys.stdout, highlight=False)
    presets = Table(title="presets (--preset NAME; single options override its fields)")
    for name in ("preset", "layers", "heads", "shift", "pooling", "extraction"):
        presets.add_column(name)
    for preset in PRESETS.values():
        fields = settings_fields(preset.settings)
        presets.add_row(
            preset.name,
            fields["layers"],
            fields["heads"],
            fields["shift"],
            fields["pooling"],
            fields["extraction"],
        )
    console.print(presets)
    for preset in PRESETS.values():
        # Text, not str: the reasons may contain "[", which rich reads as markup.
        console.print(Text(f"{preset.name}: {preset.why}"))
    console.print()
    by_family = Table(title="model families read through cross-attention (config.json model_type)")
    by_family.add_column("model_type")
    by_family.add_column("family")
    for family in families:
        by_family.add_row(family["model_type"], Text(family["family"]))
    console.print(by_family)
    console.print(
        Text(
            "Every model uses the 'default' preset unless --preset is given; encoder-only "
            "models (mBERT, XLM-R, LaBSE) are read through their hidden states. To find the "
            "best layer and heads for your own model: xalign sweep CORPUS GOLD --model M"
        )
    )
