"""``xalign models``: the presets, and which one each model family gets by default."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from align_cli.pipeline import AlignmentSettings
from align_cli.presets import (
    FAMILY_DEFAULTS,
    FAMILY_NAMES,
    MODEL_DEFAULTS,
    PRESETS,
    Preset,
)


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
    """List the presets (layer, heads, shift, pooling, extraction, and why) and the preset
    each model family uses by default.

    Layers count from 0 at the decoder's first layer, or from the end when negative (-1 is
    the last). `xalign sweep CORPUS GOLD --model M` measures every layer and head of your
    own model against a gold file.
    """
    families = [
        {"model_type": model_type, "family": FAMILY_NAMES.get(model_type, model_type),
         "preset": preset}
        for model_type, preset in FAMILY_DEFAULTS.items()
    ]  # fmt: skip
    models = [{"model": name, "preset": preset} for name, preset in MODEL_DEFAULTS.items()]
    if as_json:
        payload = {
            "presets": [_preset_dict(preset) for preset in PRESETS.values()],
            "families": families,
            "models": models,
            "other_model_types": "default",
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
    by_family = Table(title="default preset per model family (config.json model_type)")
    for name in ("model_type", "family", "default preset", "layers", "heads", "shift"):
        by_family.add_column(name)
    for family in families:
        fields = settings_fields(PRESETS[family["preset"]].settings)
        by_family.add_row(
            family["model_type"],
            Text(family["family"]),
            family["preset"],
            fields["layers"],
            fields["heads"],
            fields["shift"],
        )
    console.print(by_family)
    if models:
        by_model = Table(title="models with their own default")
        by_model.add_column("model")
        by_model.add_column("default preset")
        for entry in models:
            by_model.add_row(Text(entry["model"]), entry["preset"])
        console.print(by_model)
    console.print(
        Text(
            "Other model types use the 'default' preset. To find the best layer and heads "
            "for your own model: xalign sweep CORPUS GOLD --model M"
        )
    )
