"""xalign: word alignments from the cross-attention of encoder-decoder translation models.

Importing the package is cheap (no torch, no numpy): :func:`align` and the data types are
loaded when first used, so that ``xalign`` can handle Ctrl-C from its first moments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from align_cli.errors import CorpusError, ModelError, XalignError
from align_cli.version import __version__

if TYPE_CHECKING:
    from align_cli.types import AlignmentResult, Link, SentencePair

_TYPES = ("AlignmentResult", "Link", "SentencePair")


def align(*args, **kwargs):  # noqa: D103 - documented in align_cli.api.align
    from align_cli.api import align as _align

    return _align(*args, **kwargs)


align.__doc__ = "Align sentence pairs with a model; see :func:`align_cli.api.align`."


def __getattr__(name: str) -> Any:
    if name in _TYPES:
        from align_cli import types

        return getattr(types, name)
    raise AttributeError(f"module 'align_cli' has no attribute {name!r}")


__all__ = [
    "align",
    "AlignmentResult",
    "CorpusError",
    "Link",
    "ModelError",
    "SentencePair",
    "XalignError",
    "__version__",
]
