"""xalign: word alignments from the cross-attention of encoder-decoder translation models."""

from __future__ import annotations

__version__ = "0.1.0"

from align_cli.errors import CorpusError, ModelError, XalignError
from align_cli.types import AlignmentResult, Link, SentencePair


def align(*args, **kwargs):  # noqa: D103 - documented in align_cli.pipeline.align
    from align_cli.pipeline import align as _align

    return _align(*args, **kwargs)


align.__doc__ = "Align sentence pairs with a model; see :func:`align_cli.pipeline.align`."

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
