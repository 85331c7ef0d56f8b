"""The fused Triton kernel behind :func:`align_cli.model.kernels.cross_attention_probs_triton`.

This module imports triton at the top, so only import it once triton is known to be
installed (``cross_attention.py`` does that check).

One program computes a ``[BLOCK_T, S]`` slab of the output: ``BLOCK_T`` query rows of one
sentence against all of its source positions. For each selected head it forms the scores
``scaling * q . k`` with ``tl.dot`` (fp32 accumulation), masks padding with ``-inf``,
normalises with a softmax computed in fp32 and adds the result into an fp32 accumulator;
the accumulator, times ``1 / len(heads)``, is the only thing written to global memory.

* Short sources (``S <= BLOCK_S``, the usual case for sentences) fit in one tile and take
  a single pass per head.
* Longer sources take two passes per head: pass 1 walks the source tiles keeping a
  running row max and a running sum of ``exp`` rescaled to that max (the "online
  softmax"); pass 2 walks the tiles again, recomputes the scores and writes
  ``exp(score - max) / sum`` accumulated over heads, so every output tile is written once.
  The per-head statistics of pass 1 stay in registers (``[BLOCK_H, BLOCK_T]``).

Exponentials use ``exp2`` with ``log2(e)`` folded into the score scale (one multiply
instead of one per ``exp``). Rows whose keys are all masked come out as zeros.
"""

from __future__ import annotations

import contextlib
import math

import torch
import triton
import triton.language as tl

from align_cli.errors import XalignError

LOG2_E = math.log2(math.e)
# Largest source length handled in one tile; longer sources take the two-pass path.
# 128 subword tokens covers almost every sentence, and a [BLOCK_T, 128] fp32 tile keeps
# register pressure moderate for head sizes up to 128.
SINGLE_TILE_MAX_S = 128
TWO_PASS_BLOCK_S = 64
MAX_BLOCK_T = 64
# tl.dot needs every tile dimension to be at least 16.
MIN_BLOCK = 16
# tl.dot stages its q and k tiles in shared memory. Default tiles are shrunk until
# (BLOCK_T + BLOCK_S) * BLOCK_D elements fit this, so that fp32 inputs with 128-wide heads
# still launch on GPUs with 64 KiB of shared memory per block (software pipelining of the
# k loads in the two-pass loop adds buffers on top of it).
SHARED_TILE_BUDGET_BYTES = 32 * 1024


@triton.jit
def _key_is_real(key_mask_ptr, batch, stride_mb, stride_ms, keys, num_keys, HAS_MASK: tl.constexpr):
    """Which of the source positions ``keys`` exist and are not padding."""
    key_in = keys < num_keys
    if HAS_MASK:
        is_key = tl.load(key_mask_ptr + batch * stride_mb + keys * stride_ms, mask=key_in, other=0)
        key_in = key_in & (is_key != 0)
    return key_in


@triton.jit
def _masked_scores(
    q_tile_ptrs,
    q_load_mask,
    k_tile_ptrs,
    k_load_mask,
    key_ok,
    score_scale,
    UPCAST_FOR_DOT: tl.constexpr,
):
    """``[BLOCK_T, BLOCK_S]`` scores in log2 units, -inf where the key is not a real token."""
    q = tl.load(q_tile_ptrs, mask=q_load_mask, other=0.0)
    k = tl.load(k_tile_ptrs, mask=k_load_mask, other=0.0)
    if UPCAST_FOR_DOT:
        q = q.to(tl.float32)
        k = k.to(tl.float32)
    # "ieee" keeps fp32 inputs out of TF32, whose 10-bit mantissa would cost ~1e-3 in the
    # scores; half inputs are multiplied exactly and accumulated in fp32 either way.
    scores = tl.dot(q, tl.trans(k), input_precision="ieee") * score_scale
    return tl.where(key_ok[None, :], scores, float("-inf"))


