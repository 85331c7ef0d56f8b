"""Aligners: one interface (:class:`Aligner`), two paths, one factory.

* :class:`AttentionAligner` (and :class:`BidirectionalAligner`): a translation model's
  cross-attention;
* :class:`EmbeddingAligner`: an encoder's hidden-state similarities (SimAlign's method);
* :func:`build_aligner`: load a model from an :class:`~align_cli.settings.AlignerSpec` and
  pick the path.

The names are imported on first use, so that ``align_cli.aligners.base`` (the interface)
can be imported without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Aligner": "base",
    "AttentionAligner": "attention",
    "BidirectionalAligner": "attention",
    "make_result": "attention",
    "EmbeddingAligner": "embedding",
    "build_aligner": "factory",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
