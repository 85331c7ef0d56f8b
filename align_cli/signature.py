"""The run signature: one line that says exactly what produced a result.

As sacrebleu prints ``nrefs:1|case:mixed|tok:13a|...|version:2.0.0`` beside a score, every
xalign command that produces numbers prints a signature, ``key:value`` fields joined by
``|``. It is written to stderr by ``extract``, ``show`` and ``eval``, into every JSONL
record, and into the resume sidecar of a partial output (a resume that would produce a
different signature is refused). Reading one back (:meth:`Signature.parse`) gives the
same fields, so two runs can be compared field by field.

The alignment signature records the model, its revision, the settings, and the dtype
and device type the model ran in: bfloat16 changes links, and so may a GPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from align_cli.errors import XalignError
from align_cli.version import __version__


@dataclass(frozen=True)
class Signature:
    """Ordered ``key:value`` fields; ``str()`` is the ``key:value|...`` line."""

    fields: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        for key, value in self.fields:
            if not key or any(c in key for c in ":|") or "|" in value:
                raise ValueError(f"signature field {key!r}:{value!r} cannot be written")

    @classmethod
    def of(cls, **fields: str) -> Signature:
        """Fields in the order given, keys with ``_`` written as ``-``."""
        return cls(tuple((key.replace("_", "-"), str(value)) for key, value in fields.items()))

    @classmethod
    def parse(cls, text: str) -> Signature:
        """The inverse of ``str()``."""
        fields = []
        for part in text.rstrip("\r\n").split("|"):
            key, colon, value = part.partition(":")
            if not colon:
                raise XalignError(f"cannot read signature field {part!r} (expected key:value)")
            fields.append((key, value))
        return cls(tuple(fields))

    def __str__(self) -> str:
        return "|".join(f"{key}:{value}" for key, value in self.fields)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.fields)

    def get(self, key: str) -> str | None:
        return next((value for name, value in self.fields if name == key), None)

    def differences(self, other: Signature) -> list[str]:
        """``key (this then, other now)`` for every field that differs."""
        mine, theirs = dict(self.fields), dict(other.fields)
        return [
            f"{key} ({mine.get(key, '-')} then, {theirs.get(key, '-')} now)"
            for key in dict.fromkeys([*mine, *theirs])
            if mine.get(key) != theirs.get(key)
        ]


def alignment_signature(
    *,
    model: str,
    revision: str | None,
    settings: str,
    symmetrize: str | None,
    dtype: str,
    device: str,
    reverse_model: str | None = None,
    settings_source: str | None = None,
) -> Signature:
    """What an aligner's results depend on. ``settings`` is the settings' own
    ``key:value|...`` description (:meth:`AlignmentSettings.describe`); ``settings_source``
    names where they came from when not from the options (``xalign.json``: the model
    folder's own, ``auto``: chosen on the corpus)."""
    fields = [("xalign", __version__), ("model", model), ("revision", revision or "unknown")]
    if reverse_model is not None:
        fields.append(("reverse", reverse_model))
    if settings_source is not None:
        fields.append(("settings", settings_source))
    fields += Signature.parse(settings).fields
    fields += [("sym", symmetrize or "none"), ("dtype", dtype), ("device", device)]
    return Signature(tuple(fields))


def evaluation_signature(
    *,
    gold_one_based: bool,
    pred_one_based: bool,
    reverse_gold: bool,
    reverse_pred: bool,
    all_sure: bool,
    ignore_possible: bool,
) -> Signature:
    """What an AER score depends on besides the two files: how they were read."""
    gold_links = "all-sure" if all_sure else "sure-only" if ignore_possible else "sure+possible"
    return Signature.of(
        xalign=__version__,
        metric="aer",
        average="micro",
        gold=f"{1 if gold_one_based else 0}-based{'-reversed' if reverse_gold else ''}",
        pred=f"{1 if pred_one_based else 0}-based{'-reversed' if reverse_pred else ''}",
        gold_links=gold_links,
    )


def with_tokenize(signature: Signature, scheme: str) -> Signature:
    """``signature`` with a ``tokenize:SCHEME`` field when the words were not split on
    whitespace (the default, which adds nothing, so that earlier signatures stay)."""
    if scheme == "whitespace" or signature.get("tokenize") is not None:
        return signature
    return Signature((*signature.fields, ("tokenize", scheme)))


def with_bootstrap(signature: Signature, resamples: int, seed: int, confidence: float) -> Signature:
    """``signature`` with how a bootstrap drew its intervals (only added when one ran, so
    that a plain score keeps its signature)."""
    return Signature(
        (
            *signature.fields,
            ("bootstrap", str(resamples)),
            ("seed", str(seed)),
            ("confidence", f"{confidence:g}"),
        )
    )