@triton.jit
def _cross_attention_probs_kernel(
    q_ptr,
    k_ptr,
    key_mask_ptr,
    head_ids_ptr,
    out_ptr,
    num_rows,
    num_keys,
    num_heads,
    head_dim,
    score_scale,
    inv_num_heads,
    stride_qb,
    stride_qh,
    stride_qt,
    stride_qd,
    stride_kb,
    stride_kh,
    stride_ks,
    stride_kd,
    stride_mb,
    stride_ms,
    stride_ob,
    stride_ot,
    stride_os,
    BLOCK_T: tl.constexpr,
    BLOCK_S: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_H: tl.constexpr,
    SINGLE_TILE: tl.constexpr,
    HAS_MASK: tl.constexpr,
    UPCAST_FOR_DOT: tl.constexpr,
):
    row_block = tl.program_id(0)
    # int64 so that batch offsets cannot overflow 32 bits on large batches.
    batch = tl.program_id(1).to(tl.int64)

    rows = row_block * BLOCK_T + tl.arange(0, BLOCK_T)
    row_in = rows < num_rows
    dims = tl.arange(0, BLOCK_D)
    dim_in = dims < head_dim  # head_dim need not be a power of two: pad it with zeros
    q_rows_ptrs = q_ptr + batch * stride_qb + rows[:, None] * stride_qt + dims[None, :] * stride_qd
    q_load_mask = row_in[:, None] & dim_in[None, :]
    k_batch_ptr = k_ptr + batch * stride_kb
    out_rows_ptr = out_ptr + batch * stride_ob + rows[:, None] * stride_ot
    tile_keys = tl.arange(0, BLOCK_S)

    if SINGLE_TILE:
        # The whole source fits in one tile: an exact softmax per head, one pass.
        keys = tile_keys
        key_ok = _key_is_real(key_mask_ptr, batch, stride_mb, stride_ms, keys, num_keys, HAS_MASK)
        k_offsets = keys[:, None] * stride_ks + dims[None, :] * stride_kd
        k_load_mask = (keys < num_keys)[:, None] & dim_in[None, :]
        acc = tl.zeros([BLOCK_T, BLOCK_S], dtype=tl.float32)
        for slot in range(0, num_heads):
            head = tl.load(head_ids_ptr + slot).to(tl.int64)
            scores = _masked_scores(
                q_rows_ptrs + head * stride_qh,
                q_load_mask,
                k_batch_ptr + head * stride_kh + k_offsets,
                k_load_mask,
                key_ok,
                score_scale,
                UPCAST_FOR_DOT,
            )
            row_max = tl.max(scores, axis=1)
            # A fully masked row has max -inf; shifting by 0 keeps exp2 at 0 instead of NaN.
            row_max = tl.where(row_max == float("-inf"), 0.0, row_max)
            weights = tl.exp2(scores - row_max[:, None])
            row_sum = tl.sum(weights, axis=1)
            # Fully masked rows have sum 0 and all-zero weights; divide by 1 to stay finite.
            inv_sum = 1.0 / tl.where(row_sum > 0.0, row_sum, 1.0)
            acc += weights * inv_sum[:, None]
        out_mask = row_in[:, None] & (keys < num_keys)[None, :]
        tl.store(out_rows_ptr + keys[None, :] * stride_os, acc * inv_num_heads, mask=out_mask)
    else:
        # Pass 1: per-head row max and 1/sum, kept in registers, one row per head slot.
        slots = tl.arange(0, BLOCK_H)
        head_max = tl.zeros([BLOCK_H, BLOCK_T], dtype=tl.float32)
        head_inv_sum = tl.zeros([BLOCK_H, BLOCK_T], dtype=tl.float32)
        for slot in range(0, num_heads):
            head = tl.load(head_ids_ptr + slot).to(tl.int64)
            running_max = tl.full([BLOCK_T], float("-inf"), dtype=tl.float32)
            running_sum = tl.zeros([BLOCK_T], dtype=tl.float32)
            for key_start in range(0, num_keys, BLOCK_S):
                keys = key_start + tile_keys
                key_ok = _key_is_real(
                    key_mask_ptr, batch, stride_mb, stride_ms, keys, num_keys, HAS_MASK
                )
                scores = _masked_scores(
                    q_rows_ptrs + head * stride_qh,
                    q_load_mask,
                    k_batch_ptr
                    + head * stride_kh
                    + keys[:, None] * stride_ks
                    + dims[None, :] * stride_kd,
                    (keys < num_keys)[:, None] & dim_in[None, :],
                    key_ok,
                    score_scale,
                    UPCAST_FOR_DOT,
                )
                new_max = tl.maximum(running_max, tl.max(scores, axis=1))
                # Until a row has seen a real key its max is -inf; use 0 as the shift so
                # that exp2(-inf - shift) is 0, not NaN.
                shift = tl.where(new_max == float("-inf"), 0.0, new_max)
                running_sum = running_sum * tl.exp2(running_max - shift) + tl.sum(
                    tl.exp2(scores - shift[:, None]), axis=1
                )
                running_max = new_max
            final_max = tl.where(running_max == float("-inf"), 0.0, running_max)
            inv_sum = 1.0 / tl.where(running_sum > 0.0, running_sum, 1.0)
            is_slot = (slots == slot)[:, None]
            head_max = tl.where(is_slot, final_max[None, :], head_max)
            head_inv_sum = tl.where(is_slot, inv_sum[None, :], head_inv_sum)

        # Pass 2: recompute each tile's scores, normalise with the stored statistics and
        # accumulate over heads, so each output tile is stored exactly once.
        for key_start in range(0, num_keys, BLOCK_S):
            keys = key_start + tile_keys
            key_ok = _key_is_real(
                key_mask_ptr, batch, stride_mb, stride_ms, keys, num_keys, HAS_MASK
            )
            acc = tl.zeros([BLOCK_T, BLOCK_S], dtype=tl.float32)
            for slot in range(0, num_heads):
                head = tl.load(head_ids_ptr + slot).to(tl.int64)
                is_slot = (slots == slot)[:, None]
                # Picks this head's row out of the register-resident statistics.
                shift = tl.sum(tl.where(is_slot, head_max, 0.0), axis=0)
                inv_sum = tl.sum(tl.where(is_slot, head_inv_sum, 0.0), axis=0)
                scores = _masked_scores(
                    q_rows_ptrs + head * stride_qh,
                    q_load_mask,
                    k_batch_ptr
                    + head * stride_kh
                    + keys[:, None] * stride_ks
                    + dims[None, :] * stride_kd,
                    (keys < num_keys)[:, None] & dim_in[None, :],
                    key_ok,
                    score_scale,
                    UPCAST_FOR_DOT,
                )
                acc += tl.exp2(scores - shift[:, None]) * inv_sum[:, None]
            out_mask = row_in[:, None] & (keys < num_keys)[None, :]
            tl.store(out_rows_ptr + keys[None, :] * stride_os, acc * inv_num_heads, mask=out_mask)


