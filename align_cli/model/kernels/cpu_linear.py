"""Float32 linear layers on x86 CPUs through oneDNN instead of MKL.

Why this exists: PyTorch's CPU build runs a float32 ``nn.Linear`` through MKL's sgemm,
while oneDNN's float32 kernel, which the same build ships (and already uses for
bfloat16), is much faster on AVX-512 CPUs; a transformer forward pass spends most of its
time in linear layers, so routing them through oneDNN speeds up both of xalign's paths
(the measurements are in benchmarks/README.md, "Why float32 linear layers go through
oneDNN").

The numbers stay float32: only the order of the sums differs, so outputs differ from
MKL's by float32 rounding (about 1e-6 relative), the same as between two batch sizes.

The routing replaces each module's ``forward`` with a call to
``torch.ops.mkldnn._linear_pointwise``, the operator PyTorch's own compiler emits for CPU
linears. The module itself, its parameters (tied weights included) and any hooks on it
stay as they are, and nothing is copied. A call that the operator does not cover (another
dtype or device, autograd on trainable weights, a 1-D input) takes ``F.linear`` as before.
The operator is private to PyTorch, so it is probed once against ``F.linear`` and the
routing is skipped if it is missing or disagrees.

Memory. oneDNN compiles one kernel per input shape and keeps it, in its own cache and in
PyTorch's wrapper around it, 1,024 entries each by default. xalign's batches have a new
number of rows almost every time, so on a long corpus those caches grew by hundreds of
megabytes (benchmarks/README.md, "Memory on a long corpus"), and every new shape paid for
a compilation. So
the rows are padded up to one of 16 sizes per power of two (at most 1/16 more work, or 7
rows) and both caches are capped at ``CACHE_CAPACITY`` entries: memory stays flat, and a
shape seen once is usually seen again. Very small products (under ``MIN_MACS``
multiply-adds), where a kernel call costs more than MKL's whole product, stay on
``F.linear``.

Set ``XALIGN_CPU_LINEAR=torch`` in the environment to keep PyTorch's default path.
"""

from __future__ import annotations

import functools
import os
import platform

import torch
import torch.nn.functional as F

ENV_VAR = "XALIGN_CPU_LINEAR"
CACHE_CAPACITY = 256
MIN_MACS = 1 << 22
# Read when oneDNN first runs, so set on import, before any model is loaded; a value the
# user chose is kept.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(CACHE_CAPACITY))
os.environ.setdefault("LRU_CACHE_CAPACITY", str(CACHE_CAPACITY))  # PyTorch's ideep layer


def padded_rows(rows: int) -> int:
    """``rows`` rounded up to one of 16 sizes per power of two (multiples of 8 at least)."""
    step = max(8, 1 << max(0, rows.bit_length() - 5))
    return -(-rows // step) * step


def _op():
    return getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)


@functools.cache
def onednn_linear_available() -> bool:
    """True where the oneDNN operator exists on this x86 build and matches ``F.linear``."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        # On ARM, PyTorch's default CPU kernels (Accelerate, OpenBLAS) are the fast ones.
        return False
    if not torch.backends.mkldnn.is_available() or _op() is None:
        return False
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 48, generator=generator)
    weight = torch.randn(40, 48, generator=generator)
    bias = torch.randn(40, generator=generator)
    try:
        with torch.inference_mode():
            routed = _op()(x, weight, bias, "none", [], "")
            unbiased = _op()(x, weight, None, "none", [], "")
    except RuntimeError:
        return False
    expected = F.linear(x.double(), weight.double(), bias.double())
    return (
        routed.shape == expected.shape
        and torch.allclose(routed.double(), expected, rtol=1e-5, atol=1e-4)
        and torch.allclose(unbiased.double(), expected - bias.double(), rtol=1e-5, atol=1e-4)
    )


def _routed_forward(module: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    weight, bias = module.weight, module.bias
    if (
        x.dtype != torch.float32
        or weight.dtype != torch.float32
        or x.device.type != "cpu"
        or weight.device.type != "cpu"
        or x.dim() < 2
        or (torch.is_grad_enabled() and (weight.requires_grad or x.requires_grad))
    ):
        return F.linear(x, weight, bias)
    rows = x.numel() // x.shape[-1]
    if rows * weight.shape[0] * weight.shape[1] < MIN_MACS:
        return F.linear(x, weight, bias)
    flat = x.reshape(rows, x.shape[-1])
    padded = padded_rows(rows)
    if padded != rows:
        flat = torch.cat([flat, flat.new_zeros(padded - rows, flat.shape[1])])
    out = _op()(flat.contiguous(), weight, bias, "none", [], "")
    # The first ``rows`` rows of a contiguous result are contiguous: no copy.
    return out[:rows].view(*x.shape[:-1], weight.shape[0])


def route_linears_to_onednn(model: torch.nn.Module) -> int:
    """Send the float32 CPU ``nn.Linear`` layers of ``model`` through oneDNN.

    Returns how many layers were routed: 0 where oneDNN is unavailable, the
    ``XALIGN_CPU_LINEAR`` environment variable says ``torch``, or no layer is a float32
    CPU one. Routing twice is harmless; :func:`restore_linears` undoes it.
    """
    if os.environ.get(ENV_VAR, "").strip().lower() == "torch" or not onednn_linear_available():
        return 0
    routed = 0
    for module in model.modules():
        if (
            isinstance(module, torch.nn.Linear)
            and module.weight.dtype == torch.float32
            and module.weight.device.type == "cpu"
        ):
            module.forward = functools.partial(_routed_forward, module)
            routed += 1
    return routed


def restore_linears(model: torch.nn.Module) -> None:
    """Give every routed ``nn.Linear`` of ``model`` its own ``forward`` back."""
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and "forward" in vars(module):
            del module.forward
