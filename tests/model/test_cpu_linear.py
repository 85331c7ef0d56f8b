"""Float32 CPU linear layers routed through oneDNN give float32 results and change nothing else.

The reference for every value is ``F.linear`` in float64. That the oneDNN operator really
ran is read from the profiler, not assumed from the routing's return value.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from align_cli.model.kernels import (
    onednn_linear_available,
    restore_linears,
    route_linears_to_onednn,
)
from align_cli.model.kernels.cpu_linear import CACHE_CAPACITY, ENV_VAR, MIN_MACS, padded_rows
from align_cli.model.loading import load_model
from tests.embedding_fixtures import build_tiny_bert
from tests.marian_fixtures import build_tiny_marian

pytestmark = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="the oneDNN routing is only used on x86 CPUs",
)

ONEDNN_OP = "mkldnn::_linear_pointwise"


def ops_run(call) -> tuple[object, set[str]]:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        out = call()
    return out, {event.key for event in profile.key_averages()}


def float64_linear(module: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    bias = None if module.bias is None else module.bias.double()
    return F.linear(x.double(), module.weight.double(), bias)


def test_pytorch_builds_for_x86_have_the_operator():
    assert onednn_linear_available()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(
    "shape",
    [(64, 256), (64, 256 + 1), (3, 37, 256), (2, 3, 29, 256)],
    ids=["2d-bucket-size", "2d-padded", "3d", "4d"],
)
def test_routed_layer_matches_float64_and_runs_onednn(shape, bias):
    torch.manual_seed(0)
    layer = torch.nn.Linear(shape[-1], 320, bias=bias)
    assert route_linears_to_onednn(layer) == 1
    x = torch.randn(shape)
    assert (x.numel() // shape[-1]) * shape[-1] * 320 >= MIN_MACS  # big enough to route
    with torch.inference_mode():
        out, ops = ops_run(lambda: layer(x))
    assert ONEDNN_OP in ops
    assert out.dtype == torch.float32 and out.shape == (*shape[:-1], 320)
    assert out.is_contiguous()
    torch.testing.assert_close(out.double(), float64_linear(layer, x), rtol=1e-5, atol=1e-5)


def test_small_products_stay_on_pytorchs_kernel():
    layer = torch.nn.Linear(64, 48)
    route_linears_to_onednn(layer)
    x = torch.randn(3, 11, 64)
    with torch.inference_mode():
        out, ops = ops_run(lambda: layer(x))
    assert ONEDNN_OP not in ops
    torch.testing.assert_close(out.double(), float64_linear(layer, x), rtol=1e-5, atol=1e-5)


def test_rows_are_padded_to_few_sizes_by_at_most_7_rows_or_a_sixteenth():
    sizes = {padded_rows(rows) for rows in range(1, 4097)}
    assert len(sizes) <= 100  # what the capped kernel caches have to hold per weight shape
    for rows in range(1, 4097):
        assert rows <= padded_rows(rows) <= rows + max(7, rows / 16)
        assert padded_rows(padded_rows(rows)) == padded_rows(rows)


def test_non_contiguous_input_is_handled():
    torch.manual_seed(1)
    layer = torch.nn.Linear(256, 256)
    route_linears_to_onednn(layer)
    x = torch.randn(5, 256, 90).transpose(1, 2)  # [5, 90, 256], not contiguous
    with torch.inference_mode():
        out, ops = ops_run(lambda: layer(x))
    assert ONEDNN_OP in ops
    torch.testing.assert_close(out.double(), float64_linear(layer, x), rtol=1e-5, atol=1e-5)


def test_training_and_other_dtypes_keep_pytorchs_path():
    torch.manual_seed(2)
    layer = torch.nn.Linear(256, 256)
    route_linears_to_onednn(layer)
    x = torch.randn(128, 256, requires_grad=True)
    out, ops = ops_run(lambda: layer(x))
    assert ONEDNN_OP not in ops
    out.sum().backward()
    assert layer.weight.grad is not None and x.grad is not None
    torch.testing.assert_close(x.grad, layer.weight.sum(0).expand(128, 256).detach())

    half = torch.nn.Linear(16, 8).to(torch.bfloat16)
    assert route_linears_to_onednn(half) == 0
    assert "forward" not in vars(half)


def test_restore_gives_the_default_forward_back():
    layer = torch.nn.Linear(8, 8)
    route_linears_to_onednn(layer)
    restore_linears(layer)
    assert "forward" not in vars(layer)
    with torch.inference_mode():
        _, ops = ops_run(lambda: layer(torch.randn(2, 8)))
    assert ONEDNN_OP not in ops


def test_environment_variable_turns_the_routing_off(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "torch")
    assert route_linears_to_onednn(torch.nn.Linear(8, 8)) == 0


@pytest.fixture(scope="module")
def small_marian(tmp_path_factory) -> Path:
    # Wide enough that its products are routed (see MIN_MACS).
    return build_tiny_marian(tmp_path_factory.mktemp("marian") / "model", d_model=256)


def test_translation_model_keeps_outputs_hooks_and_tied_weights(small_marian):
    loaded = load_model(str(small_marian), device="cpu", dtype="float32")
    assert loaded.linear_backend == "onednn"
    model = loaded.model
    # The output projection stays tied to the embeddings: routing copies no parameter.
    embeddings = model.get_input_embeddings().weight
    assert model.get_output_embeddings().weight.data_ptr() == embeddings.data_ptr()

    captured = []
    query = model.get_decoder().layers[-1].encoder_attn.q_proj
    handle = query.register_forward_hook(lambda _m, _i, output: captured.append(output))
    sentences = ["Le chat dort sur le canapé du salon depuis ce matin ."] * 3 + ["Bonjour"]
    ids = loaded.tokenizer([s * 2 for s in sentences], return_tensors="pt", padding=True)
    labels = torch.randint(3, 1000, (4, 30), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        routed, ops = ops_run(lambda: model(**ids, decoder_input_ids=labels).logits)
        restore_linears(model)
        default = model(**ids, decoder_input_ids=labels).logits
    handle.remove()
    assert ONEDNN_OP in ops
    assert len(captured) == 2  # the hook fired on the routed and on the restored pass
    torch.testing.assert_close(captured[0], captured[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(routed, default, rtol=1e-4, atol=1e-4)


def test_load_model_routes_only_float32_on_the_cpu(tmp_path, monkeypatch, shared_data):
    folder = build_tiny_bert(tmp_path / "bert", shared_data, layers=2)
    assert load_model(str(folder), device="cpu", dtype="float32").linear_backend == "onednn"
    assert load_model(str(folder), device="cpu", dtype="bfloat16").linear_backend == "torch"
    monkeypatch.setenv(ENV_VAR, "torch")
    assert load_model(str(folder), device="cpu", dtype="float32").linear_backend == "torch"


@pytest.mark.parametrize("preset", [None, "32"])
def test_importing_xalign_caps_onednn_kernel_caches_unless_the_user_did(preset):
    env = {k: v for k, v in os.environ.items() if not k.endswith("CACHE_CAPACITY")}
    if preset is not None:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = preset
    script = (
        "import os, align_cli.model.loading; "
        "print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'], os.environ['LRU_CACHE_CAPACITY'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [preset or str(CACHE_CAPACITY), str(CACHE_CAPACITY)]