def _check_interpreter_mode(device: torch.device) -> None:
    """Fail clearly when CPU tensors reach a kernel that was compiled, not interpreted.

    triton.jit picks compiling or interpreting from TRITON_INTERPRET when it wraps a
    function, and so do triton.language's own helpers (tl.max, tl.sum) when triton is
    imported. Setting the variable later cannot switch an already imported triton over.
    """
    interpreted = not isinstance(_cross_attention_probs_kernel, triton.runtime.JITFunction)
    if device.type == "cpu" and not interpreted:
        raise XalignError(
            "triton was imported before TRITON_INTERPRET=1 was set, so its kernels cannot "
            "run on the CPU interpreter in this process; set the variable before starting "
            "Python, or use backend='torch'"
        )


def _block_size(length: int, cap: int) -> int:
    return min(cap, max(MIN_BLOCK, triton.next_power_of_2(length)))


def default_blocks(
    num_rows: int, num_keys: int, block_d: int, element_size: int
) -> tuple[int, int]:
    """``(BLOCK_T, BLOCK_S)`` for a launch: the whole source in one tile when it is short."""
    block_t = _block_size(num_rows, MAX_BLOCK_T)
    if num_keys <= SINGLE_TILE_MAX_S:
        block_s = _block_size(num_keys, SINGLE_TILE_MAX_S)
    else:
        block_s = TWO_PASS_BLOCK_S
    while (block_t + block_s) * block_d * element_size > SHARED_TILE_BUDGET_BYTES:
        if block_s >= block_t and block_s > MIN_BLOCK:
            block_s //= 2
        elif block_t > MIN_BLOCK:
            block_t //= 2
        else:
            break
    return block_t, block_s


