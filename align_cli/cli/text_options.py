"""Options about how text becomes words and what the output flags: ``--tokenize``,
``--flags`` and ``--input-format`` (shared by ``extract``, ``show`` and ``transfer``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from align_cli.io.tokenize import DEFAULT_SCHEME, TOKENIZERS

INPUT_FORMATS = ("text", "jsonl")


def tokenize_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--tokenize {whitespace,unicode}``, passed as ``tokenize``."""
    return click.option(
        "--tokenize",
        type=click.Choice(sorted(TOKENIZERS)),
        default=DEFAULT_SCHEME,
        show_default=True,
        help="How text is split into words: whitespace (pre-tokenised text, as before) or "
        "unicode (raw text: punctuation apart, URLs/e-mails/tags whole, CJK and Thai split; "
        "JSONL output then carries each word's [start, end) character offsets).",
    )(function)


def flags_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--flags``: JSONL records list the words without a link."""
    return click.option(
        "--flags",
        is_flag=True,
        default=False,
        help="JSONL records list unaligned_src (source words without a link: possible "
        "omissions) and unaligned_tgt (target words without a link: possible additions).",
    )(function)


def input_format_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--input-format {text,jsonl}``."""
    return click.option(
        "--input-format",
        type=click.Choice(INPUT_FORMATS),
        default="text",
        show_default=True,
        help="text: 'source ||| target' lines (or SRC TGT files); jsonl: one request "
        'per line, {"id": ..., "src": ..., "tgt": ...}, answered in JSONL with the same id.',
    )(function)
