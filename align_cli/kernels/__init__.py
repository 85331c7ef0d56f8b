"""Fused attention kernels (Triton, optional) and their torch reference paths."""

from __future__ import annotations

from align_cli.kernels.cross_attention import (
    BACKENDS,
    Backend,
    cross_attention_probs,
    cross_attention_probs_torch,
    cross_attention_probs_triton,
    interpreter_enabled,
    resolve_heads,
    select_backend,
    triton_available,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "cross_attention_probs",
    "cross_attention_probs_torch",
    "cross_attention_probs_triton",
    "interpreter_enabled",
    "resolve_heads",
    "select_backend",
    "triton_available",
]
