"""xalign: word alignments from the cross-attention of encoder-decoder translation models."""

from __future__ import annotations

__version__ = "0.1.0"

from align_cli.errors import CorpusError, ModelError, XalignError
from align_cli.types import AlignmentResult, Link, SentencePair

__all__ = [
    "AlignmentResult",
    "CorpusError",
    "Link",
    "ModelError",
    "SentencePair",
    "XalignError",
    "__version__",
]
