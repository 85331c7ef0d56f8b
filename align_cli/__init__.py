"""xalign: word alignments from the cross-attention of encoder-decoder translation models.

Importing the package is cheap (no torch): :func:`align` loads what it needs when called.
"""

from __future__ import annotations

from align_cli.errors import CorpusError, ModelError, XalignError
from align_cli.types import AlignmentResult, Link, SentencePair
from align_cli.version import __version__


def align(*args, **kwargs):  # noqa: D103 - documented in align_cli.api.align
    from align_cli.api import align as _align

    return _align(*args, **kwargs)


align.__doc__ = "Align sentence pairs with a model; see :func:`align_cli.api.align`."

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
