"""Click options shared by the commands that run a model (extract, show, sweep).

Declared once so that the same option has the same name, type and help everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from align_cli.extraction import METHODS
from align_cli.pipeline import AlignmentSettings
from align_cli.presets import parse_heads, parse_layers, resolve_settings

Command = TypeVar("Command", bound=Callable[..., object])


def _apply(options: list[Callable[[Command], Command]], command: Command) -> Command:
    # click applies decorators bottom-up; reversing keeps --help in the listed order.
    for option in reversed(options):
        command = option(command)
    return command


def language_options(command: Command) -> Command:
    """--src-lang, --tgt-lang, --target-token, --source-prefix."""
    return _apply(
        [
            click.option("--src-lang", help="Source language code (M2M100, NLLB, mBART-50)."),
            click.option("--tgt-lang", help="Target language code (M2M100, NLLB, mBART-50)."),
            click.option(
                "--target-token",
                help="Target language token for multilingual OPUS-MT, e.g. >>fra<<.",
            ),
            click.option(
                "--source-prefix",
                help="Task prefix for T5-style models, e.g. 'translate English to French:'.",
            ),
        ],
        command,
    )


def device_options(command: Command) -> Command:
    """--device, --dtype."""
    return _apply(
        [
            click.option(
                "--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."
            ),
            click.option(
                "--dtype",
                default="auto",
                show_default=True,
                help="auto (float32 on CPU, bfloat16 on GPU), float32, bfloat16, float16.",
            ),
        ],
        command,
    )


def aggregation_options(command: Command) -> Command:
    """--layers, --heads, --shift/--no-shift, --pooling, --method, --threshold (no defaults:
    what is not given comes from the preset)."""
    return _apply(
        [
            click.option(
                "--layers", help="Decoder layer(s): -2, 3, 2,3 or a range 2:5 (averaged)."
            ),
            click.option("--heads", help="'mean' or head indices such as 0 or 0,3 (averaged)."),
            click.option("--shift/--no-shift", default=None, help="Shift-Att (Chen et al. 2020)."),
            click.option(
                "--pooling",
                type=click.Choice(["mean", "max", "sum"]),
                help="How subword pieces are pooled into words.",
            ),
            click.option(
                "--method",
                "--extraction",
                "method",
                type=click.Choice(sorted(METHODS)),
                help="How links are read off the word matrix.",
            ),
            click.option(
                "--threshold",
                type=float,
                help="Score above which --method threshold links (softmax_threshold: both "
                "softmaxes above it; default 0.001).",
            ),
        ],
        command,
    )


def settings_from_options(
    preset: str,
    *,
    layers: str | None,
    heads: str | None,
    **fields: object,
) -> AlignmentSettings:
    """The preset's settings with every option the user gave (not None) replacing its own."""
    overrides = {key: value for key, value in fields.items() if value is not None}
    if layers is not None:
        overrides["layers"] = parse_layers(layers)
    if heads is not None:
        overrides["heads"] = parse_heads(heads)
    return resolve_settings(preset, **overrides)
