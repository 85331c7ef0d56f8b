"""Correctness of the head-averaged cross-attention kernels.

Every implementation is checked against ``reference_probs`` below: a float64 einsum +
softmax written independently of the code under test, on fresh random inputs with padding,
odd lengths, one-token sentences, head subsets and half-precision inputs.

* The torch path runs everywhere.
* The Triton kernel runs on the CPU through Triton's interpreter. TRITON_INTERPRET=1 has
  to be set before triton is imported (triton.language wraps its own helpers at import),
  so ``test_triton_interpreter_suite`` runs this file's ``TestTritonInterpreter`` in a
  child pytest with the variable set (the class is collected only where it is set).
  Without triton installed these skip, except in CI (``CI=true``) or with
  ``XALIGN_REQUIRE_TRITON=1``, where a missing triton fails: the ``test`` extra installs it.
* On a CUDA machine the compiled kernel is checked too (skipped elsewhere).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from align_cli.errors import XalignError
from align_cli.model.kernels import cross_attention as cross_attention_module
from align_cli.model.kernels import (
    cross_attention_probs,
    cross_attention_probs_torch,
    cross_attention_probs_triton,
    resolve_heads,
    select_backend,
    triton_available,
)
from tests.paths import ROOT

# Both implementations accumulate in fp32 from the given (possibly rounded) inputs, and
# the reference starts from the same rounded values, so the only error is fp32 rounding
# in the dot products, the exponentials and the head sum: ~1e-7 on probabilities <= 1.
# Half-precision inputs get a looser bound because the kernel's tl.dot on a GPU may sum
# the exact half products in a different order and with fewer guard bits.
TOLERANCE = {
    torch.float32: dict(atol=2e-6, rtol=1e-5),
    torch.float16: dict(atol=1e-5, rtol=1e-4),
    torch.bfloat16: dict(atol=1e-5, rtol=1e-4),
}


def reference_probs(
    q: torch.Tensor,
    k: torch.Tensor,
    key_mask: torch.Tensor | None,
    scaling: float,
    heads: Sequence[int] | None,
    row_offset: int = 0,
) -> torch.Tensor:
    """The definition, in float64, with all of [B, H, T, S] materialised."""
    q64 = q.detach().to("cpu", torch.float64)[:, :, row_offset:]
    k64 = k.detach().to("cpu", torch.float64)
    scores = torch.einsum("bhtd,bhsd->bhts", q64, k64) * scaling
    if key_mask is not None:
        is_key = key_mask.detach().cpu().bool()
        scores = scores.masked_fill(~is_key[:, None, None, :], float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    # A sentence whose source is all padding has no distribution; the contract says zeros.
    probs = torch.where(torch.isnan(probs), torch.zeros_like(probs), probs)
    selected = list(range(q.shape[1])) if heads is None else list(heads)
    return probs[:, selected].mean(dim=1)


@dataclass
class Case:
    q: torch.Tensor
    k: torch.Tensor
    key_mask: torch.Tensor | None
    scaling: float
    heads: list[int] | None


def make_case(
    seed: int,
    batch: int,
    num_heads: int,
    num_rows: int,
    num_keys: int,
    head_dim: int,
    dtype: torch.dtype = torch.float32,
    *,
    heads: list[int] | None = None,
    padded: bool = True,
    allow_empty_source: bool = False,
    layout: str = "contiguous",
) -> Case:
    """Random q/k/mask. Source lengths vary per sentence; the longest fills ``num_keys``.

    ``layout`` "hf" builds q/k as [B, T, H, D] and transposes them, giving the
    non-contiguous views that a Hugging Face attention module holds before its reshape;
    "strided" takes every other element of a wider last dimension, so that no stride is 1.
    """
    gen = torch.Generator().manual_seed(seed)
    if layout == "hf":
        q = torch.randn(batch, num_rows, num_heads, head_dim, generator=gen).transpose(1, 2)
        k = torch.randn(batch, num_keys, num_heads, head_dim, generator=gen).transpose(1, 2)
    else:
        assert layout in ("contiguous", "strided"), layout
        q = torch.randn(batch, num_heads, num_rows, head_dim, generator=gen)
        k = torch.randn(batch, num_heads, num_keys, head_dim, generator=gen)
    # Scale so that scores spread over several units: peaked rows and flat rows both occur.
    q = q * 2.0
    key_mask = None
    if padded:
        low = 0 if allow_empty_source else 1
        lengths = torch.randint(low, num_keys + 1, (batch,), generator=gen)
        lengths[0] = num_keys
        key_mask = torch.arange(num_keys)[None, :] < lengths[:, None]
    q, k = q.to(dtype), k.to(dtype)
    if layout == "strided":
        q, k = every_other_element_view(q), every_other_element_view(k)
    return Case(q, k, key_mask, head_dim**-0.5, heads)


def every_other_element_view(values: torch.Tensor) -> torch.Tensor:
    """The same values, as a view whose last dimension has stride 2."""
    wide = torch.zeros(*values.shape[:-1], 2 * values.shape[-1], dtype=values.dtype)
    wide[..., ::2] = values
    return wide[..., ::2]


def assert_matches_reference(
    result: torch.Tensor, case: Case, dtype: torch.dtype, row_offset: int = 0
) -> None:
    expected = reference_probs(case.q, case.k, case.key_mask, case.scaling, case.heads, row_offset)
    assert result.dtype == torch.float32
    assert result.shape == expected.shape
    torch.testing.assert_close(result.cpu().double(), expected, **TOLERANCE[dtype])
    if case.key_mask is not None:
        # Padding must get exactly zero, not merely something small.
        is_pad = ~case.key_mask.bool().cpu()[:, None, :].expand_as(result)
        assert torch.all(result.cpu()[is_pad] == 0)


# --- torch path ---------------------------------------------------------------------------

dtypes = st.sampled_from([torch.float32, torch.float32, torch.bfloat16, torch.float16])


@st.composite
def cases(draw: st.DrawFn, max_rows: int = 24, max_keys: int = 40) -> tuple[Case, torch.dtype]:
    num_heads = draw(st.integers(1, 6))
    dtype = draw(dtypes)
    heads = draw(
        st.none()
        | st.lists(st.integers(0, num_heads - 1), min_size=1, max_size=num_heads, unique=True)
    )
    case = make_case(
        seed=draw(st.integers(0, 2**31 - 1)),
        batch=draw(st.integers(1, 4)),
        num_heads=num_heads,
        num_rows=draw(st.integers(1, max_rows)),
        num_keys=draw(st.integers(1, max_keys)),
        head_dim=draw(st.sampled_from([8, 16, 32, 48, 64, 128])),
        dtype=dtype,
        heads=heads,
        padded=draw(st.booleans()),
        allow_empty_source=draw(st.booleans()),
        layout=draw(st.sampled_from(["contiguous", "hf", "strided"])),
    )
    return case, dtype


@settings(max_examples=150, deadline=None)
@given(cases())
def test_torch_path_matches_float64_reference(case_and_dtype: tuple[Case, torch.dtype]) -> None:
    case, dtype = case_and_dtype
    result = cross_attention_probs_torch(case.q, case.k, case.key_mask, case.scaling, case.heads)
    assert_matches_reference(result, case, dtype)


@pytest.mark.parametrize("row_offset", [0, 1, 5])
def test_torch_path_row_offset_drops_leading_queries(row_offset: int) -> None:
    case = make_case(3, batch=3, num_heads=4, num_rows=9, num_keys=11, head_dim=32)
    result = cross_attention_probs_torch(
        case.q, case.k, case.key_mask, case.scaling, row_offset=row_offset
    )
    assert_matches_reference(result, case, torch.float32, row_offset=row_offset)


def test_torch_path_rows_are_distributions_over_real_tokens() -> None:
    case = make_case(11, batch=5, num_heads=8, num_rows=7, num_keys=13, head_dim=64)
    result = cross_attention_probs_torch(case.q, case.k, case.key_mask, case.scaling, [0, 5, 7])
    torch.testing.assert_close(result.sum(dim=-1), torch.ones(5, 7), atol=1e-5, rtol=0)


def test_fully_padded_source_gives_zero_rows_not_nan() -> None:
    case = make_case(5, batch=3, num_heads=2, num_rows=4, num_keys=6, head_dim=16)
    assert case.key_mask is not None
    case.key_mask[1] = False
    result = cross_attention_probs_torch(case.q, case.k, case.key_mask, case.scaling)
    assert not torch.isnan(result).any()
    assert torch.all(result[1] == 0)
    assert_matches_reference(result, case, torch.float32)


def test_integer_mask_is_accepted_like_bool() -> None:
    case = make_case(8, batch=4, num_heads=3, num_rows=5, num_keys=9, head_dim=32)
    assert case.key_mask is not None
    as_bool = cross_attention_probs_torch(case.q, case.k, case.key_mask, case.scaling)
    as_long = cross_attention_probs_torch(case.q, case.k, case.key_mask.long(), case.scaling)
    torch.testing.assert_close(as_bool, as_long, atol=0, rtol=0)


def test_negative_head_indices_count_from_the_end() -> None:
    case = make_case(9, batch=2, num_heads=6, num_rows=3, num_keys=5, head_dim=16)
    by_negative = cross_attention_probs_torch(case.q, case.k, case.key_mask, case.scaling, [-1])
    by_positive = cross_attention_probs_torch(case.q, case.k, case.key_mask, case.scaling, [5])
    torch.testing.assert_close(by_negative, by_positive, atol=0, rtol=0)


@pytest.mark.parametrize(
    ("heads", "message"),
    [
        ([], "at least one head"),
        ([0, 0], "distinct"),
        ([4], "out of range"),
        ([-5], "out of range"),
    ],
)
def test_bad_head_selections_are_rejected(heads: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_heads(heads, 4)


def test_mismatched_shapes_are_rejected() -> None:
    q = torch.zeros(2, 4, 3, 16)
    with pytest.raises(ValueError, match="disagree"):
        cross_attention_probs_torch(q, torch.zeros(2, 4, 5, 32), None, 0.25)
    with pytest.raises(ValueError, match="key_mask"):
        cross_attention_probs_torch(q, torch.zeros(2, 4, 5, 16), torch.ones(2, 4), 0.25)
    with pytest.raises(ValueError, match="row_offset"):
        cross_attention_probs_torch(q, torch.zeros(2, 4, 5, 16), None, 0.25, row_offset=4)


# --- dispatcher ---------------------------------------------------------------------------


def test_auto_backend_uses_torch_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # the interpreter is only used when asked for
    assert select_backend(torch.device("cpu"), "auto") == "torch"
    assert select_backend(torch.device("cpu"), "torch") == "torch"


def test_auto_backend_uses_triton_on_cuda_only_when_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cross_attention_module, "triton_available", lambda: True)
    assert select_backend(torch.device("cuda"), "auto") == "triton"
    monkeypatch.setattr(cross_attention_module, "triton_available", lambda: False)
    assert select_backend(torch.device("cuda"), "auto") == "torch"
    with pytest.raises(XalignError, match="needs the 'triton' package"):
        select_backend(torch.device("cuda"), "triton")


def test_explicit_triton_on_cpu_needs_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cross_attention_module, "triton_available", lambda: True)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(XalignError, match="TRITON_INTERPRET=1"):
        select_backend(torch.device("cpu"), "triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert select_backend(torch.device("cpu"), "triton") == "triton"


def test_unknown_backend_is_a_user_error() -> None:
    with pytest.raises(XalignError, match="unknown kernel backend 'cuda'"):
        select_backend(torch.device("cpu"), "cuda")


def test_dispatcher_default_matches_reference_on_cpu() -> None:
    case = make_case(21, batch=3, num_heads=4, num_rows=6, num_keys=10, head_dim=32, heads=[1, 2])
    result = cross_attention_probs(case.q, case.k, case.key_mask, case.scaling, case.heads)
    assert_matches_reference(result, case, torch.float32)


def test_package_works_without_triton() -> None:
    # A fresh interpreter in which `import triton` fails, as on an install without the
    # gpu extra: importing and the torch path must not touch triton.
    script = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch\n"
        "from align_cli.model.kernels import cross_attention_probs, triton_available\n"
        "assert not triton_available()\n"
        "q = torch.randn(2, 3, 4, 16); k = torch.randn(2, 3, 5, 16)\n"
        "out = cross_attention_probs(q, k, None, 0.25)\n"
        "assert out.shape == (2, 4, 5)\n"
        "try:\n"
        "    cross_attention_probs(q, k, None, 0.25, backend='triton')\n"
        "except Exception as error:\n"
        "    assert type(error).__name__ == 'XalignError', error\n"
        "else:\n"
        "    raise AssertionError('backend=triton without triton did not raise')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_importing_the_package_does_not_import_triton() -> None:
    script = "import sys, align_cli.model.kernels; assert 'triton' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- Triton kernel on the CPU interpreter ---------------------------------------------------


def _require_triton() -> None:
    if triton_available():
        return
    reason = "triton is not installed (pip install 'xalign[gpu]' or the test extra)"
    if os.environ.get("CI") == "true" or os.environ.get("XALIGN_REQUIRE_TRITON") == "1":
        pytest.fail(reason + "; CI / XALIGN_REQUIRE_TRITON=1 requires it")
    pytest.skip(reason)


def test_triton_interpreter_suite() -> None:
    """Run ``TestTritonInterpreter`` in a child pytest that starts with TRITON_INTERPRET=1."""
    _require_triton()
    if cross_attention_module.interpreter_enabled():
        pytest.skip("TRITON_INTERPRET=1 is set: TestTritonInterpreter runs in this process")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", f"{__file__}::TestTritonInterpreter", "-q"]
        + ["-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        env={**os.environ, "TRITON_INTERPRET": "1"},
        cwd=ROOT,
    )
    report = done.stdout[-6000:] + done.stderr[-3000:]
    assert done.returncode == 0, report
    closing_line = done.stdout.strip().splitlines()[-1]
    ran = re.search(r"(\d+) passed", closing_line)
    assert ran is not None and int(ran.group(1)) >= len(EDGE_CASES), report
    assert "skipped" not in closing_line, report


# Without a GPU, compiling the kernel ahead of time for a CUDA target still catches what
# the interpreter cannot: type errors of the compiled language, and tiles that need more
# shared memory than a GPU has (64 KiB per block on sm_75, the smallest still supported).
AOT_CASES = [
    # (dtype, T, S, D): opus-mt shapes on the one-tile path, and the two-pass path
    ("bf16", 32, 32, 64),
    ("bf16", 128, 512, 128),
    ("fp32", 32, 32, 64),
]


@pytest.mark.parametrize(("dtype", "num_rows", "num_keys", "head_dim"), AOT_CASES)
def test_kernel_compiles_for_a_cuda_target_without_a_gpu(
    dtype: str, num_rows: int, num_keys: int, head_dim: int
) -> None:
    _require_triton()
    if cross_attention_module.interpreter_enabled():
        pytest.skip("TRITON_INTERPRET=1: triton.jit gives interpreted functions, not compilable")
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from align_cli.model.kernels import _cross_attention_triton as kernels

    kernel = kernels._cross_attention_probs_kernel
    signature = {}
    for name in kernel.arg_names:
        if name.isupper():
            signature[name] = "constexpr"
        elif name in ("q_ptr", "k_ptr"):
            signature[name] = f"*{dtype}"
        elif name.endswith("_ptr"):
            signature[name] = {"key_mask_ptr": "*i8", "head_ids_ptr": "*i32"}.get(name, "*fp32")
        elif name in ("score_scale", "inv_num_heads"):
            signature[name] = "fp32"
        else:
            signature[name] = "i32"
    block_d = max(16, triton.next_power_of_2(head_dim))
    element_size = 4 if dtype == "fp32" else 2
    block_t, block_s = kernels.default_blocks(num_rows, num_keys, block_d, element_size)
    constants = dict(
        BLOCK_T=block_t,
        BLOCK_S=block_s,
        BLOCK_D=block_d,
        BLOCK_H=8,
        SINGLE_TILE=num_keys <= block_s,
        HAS_MASK=True,
        UPCAST_FOR_DOT=False,
    )
    source = ASTSource(fn=kernel, signature=signature, constexprs=constants)
    compiled = triton.compile(source, target=GPUTarget("cuda", 80, 32))
    assert "cubin" in compiled.asm
    assert compiled.metadata.shared <= 64 * 1024


# Hand-picked shapes for the paths and padding the kernel has: single source tile, the
# two-pass path (block_s smaller than S), several row blocks (block_t smaller than T), one
# target or source token, head sizes that are and are not powers of two, half inputs.
EDGE_CASES = [
    # (batch, heads, T, S, D, dtype, head subset, block_t, block_s)
    (2, 4, 5, 7, 32, torch.float32, None, None, None),
    (3, 4, 1, 9, 64, torch.float32, [3], None, None),
    (2, 3, 6, 1, 64, torch.float32, None, None, None),
    (1, 1, 1, 1, 16, torch.float32, None, None, None),
    (2, 8, 21, 37, 128, torch.float32, [0, 7, 3], None, None),
    (3, 5, 40, 17, 32, torch.float32, [4, 1], 16, None),
    (2, 4, 9, 50, 64, torch.float32, None, None, 16),
    (3, 6, 18, 45, 32, torch.float32, [5, 0, 2, 1, 3], 16, 16),
    (2, 2, 3, 33, 16, torch.float32, [1], None, 32),
    (2, 4, 7, 11, 80, torch.float32, None, None, None),
    (2, 2, 5, 6, 8, torch.float32, None, None, None),
    (2, 4, 13, 19, 64, torch.bfloat16, [2, 3], None, None),
    (2, 4, 13, 70, 64, torch.bfloat16, None, 16, 32),
    (2, 3, 10, 12, 32, torch.float16, None, None, None),
]


class TestTritonInterpreter:
    """The Triton kernel on CPU tensors through the interpreter.

    Collected only in a process that started with TRITON_INTERPRET=1 (pytest skips
    classes whose ``__test__`` is false), which ``test_triton_interpreter_suite`` arranges.
    """

    __test__ = cross_attention_module.interpreter_enabled()

    @pytest.fixture(autouse=True)
    def _needs_triton(self) -> None:
        _require_triton()

    @pytest.mark.parametrize(
        ("batch", "num_heads", "num_rows", "num_keys", "head_dim", "dtype", "heads", "bt", "bs"),
        EDGE_CASES,
    )
    def test_edge_cases(
        self,
        batch: int,
        num_heads: int,
        num_rows: int,
        num_keys: int,
        head_dim: int,
        dtype: torch.dtype,
        heads: list[int] | None,
        bt: int | None,
        bs: int | None,
    ) -> None:
        case = make_case(
            batch * 1000 + num_keys,
            batch,
            num_heads,
            num_rows,
            num_keys,
            head_dim,
            dtype,
            heads=heads,
        )
        result = cross_attention_probs_triton(
            case.q, case.k, case.key_mask, case.scaling, case.heads, block_t=bt, block_s=bs
        )
        assert_matches_reference(result, case, dtype)

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(case_and_dtype=cases(max_rows=20, max_keys=40), two_pass=st.booleans())
    def test_matches_float64_reference(
        self, case_and_dtype: tuple[Case, torch.dtype], two_pass: bool
    ) -> None:
        case, dtype = case_and_dtype
        result = cross_attention_probs_triton(
            case.q,
            case.k,
            case.key_mask,
            case.scaling,
            case.heads,
            block_s=16 if two_pass else None,
        )
        assert_matches_reference(result, case, dtype)

    @pytest.mark.parametrize("block_s", [None, 16])
    def test_fully_padded_source_and_row_offset(self, block_s: int | None) -> None:
        case = make_case(
            77, batch=3, num_heads=4, num_rows=8, num_keys=20, head_dim=32, heads=[1, 3]
        )
        assert case.key_mask is not None
        case.key_mask[2] = False
        result = cross_attention_probs_triton(
            case.q, case.k, case.key_mask, case.scaling, case.heads, row_offset=1, block_s=block_s
        )
        assert not torch.isnan(result).any()
        assert torch.all(result[2] == 0)
        assert_matches_reference(result, case, torch.float32, row_offset=1)

    def test_through_dispatcher_on_noncontiguous_views(self) -> None:
        case = make_case(31, batch=2, num_heads=4, num_rows=6, num_keys=9, head_dim=64, layout="hf")
        assert not case.q.is_contiguous()
        result = cross_attention_probs(
            case.q, case.k, case.key_mask, case.scaling, backend="triton"
        )
        assert_matches_reference(result, case, torch.float32)

    @pytest.mark.parametrize("block_s", [None, 16])
    def test_on_views_with_no_unit_stride(self, block_s: int | None) -> None:
        case = make_case(
            32,
            batch=2,
            num_heads=3,
            num_rows=7,
            num_keys=21,
            head_dim=32,
            layout="strided",
            heads=[0, 2],
        )
        assert case.q.stride(-1) == 2 and case.k.stride(-1) == 2
        result = cross_attention_probs_triton(
            case.q, case.k, case.key_mask, case.scaling, case.heads, block_s=block_s
        )
        assert_matches_reference(result, case, torch.float32)

    def test_without_mask(self) -> None:
        case = make_case(
            41, batch=2, num_heads=3, num_rows=5, num_keys=23, head_dim=32, padded=False
        )
        for block_s in (None, 16):
            result = cross_attention_probs_triton(
                case.q, case.k, None, case.scaling, [2, 0], block_s=block_s
            )
            expected = reference_probs(case.q, case.k, None, case.scaling, [2, 0])
            torch.testing.assert_close(result.double(), expected, **TOLERANCE[torch.float32])

    def test_rejects_block_sizes_tl_dot_cannot_use(self) -> None:
        case = make_case(1, batch=1, num_heads=1, num_rows=2, num_keys=3, head_dim=16)
        with pytest.raises(ValueError, match="power of two"):
            cross_attention_probs_triton(case.q, case.k, case.key_mask, case.scaling, block_s=24)
        with pytest.raises(ValueError, match="power of two"):
            cross_attention_probs_triton(case.q, case.k, case.key_mask, case.scaling, block_t=8)


# --- Triton kernel compiled for CUDA ------------------------------------------------------

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device: the compiled Triton kernel needs one"
)

CUDA_CASES = [
    # (batch, heads, T, S, D, dtype, head subset)
    (256, 8, 32, 32, 64, torch.float32, None),  # opus-mt shapes
    (64, 8, 31, 29, 64, torch.bfloat16, [0, 3, 5]),
    (16, 16, 1, 200, 64, torch.float16, None),
    (8, 12, 77, 300, 64, torch.float32, [11]),
    (8, 4, 100, 129, 128, torch.bfloat16, None),
    (4, 16, 9, 1, 32, torch.float32, None),
    (4, 6, 50, 513, 80, torch.float32, [1, 4]),
]


@needs_cuda
@pytest.mark.parametrize(
    ("batch", "num_heads", "num_rows", "num_keys", "head_dim", "dtype", "heads"), CUDA_CASES
)
def test_triton_cuda_matches_float64_reference(
    batch: int,
    num_heads: int,
    num_rows: int,
    num_keys: int,
    head_dim: int,
    dtype: torch.dtype,
    heads: list[int] | None,
) -> None:
    _require_triton()
    case = make_case(num_keys, batch, num_heads, num_rows, num_keys, head_dim, dtype, heads=heads)
    q, k, key_mask = case.q.cuda(), case.k.cuda(), case.key_mask
    assert key_mask is not None
    key_mask = key_mask.cuda()
    result = cross_attention_probs(q, k, key_mask, case.scaling, case.heads)  # auto -> triton
    assert result.is_cuda
    assert_matches_reference(result, case, dtype)
    torch_result = cross_attention_probs_torch(q, k, key_mask, case.scaling, case.heads)
    assert_matches_reference(torch_result, case, dtype)


# --- backend="auto" trusts the kernel only after checking it ------------------------------


@pytest.fixture
def auto_picks_triton(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` choosing the kernel as on a CUDA machine with triton installed (here with
    CPU tensors), with no kernel verdict and no warning printed yet in this process."""
    from align_cli.model import notices

    monkeypatch.setattr(cross_attention_module, "_kernel_verdicts", {})
    monkeypatch.setattr(notices, "_printed", set())

    def select(device: torch.device, backend: str = "auto") -> str:
        return "torch" if backend == "torch" else "triton"

    monkeypatch.setattr(cross_attention_module, "select_backend", select)


