"""Compute kernels: fused cross-attention (Triton, optional) with its torch reference path,
and float32 CPU linear layers through oneDNN."""

from __future__ import annotations

from align_cli.model.kernels.cpu_linear import (
    onednn_linear_available,
    restore_linears,
    route_linears_to_onednn,
)
from align_cli.model.kernels.cross_attention import (
    BACKENDS,
    Backend,
    cross_attention_probs,
    cross_attention_probs_torch,
    cross_attention_probs_triton,
    interpreter_enabled,
    kernel_verified,
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
    "kernel_verified",
    "onednn_linear_available",
    "resolve_heads",
    "restore_linears",
    "route_linears_to_onednn",
    "select_backend",
    "triton_available",
]
