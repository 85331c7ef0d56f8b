"""Head-averaged cross-attention probabilities, computed without a ``[B, H, T, S]`` tensor.

xalign reads word alignments from the decoder cross-attention of one (or a few) layers.
What it needs from that attention is

    P[b, t, s] = mean over h in heads of softmax_s(scaling * Q[b, h, t] . K[b, h, s] + mask)

where ``Q`` ``[B, H, T, D]`` are the cross-attention queries of the target positions,
``K`` ``[B, H, S, D]`` the keys of the source positions, and the mask removes source
padding. Asking the model for ``output_attentions`` instead materialises every layer's
``[B, H, T, S]`` tensor; this module computes only the ``[B, T, S]`` result, in fp32.

Two implementations with one contract:

* :func:`cross_attention_probs_torch`: plain torch, one head at a time, so the largest
  temporary is ``[B, T, S]``. It is the CPU path and the fallback.
* :func:`cross_attention_probs_triton`: one fused Triton kernel (masking, softmax over
  the source positions in fp32, head selection and mean), writing only ``[B, T, S]``.

:func:`cross_attention_probs` picks one of them. Triton is optional: nothing here imports
it until the Triton path is asked for.

``backend="auto"`` trusts the kernel only after checking it: the first time it would run on
a device, dtype and head size, it runs on a small batch (one source tile and the two-pass
path, padding, a fully padded source, a head subset, a row offset) beside the torch path.
A kernel that fails to compile or run, or disagrees, is not used again in this process: one
warning line on stderr, and the torch path (same results, more memory traffic) takes over.
A kernel that fails later on a new shape falls back the same way. ``backend="triton"``
insists on the kernel, checked or not.

Contract shared by all three functions:

* ``key_mask`` is ``[B, S]`` (bool or integer, nonzero = real source token, like a Hugging
  Face ``attention_mask``) or ``None`` for no padding. Masked positions get probability
  exactly 0; a row whose source is entirely masked is all zeros (never NaN).
* ``heads`` is ``None`` (mean over all heads) or a non-empty sequence of distinct head
  indices (negative indices count from the end, as in Python).
* ``row_offset`` drops the first query rows without copying ``q`` (Shift-Att reads the
  attention of the *next* target position). The result has ``T - row_offset`` rows.
* The result is a new float32 tensor on ``q``'s device.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

import torch

from align_cli.errors import XalignError
from align_cli.model.notices import warn_once

Backend = Literal["auto", "torch", "triton"]
BACKENDS: tuple[str, ...] = ("auto", "torch", "triton")


def _check_inputs(
    q: torch.Tensor, k: torch.Tensor, key_mask: torch.Tensor | None, row_offset: int
) -> None:
    """Raise ValueError unless the shapes, dtypes and devices fit together."""
    if q.dim() != 4 or k.dim() != 4:
        raise ValueError(
            f"q and k must be [B, H, T, D] and [B, H, S, D]; got {tuple(q.shape)} "
            f"and {tuple(k.shape)}"
        )
    if q.shape[0] != k.shape[0] or q.shape[1] != k.shape[1] or q.shape[3] != k.shape[3]:
        raise ValueError(
            f"q {tuple(q.shape)} and k {tuple(k.shape)} disagree on batch, heads or head size"
        )
    if not (q.is_floating_point() and k.is_floating_point()):
        raise ValueError(f"q and k must be floating point; got {q.dtype} and {k.dtype}")
    if q.device != k.device:
        raise ValueError(f"q is on {q.device} but k is on {k.device}")
    if key_mask is not None:
        if tuple(key_mask.shape) != (k.shape[0], k.shape[2]):
            raise ValueError(
                f"key_mask must be [B, S] = {(k.shape[0], k.shape[2])}; got {tuple(key_mask.shape)}"
            )
        if key_mask.device != k.device:
            raise ValueError(f"key_mask is on {key_mask.device} but k is on {k.device}")
    if not 0 <= row_offset <= q.shape[2]:
        raise ValueError(f"row_offset must be in [0, {q.shape[2]}]; got {row_offset}")


def resolve_heads(heads: Sequence[int] | None, num_heads: int) -> list[int]:
    """Turn ``heads`` into a list of distinct indices in ``[0, num_heads)``.

    ``None`` means every head. Duplicates are rejected because a repeated head would
    silently weigh twice in the mean, which is almost certainly a caller's bug.
    """
    if heads is None:
        return list(range(num_heads))
    resolved: list[int] = []
    for head in heads:
        index = int(head)
        if not -num_heads <= index < num_heads:
            raise ValueError(f"head index {index} is out of range for {num_heads} heads")
        resolved.append(index % num_heads)
    if not resolved:
        raise ValueError("heads must name at least one head (or be None for all heads)")
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"heads must be distinct; got {list(heads)}")
    return resolved


def cross_attention_probs_torch(
    q: torch.Tensor,
    k: torch.Tensor,
    key_mask: torch.Tensor | None,
    scaling: float,
    heads: Sequence[int] | None = None,
    *,
    row_offset: int = 0,
) -> torch.Tensor:
    """Head-averaged masked softmax(scaling * q k^T) as ``[B, T - row_offset, S]`` float32.

    Loops over the selected heads and accumulates, so the peak extra memory is three
    ``[B, T, S]`` fp32 tensors (the running sum, one head's scores and their softmax),
    whatever ``H`` is.
    On CPU this is also faster than batching all heads into one ``[B, H, T, S]`` matmul:
    one head's scores stay in cache between the matmul, the softmax and the accumulation.
    """
    _check_inputs(q, k, key_mask, row_offset)
    head_ids = resolve_heads(heads, q.shape[1])
    q = q[:, :, row_offset:]
    batch, _, num_rows, _ = q.shape
    num_keys = k.shape[2]
    out = torch.zeros(batch, num_rows, num_keys, dtype=torch.float32, device=q.device)
    if out.numel() == 0:
        return out

    # The mask enters as an additive bias that baddbmm fuses with the scaled matmul. It
    # uses the most negative finite fp32 rather than -inf: exp() of it is exactly 0 next
    # to any real score, and a fully masked row gives a uniform (finite) softmax instead of
    # NaN, which is then zeroed below.
    bias: torch.Tensor | None = None
    empty_rows: torch.Tensor | None = None
    if key_mask is not None:
        is_key = key_mask.to(device=q.device, dtype=torch.bool)
        bias = torch.zeros(batch, 1, num_keys, dtype=torch.float32, device=q.device)
        bias.masked_fill_(~is_key[:, None, :], torch.finfo(torch.float32).min)
        empty_rows = ~is_key.any(dim=1)

    for head in head_ids:
        # Upcast one head at a time: [B, T, D] and [B, S, D] copies are the only cost.
        q_head = q[:, head].float()
        k_head_t = k[:, head].float().transpose(1, 2)
        if bias is None:
            scores = torch.bmm(q_head, k_head_t).mul_(scaling)
        else:
            scores = torch.baddbmm(bias, q_head, k_head_t, alpha=scaling)
        out.add_(torch.softmax(scores, dim=-1))
    out.mul_(1.0 / len(head_ids))

    if empty_rows is not None and bool(empty_rows.any()):
        out[empty_rows] = 0.0
    return out


def triton_available() -> bool:
    """True when the optional ``triton`` package can be imported."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def interpreter_enabled() -> bool:
    """True when ``TRITON_INTERPRET=1`` asks Triton to run kernels on the CPU interpreter."""
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in ("1", "true", "yes", "on")


def cross_attention_probs_triton(
    q: torch.Tensor,
    k: torch.Tensor,
    key_mask: torch.Tensor | None,
    scaling: float,
    heads: Sequence[int] | None = None,
    *,
    row_offset: int = 0,
    block_t: int | None = None,
    block_s: int | None = None,
) -> torch.Tensor:
    """The fused Triton kernel; same contract as :func:`cross_attention_probs_torch`.

    ``q``/``k`` may be fp32, fp16 or bf16 (any strides). ``block_t``/``block_s`` override
    the tile sizes (powers of two, at least 16); a source longer than ``block_s`` takes the
    two-pass path (online max/sum over source tiles, then normalised output). Needs CUDA
    tensors, or CPU tensors with ``TRITON_INTERPRET=1`` (slow: for tests only).
    """
    _check_inputs(q, k, key_mask, row_offset)
    head_ids = resolve_heads(heads, q.shape[1])
    if not triton_available():
        raise XalignError(
            "the Triton kernel needs the 'triton' package; install it with "
            "`pip install 'xalign[gpu]'` or use backend='torch'"
        )
    if not q.is_cuda and not interpreter_enabled():
        raise XalignError(
            f"the Triton kernel runs on CUDA tensors (these are on {q.device}); set "
            "TRITON_INTERPRET=1 to run it on the CPU interpreter, or use backend='torch'"
        )
    # Imported here so that the package never imports triton unless this path is used.
    from align_cli.model.kernels._cross_attention_triton import launch_cross_attention_probs

    return launch_cross_attention_probs(
        q[:, :, row_offset:],
        k,
        key_mask,
        scaling,
        head_ids,
        block_t=block_t,
        block_s=block_s,
    )


# (device, dtype, head size) -> why the kernel is not used there, or None once it passed.
_kernel_verdicts: dict[tuple[str, str, int], str | None] = {}
# Agreement asked of the kernel on the probe: both paths compute in fp32 from the same
# inputs (about 1e-6 apart); a wrong mask, head or tile is off by far more.
PROBE_TOLERANCE = {"atol": 1e-4, "rtol": 1e-3}


def _probe_kernel(device: torch.device, dtype: torch.dtype, head_dim: int) -> None:
    """Run the kernel beside the torch path on a small batch; raise on any disagreement."""
    generator = torch.Generator().manual_seed(0)
    batch, num_heads, num_rows, num_keys = 3, 4, 9, 40
    q = torch.randn(batch, num_heads, num_rows, head_dim, generator=generator)
    k = torch.randn(batch, num_heads, num_keys, head_dim, generator=generator)
    key_mask = torch.ones(batch, num_keys, dtype=torch.bool)
    key_mask[1, 23:] = False  # padding
    key_mask[2] = False  # a source that is all padding: zero rows
    q, k, key_mask = q.to(device, dtype), k.to(device, dtype), key_mask.to(device)
    scaling = head_dim**-0.5
    for heads, row_offset, block_s in ((None, 0, None), ([3, 1], 1, 16)):
        expected = cross_attention_probs_torch(
            q, k, key_mask, scaling, heads, row_offset=row_offset
        )
        result = cross_attention_probs_triton(
            q, k, key_mask, scaling, heads, row_offset=row_offset, block_s=block_s
        )
        if result.shape != expected.shape or result.dtype != expected.dtype:
            raise ValueError(f"it returned {tuple(result.shape)} {result.dtype}")
        if not torch.isfinite(result).all():
            raise ValueError("it returned NaN or infinite probabilities")
        if not torch.allclose(result, expected, **PROBE_TOLERANCE):
            gap = (result - expected).abs().max().item()
            raise ValueError(f"it disagrees with the torch path by up to {gap:.2g}")


def _describe(device: torch.device, dtype: torch.dtype, head_dim: int) -> str:
    return f"{device}, {str(dtype).removeprefix('torch.')}, head size {head_dim}"


def _give_up_on_kernel(key: tuple[str, str, int], where: str, reason: str) -> None:
    _kernel_verdicts[key] = reason
    warn_once(
        f"the fused Triton cross-attention kernel {reason} ({where}); using the torch path "
        "instead (same results, slower)"
    )


def kernel_verified(
    device: torch.device, dtype: torch.dtype = torch.float32, head_dim: int = 64
) -> bool:
    """Whether the Triton kernel passed its check on ``device`` for ``dtype`` and
    ``head_dim`` (checked once per process and combination; a failure warns once)."""
    key = (str(device), str(dtype), int(head_dim))
    if key not in _kernel_verdicts:
        try:
            _probe_kernel(device, dtype, head_dim)
        except Exception as error:  # compile errors, launch errors, wrong numbers
            _give_up_on_kernel(key, _describe(device, dtype, head_dim), _failure(error))
        else:
            _kernel_verdicts[key] = None
    return _kernel_verdicts[key] is None


def _failure(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    text = text if len(text) <= 160 else text[:157] + "..."
    if isinstance(error, ValueError) and text.startswith("it "):
        return f"failed its check: {text}"
    return f"failed to run ({type(error).__name__}: {text})" if text else "failed to run"


def select_backend(device: torch.device, backend: str = "auto") -> Literal["torch", "triton"]:
    """Decide which implementation :func:`cross_attention_probs` uses for ``device``.

    ``auto`` takes Triton for CUDA tensors when triton is installed and torch otherwise
    (the CPU interpreter is far too slow to be picked without being asked for); the
    dispatcher then uses the kernel only once it passed its check (:func:`kernel_verified`).
    ``triton`` insists on the kernel and raises :class:`XalignError` where it cannot run.
    """
    if backend not in BACKENDS:
        raise XalignError(
            f"unknown kernel backend {backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    if backend == "torch":
        return "torch"
    on_cuda = device.type == "cuda"
    if backend == "auto":
        return "triton" if on_cuda and triton_available() else "torch"
    if not triton_available():
        raise XalignError(
            "backend='triton' needs the 'triton' package; install it with "
            "`pip install 'xalign[gpu]'` or use backend='torch'"
        )
    if not on_cuda and not interpreter_enabled():
        raise XalignError(
            f"backend='triton' needs CUDA tensors (these are on {device}) or "
            "TRITON_INTERPRET=1 for the CPU interpreter; use backend='torch' or 'auto'"
        )
    return "triton"


def cross_attention_probs(
    q: torch.Tensor,
    k: torch.Tensor,
    key_mask: torch.Tensor | None,
    scaling: float,
    heads: Sequence[int] | None = None,
    *,
    backend: str = "auto",
    row_offset: int = 0,
) -> torch.Tensor:
    """Head-averaged cross-attention probabilities ``[B, T - row_offset, S]`` in float32.

    See the module docstring for the contract and :func:`select_backend` for how
    ``backend`` ("auto", "torch" or "triton") picks the implementation.
    """
    chosen = select_backend(q.device, backend)
    if chosen == "triton" and backend == "triton":
        return cross_attention_probs_triton(q, k, key_mask, scaling, heads, row_offset=row_offset)
    if chosen == "triton":
        _check_inputs(q, k, key_mask, row_offset)  # a caller's mistake is not the kernel's
        resolve_heads(heads, q.shape[1])
    head_dim = q.shape[-1] if q.dim() == 4 else 0
    if chosen == "triton" and kernel_verified(q.device, q.dtype, head_dim):
        try:
            return cross_attention_probs_triton(
                q, k, key_mask, scaling, heads, row_offset=row_offset
            )
        except Exception as error:  # a shape the check did not cover fails to compile...
            key = (str(q.device), str(q.dtype), int(head_dim))
            _give_up_on_kernel(key, _describe(q.device, q.dtype, head_dim), _failure(error))
    return cross_attention_probs_torch(q, k, key_mask, scaling, heads, row_offset=row_offset)
