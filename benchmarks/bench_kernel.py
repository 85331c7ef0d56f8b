"""Time the head-averaged cross-attention kernels on opus-mt-sized inputs.

Compares, for one batch of queries/keys with random source padding:

* ``naive``:  materialise ``[B, H, T, S]`` scores, masked softmax, mean over heads;
* ``torch``:  :func:`align_cli.model.kernels.cross_attention_probs_torch` (one head at a time);
* ``triton``: the fused kernel (only on CUDA with triton installed).

Defaults are Helsinki-NLP/opus-mt-en-fr's decoder cross-attention (8 heads of size 64)
on a batch of 256 sentences of about 32 subwords. Run with::

    python benchmarks/bench_kernel.py                 # CUDA if available, else CPU
    python benchmarks/bench_kernel.py --device cpu --dtype bfloat16

It prints one line per implementation: median time per call, the largest difference
from ``naive`` and, on CUDA, the peak extra memory of the call.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from align_cli.model.kernels import (
    cross_attention_probs_torch,
    cross_attention_probs_triton,
    triton_available,
)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def naive_probs(
    q: torch.Tensor, k: torch.Tensor, key_mask: torch.Tensor, scaling: float
) -> torch.Tensor:
    """What ``output_attentions`` + a mean would cost: all of [B, H, T, S] at once."""
    scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) * scaling
    scores = scores.masked_fill(~key_mask[:, None, None, :], torch.finfo(torch.float32).min)
    return torch.softmax(scores, dim=-1).mean(dim=1)


def time_call(fn: Callable[[], torch.Tensor], device: torch.device, repeats: int) -> list[float]:
    """Seconds per call, ``repeats`` times, after warm-up (compilation, caches)."""
    for _ in range(3):
        fn()
    seconds: list[float] = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            seconds.append(start.elapsed_time(end) / 1000.0)
        else:
            began = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - began)
    return seconds


def peak_extra_bytes(fn: Callable[[], torch.Tensor], device: torch.device) -> int | None:
    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--rows", type=int, default=32, help="target positions T")
    parser.add_argument("--keys", type=int, default=32, help="source positions S")
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    dtype = DTYPES[args.dtype]

    gen = torch.Generator().manual_seed(0)
    shape_q = (args.batch, args.heads, args.rows, args.head_dim)
    shape_k = (args.batch, args.heads, args.keys, args.head_dim)
    q = torch.randn(shape_q, generator=gen).to(device, dtype)
    k = torch.randn(shape_k, generator=gen).to(device, dtype)
    # Sentences of a batch differ in length: pad between half and all of the source.
    lengths = torch.randint(args.keys // 2 + 1, args.keys + 1, (args.batch,), generator=gen)
    key_mask = (torch.arange(args.keys)[None, :] < lengths[:, None]).to(device)
    scaling = args.head_dim**-0.5

    implementations: dict[str, Callable[[], torch.Tensor]] = {
        "naive": lambda: naive_probs(q, k, key_mask, scaling),
        "torch": lambda: cross_attention_probs_torch(q, k, key_mask, scaling),
    }
    if device.type == "cuda" and triton_available():
        implementations["triton"] = lambda: cross_attention_probs_triton(q, k, key_mask, scaling)

    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    print(
        f"device={device}{threads} dtype={args.dtype} B={args.batch} H={args.heads} "
        f"T={args.rows} S={args.keys} D={args.head_dim}"
    )
    reference = implementations["naive"]()
    for name, fn in implementations.items():
        seconds = time_call(fn, device, args.repeats)
        max_diff = (fn() - reference).abs().max().item()
        peak = peak_extra_bytes(fn, device)
        memory = "" if peak is None else f"  peak extra {peak / 2**20:8.2f} MiB"
        print(
            f"{name:>7}: median {statistics.median(seconds) * 1e3:8.3f} ms  "
            f"min {min(seconds) * 1e3:8.3f} ms  max |diff vs naive| {max_diff:.2e}{memory}"
        )
    if "triton" not in implementations:
        print("triton: skipped (needs a CUDA device and the triton package)")


if __name__ == "__main__":
    main()