def _kernel_stand_in(monkeypatch: pytest.MonkeyPatch, how: str) -> list[tuple[int, ...]]:
    """Replace the Triton launch by one that fails ``how``; returns the shapes it ran on."""
    calls: list[tuple[int, ...]] = []

    def kernel(q, k, key_mask, scaling, heads=None, *, row_offset=0, block_s=None, **_):
        calls.append(tuple(k.shape))
        right = cross_attention_probs_torch(q, k, key_mask, scaling, heads, row_offset=row_offset)
        if how == "fails to compile":
            raise RuntimeError("CompilationError: at 41:8:\nout of resources: shared memory")
        if how == "is off by 0.05":
            return right + 0.05
        if how == "gives NaN":
            right[0, 0, 0] = float("nan")
            return right
        if how == "drops a head":
            return cross_attention_probs_torch(q, k, key_mask, scaling, [0], row_offset=row_offset)
        if how == "fails on long sources" and k.shape[2] < 40:
            raise RuntimeError("triton.runtime.errors.OutOfResources: out of resource")
        return right

    monkeypatch.setattr(cross_attention_module, "cross_attention_probs_triton", kernel)
    return calls


@pytest.mark.parametrize("how", ["fails to compile", "is off by 0.05", "gives NaN", "drops a head"])
def test_auto_falls_back_to_torch_when_the_kernel_fails_its_check(
    auto_picks_triton: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    how: str,
) -> None:
    calls = _kernel_stand_in(monkeypatch, how)
    case = make_case(5, batch=3, num_heads=4, num_rows=6, num_keys=11, head_dim=32, heads=[1, 2])
    for _ in range(3):
        result = cross_attention_probs(case.q, case.k, case.key_mask, case.scaling, case.heads)
        assert_matches_reference(result, case, torch.float32)
    # The check ran the kernel on its own small batch only, never on the real ones.
    assert calls and all(shape[2] == 40 for shape in calls), calls
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("xalign: warning: the fused Triton cross-attention kernel ")
    assert "(cpu, float32, head size 32); using the torch path instead" in lines[0]
    expected = "failed to run (RuntimeError" if how == "fails to compile" else "failed its check"
    assert expected in lines[0]


