"""``--device`` and ``--dtype``: what this machine has, and what each value means."""

from __future__ import annotations

import torch

from align_cli.errors import ModelError

# What --device takes: "auto", or a torch device of a type below.
DEVICE_TYPES = ("cpu", "cuda", "mps")


def devices_here() -> str:
    """What this machine offers, for error messages: "cpu, cuda:0, cuda:1"."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return ", ".join(found)


def resolve_device(device: str) -> torch.device:
    """``--device``: auto, cpu, cuda, cuda:N (or mps); anything this machine lacks is
    refused naming the exact device and what there is."""
    text = device.strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        parsed = torch.device(text)
    except (RuntimeError, ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in DEVICE_TYPES:
        hint = " (a GPU is --device cuda or cuda:N)" if "gpu" in text else ""
        raise ModelError(
            f"unknown --device {device!r}{hint}; use auto, cpu, cuda or cuda:N "
            f"(this machine has: {devices_here()})"
        )
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            build = (
                "this torch is a CPU-only build"
                if torch.version.cuda is None
                else "torch sees no CUDA GPU (driver, or CUDA_VISIBLE_DEVICES?)"
            )
            raise ModelError(
                f"--device {device} was asked for, but {build}; use --device cpu or auto "
                f"(this machine has: {devices_here()})"
            )
        if parsed.index is not None and parsed.index >= count:
            raise ModelError(
                f"--device {device} does not exist: torch sees {count} CUDA GPU(s); use "
                f"one of {devices_here()}"
            )
    if parsed.type == "mps" and "mps" not in devices_here():
        raise ModelError(
            f"--device {device} was asked for, but MPS is not available here; use one of "
            f"{devices_here()}"
        )
    if parsed.type == "cpu" and parsed.index not in (None, 0):
        raise ModelError(f"--device {device} does not exist; use --device cpu")
    return parsed


# What --dtype takes besides "auto". float64 is for checks against a reference (slow).
DTYPES = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float64": torch.float64,
}


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` is float32 on the CPU and bfloat16 (else float16) on a GPU."""
    text = dtype.strip().lower()
    if text == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if text not in DTYPES:
        raise ModelError(f"unknown --dtype {dtype!r}; choose auto, {', '.join(DTYPES)}")
    return DTYPES[text]


def slow_cpu_dtype_warning(dtype: torch.dtype, device: torch.device) -> str | None:
    """A warning when ``dtype`` would run emulated on this CPU. Half precision on a CPU
    is fast only with native instructions (AVX512-BF16 or AMX for bfloat16, AVX512-FP16 or
    AMX-FP16 for float16): there, bfloat16 halves a co-process's latency; elsewhere oneDNN
    emulates it, slower than float32."""
    if device.type != "cpu" or dtype not in (torch.bfloat16, torch.float16):
        return None
    if cpu_has_native(dtype):
        return None
    name = "bfloat16" if dtype == torch.bfloat16 else "float16"
    return (
        f"this CPU has no native {name} instructions: --dtype {name} runs emulated, "
        "slower than float32; leave --dtype auto (float32) on it"
    )


def cpu_has_native(dtype: torch.dtype) -> bool:
    """Whether oneDNN runs ``dtype`` (bfloat16 or float16) natively on this CPU."""
    if dtype == torch.bfloat16:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())