def _check_block(name: str, value: int) -> None:
    if value < MIN_BLOCK or value & (value - 1):
        raise ValueError(f"{name} must be a power of two >= {MIN_BLOCK}; got {value}")


def launch_cross_attention_probs(
    q: torch.Tensor,
    k: torch.Tensor,
    key_mask: torch.Tensor | None,
    scaling: float,
    head_ids: list[int],
    *,
    block_t: int | None = None,
    block_s: int | None = None,
) -> torch.Tensor:
    """Run the kernel on already validated inputs; ``head_ids`` are resolved indices."""
    batch, _, num_rows, head_dim = q.shape
    num_keys = k.shape[2]
    out = torch.empty(batch, num_rows, num_keys, dtype=torch.float32, device=q.device)
    if out.numel() == 0:
        return out

    # tl.dot wants both operands in one dtype; promotion keeps the more precise one.
    if q.dtype != k.dtype:
        common = torch.promote_types(q.dtype, k.dtype)
        q, k = q.to(common), k.to(common)
    if q.dtype not in (torch.float16, torch.bfloat16, torch.float32):
        q, k = q.float(), k.float()

    block_d = max(MIN_BLOCK, triton.next_power_of_2(head_dim))
    default_t, default_s = default_blocks(num_rows, num_keys, block_d, q.element_size())
    block_t = default_t if block_t is None else block_t
    block_s = default_s if block_s is None else block_s
    _check_block("block_t", block_t)
    _check_block("block_s", block_s)

    if key_mask is None:
        mask_arg: torch.Tensor = out  # never read: HAS_MASK=False compiles the loads away
        stride_mb = stride_ms = 0
    else:
        # int8 rather than bool: a uniform 1-byte integer load on every backend.
        mask_arg = key_mask.to(device=q.device, dtype=torch.int8)
        stride_mb, stride_ms = mask_arg.stride()
    head_ids_arg = torch.tensor(head_ids, dtype=torch.int32, device=q.device)

    grid = (triton.cdiv(num_rows, block_t), batch)
    _check_interpreter_mode(q.device)
    # Triton launches on the current CUDA device; make that q's device (cuda:1, ...).
    on_device = torch.cuda.device(q.device) if q.is_cuda else contextlib.nullcontext()
    with on_device:
        _cross_attention_probs_kernel[grid](
            q,
            k,
            mask_arg,
            head_ids_arg,
            out,
            num_rows,
            num_keys,
            len(head_ids),
            head_dim,
            float(scaling) * LOG2_E,
            1.0 / len(head_ids),
            *q.stride(),
            *k.stride(),
            stride_mb,
            stride_ms,
            *out.stride(),
            BLOCK_T=block_t,
            BLOCK_S=block_s,
            BLOCK_D=block_d,
            BLOCK_H=triton.next_power_of_2(len(head_ids)),
            SINGLE_TILE=num_keys <= block_s,
            HAS_MASK=key_mask is not None,
            # Triton's CPU interpreter multiplies bf16 tiles as their raw uint16 bits (triton
            # 3.7), so there the tiles go to fp32 first. Harmless for accuracy: a bf16 product
            # is exact in fp32, which is what tl.dot accumulates in on a GPU as well.
            UPCAST_FOR_DOT=q.dtype == torch.bfloat16 and q.device.type == "cpu",
        )
    return out
