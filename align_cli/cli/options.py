"""Click options shared by the commands that run a model (extract, show, sweep), and the
one translation of their values into an :class:`~align_cli.settings.AlignerSpec`.

Declared once so that the same option has the same name, type and help everywhere. Only
torch-free modules are imported here, so that every command's ``--help`` is instant.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from align_cli.model_settings import read_model_settings
from align_cli.settings import (
    EXTRACTION_METHODS,
    GRANULARITIES,
    POOLINGS,
    PRESETS,
    SYMMETRIZATIONS,
    AlignerSpec,
    AlignmentSettings,
    BatchingSettings,
    EmbeddingOptions,
    check_threshold_method,
    parse_heads,
    parse_layers,
    resolve_settings,
)

Command = TypeVar("Command", bound=Callable[..., object])
# Not one of settings.PRESETS: its settings are chosen on the corpus (align_cli.tools.auto).
AUTO_PRESET = "auto"


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
                "--device",
                default="auto",
                show_default=True,
                help="auto (the first CUDA GPU if there is one, else the CPU), cpu, cuda or "
                "cuda:N.",
            ),
            click.option(
                "--dtype",
                default="auto",
                show_default=True,
                help="auto (float32 on CPU, bfloat16 on GPU), float32, bfloat16, float16, or "
                "float64 (slow; for checks against a reference).",
            ),
        ],
        command,
    )


def hub_options(command: Command) -> Command:
    """--revision, --trust-remote-code: how a model is taken from the hub."""
    return _apply(
        [
            click.option("--revision", help="Model revision (branch, tag or commit) on the hub."),
            click.option(
                "--trust-remote-code",
                is_flag=True,
                help="Allow model code from the hub (off by default).",
            ),
        ],
        command,
    )


def batching_options(command: Command) -> Command:
    """--batch-size, --max-tokens, --max-length: what one forward pass may hold."""
    return _apply(
        [
            click.option(
                "--batch-size",
                type=int,
                default=BatchingSettings.batch_size,
                show_default=True,
                help="Pairs per forward pass at most (raise it on a GPU, e.g. 256).",
            ),
            click.option(
                "--max-tokens",
                type=int,
                default=BatchingSettings.max_tokens,
                show_default=True,
                help="Padded tokens (source + target) per forward pass at most.",
            ),
            click.option(
                "--max-length",
                type=int,
                help="Tokens per side at most (default: the model's limit).",
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
                type=click.Choice(POOLINGS),
                help="How subword pieces are pooled into words.",
            ),
            click.option(
                "--method",
                "--extraction",
                "method",
                type=click.Choice(sorted(EXTRACTION_METHODS)),
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


def model_path_options(command: Command) -> Command:
    """--embedding-layer, --granularity, --reverse-model, --symmetrize: which path reads
    the model and how the two directions combine."""
    return _apply(
        [
            click.option(
                "--embedding-layer",
                type=int,
                help="Encoder-only models (mBERT, XLM-R, LaBSE): hidden layer whose states are "
                "compared (default 8, as SimAlign; 0 = embeddings, -1 = last).",
            ),
            click.option(
                "--granularity",
                type=click.Choice(GRANULARITIES),
                help="Encoder-only models: compare subword pieces and link words whose pieces "
                "link (default; SimAlign's 'bpe'), or compare mean-pooled words (SimAlign's "
                "'word').",
            ),
            click.option(
                "--reverse-model",
                help="A target-to-source model (e.g. opus-mt-fr-en) whose alignments are "
                "symmetrised with the forward model's (needs --symmetrize).",
            ),
            click.option(
                "--symmetrize",
                type=click.Choice(SYMMETRIZATIONS),
                help="Combine two directions: the reverse model's, or else the two directions "
                "of the forward model's own matrix.",
            ),
        ],
        command,
    )


def preset_option(default: str | None, *, auto: bool = False) -> Callable[[Command], Command]:
    """--preset; ``auto`` adds the preset chosen on the corpus (``--preset auto``)."""
    help_text = "Named settings; the options below override single fields."
    if default is None:
        help_text += (
            " Default: the model folder's own (xalign.json, from xalign train), else default."
        )
    if auto:
        help_text += (
            " auto: chosen on a sample of the corpus by agreement with eflomal's links "
            "(or --auto-teacher FILE)."
        )
    return click.option(
        "--preset",
        type=click.Choice(sorted(PRESETS) + ([AUTO_PRESET] if auto else [])),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def aligner_spec(
    model: str,
    *,
    preset: str | None,
    layers: str | None,
    heads: str | None,
    shift: bool | None,
    pooling: str | None,
    method: str | None,
    threshold: float | None,
    symmetrize: str | None,
    embedding_layer: int | None,
    granularity: str | None,
    reverse_model: str | None,
    src_lang: str | None,
    tgt_lang: str | None,
    target_token: str | None,
    source_prefix: str | None,
    device: str,
    dtype: str,
    revision: str | None = None,
    trust_remote_code: bool = False,
    batching: BatchingSettings | None = None,
    include_matrix: bool = False,
) -> AlignerSpec:
    """The aligner the options describe (options not given are ``None``)."""
    named = None if preset in (None, AUTO_PRESET) else preset
    if threshold is not None and method is None and named is None:
        # No preset named: a model folder's own settings (xalign.json) decide the method;
        # a hub model's are checked once it is loaded (aligners.attention).
        recorded = read_model_settings(model) if Path(model).is_dir() else None
        chosen_method = (recorded or PRESETS["default"].settings).method
        check_threshold_method(chosen_method, "" if recorded is None else f" ({model}/xalign.json)")
    elif threshold is not None:
        check_threshold_method(method or PRESETS[named or "default"].settings.method)
    fields_given = {
        "layers": layers,
        "heads": heads,
        "shift": shift,
        "pooling": pooling,
        "method": method,
        "threshold": threshold,
        "symmetrize": symmetrize,
    }
    given = {
        "preset": None if preset in (None, "default") else preset,
        "layers": layers,
        "heads": heads,
        "shift": shift,
        "pooling": pooling,
        "symmetrize": symmetrize,
    }
    return AlignerSpec(
        model=model,
        settings=settings_from_options(
            named or "default",
            layers=layers,
            heads=heads,
            shift=shift,
            pooling=pooling,
            method=method,
            threshold=threshold,
            symmetrize=symmetrize,
        ),
        batching=batching or BatchingSettings(),
        reverse_model=reverse_model,
        device=device,
        dtype=dtype,
        revision=revision,
        trust_remote_code=trust_remote_code,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        source_prefix=source_prefix,
        target_token=target_token,
        include_matrix=include_matrix,
        # An encoder-only model reads these instead of the settings; the attention-only
        # options given are named so that such a model can refuse them.
        embedding=EmbeddingOptions(
            layer=embedding_layer, granularity=granularity, method=method, threshold=threshold
        ),
        attention_options_given=tuple(name for name, value in given.items() if value is not None),
        # No preset named: a model folder's recorded settings stand in for the default
        # preset, and the options given replace single fields of them.
        defaults_from_model=None
        if named is not None
        else tuple(name for name, value in fields_given.items() if value is not None),
    )