def test_auto_falls_back_when_the_checked_kernel_fails_on_a_new_shape(
    auto_picks_triton: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = _kernel_stand_in(monkeypatch, "fails on long sources")
    long = make_case(6, batch=2, num_heads=4, num_rows=5, num_keys=40, head_dim=32)
    short = make_case(7, batch=2, num_heads=4, num_rows=5, num_keys=12, head_dim=32)
    result = cross_attention_probs(long.q, long.k, long.key_mask, long.scaling)
    assert_matches_reference(result, long, torch.float32)
    assert capsys.readouterr().err == ""  # checked, and used
    probed = len(calls)
    for _ in range(2):
        result = cross_attention_probs(short.q, short.k, short.key_mask, short.scaling)
        assert_matches_reference(result, short, torch.float32)
    assert len(calls) == probed + 1  # it failed once, and was not tried again
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "failed to run (RuntimeError: triton.runtime" in lines[0], lines
    cross_attention_probs(long.q, long.k, long.key_mask, long.scaling)
    assert len(calls) == probed + 1


def test_a_callers_mistake_is_not_blamed_on_the_kernel(
    auto_picks_triton: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _kernel_stand_in(monkeypatch, "works")
    q = torch.zeros(2, 4, 3, 16)
    with pytest.raises(ValueError, match="disagree"):
        cross_attention_probs(q, torch.zeros(2, 4, 5, 32), None, 0.25)
    with pytest.raises(ValueError, match="distinct"):
        cross_attention_probs(q, torch.zeros(2, 4, 5, 16), None, 0.25, [1, 1])
    assert capsys.readouterr().err == ""
    assert cross_attention_module._kernel_verdicts == {}


def test_the_real_kernel_passes_its_check_on_the_interpreter() -> None:
    """The check must not turn a correct kernel away: run it on Triton's CPU interpreter
    (a child process, as TRITON_INTERPRET=1 must be set before triton is imported)."""
    _require_triton()
    script = (
        "import torch\n"
        "from align_cli.model.kernels import cross_attention as m\n"
        "for dtype, head_dim in ((torch.float32, 32), (torch.bfloat16, 64)):\n"
        "    assert m.kernel_verified(torch.device('cpu'), dtype, head_dim), (dtype, head_dim)\n"
        "print(sorted(m._kernel_verdicts.items()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "TRITON_INTERPRET": "1"},
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "xalign: warning" not in done.stderr, done.stderr
