"""`xalign extract --ray`: a local Ray cluster, started here, gives the single-process bytes.

The test process starts a two-CPU Ray cluster on this machine; a separate `xalign`
process joins it by address (as on a real cluster) and its actors align the windows. The
output, and a resume under Ray of a run that stopped on a bad line, must be identical to
the single-process run. Skips where Ray is not installed (``pip install 'xalign[ray]'``),
unless ``XALIGN_REQUIRE_RAY=1`` (set it in CI) turns the skip into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cli_runner import run_cli
from tests.robustness_fixtures import (
    newstest_pairs,
    one_torch_thread,
    subprocess_environment,
    tiny_model,
    write_joined,
)

OPTIONS = ["--window", "8", "--batch-size", "4", "-q"]


@pytest.fixture(scope="module")
def ray_address():
    try:
        import ray
    except ImportError:
        message = "Ray is not installed (pip install 'xalign[ray]')"
        if os.environ.get("XALIGN_REQUIRE_RAY") == "1":
            pytest.fail(message + "; XALIGN_REQUIRE_RAY=1 requires it")
        pytest.skip(message)
    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024 * 1024,
        logging_level="ERROR",
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def setup(tmp_path_factory, shared_data):
    model = tiny_model(tmp_path_factory)
    folder = tmp_path_factory.mktemp("ray")
    sources, targets = newstest_pairs(150, offset=600)
    corpus = write_joined(folder, sources, targets)
    with one_torch_thread():
        for output_format in ("pharaoh", "jsonl"):
            result = run_cli(
                ["extract", "-i", corpus, "-m", model, *OPTIONS, "--format", output_format]
                + ["-o", folder / f"ref.{output_format}", "--scores", folder / "ref.scores"]
                + ["--force"]
            )
            assert result.exit_code == 0, result.stderr
    return model, corpus, folder


@pytest.mark.slow
def test_a_process_joining_the_cluster_writes_the_single_process_bytes(setup, ray_address):
    model, corpus, folder = setup
    out, scores = folder / "ray.jsonl", folder / "ray.scores"
    command = [sys.executable, "-m", "align_cli", "extract", "-i", str(corpus), "-m", model]
    command += [*OPTIONS, "--format", "jsonl", "-o", str(out), "--scores", str(scores)]
    command += ["--ray", ray_address, "--ray-actors", "2"]
    finished = subprocess.run(
        command, capture_output=True, text=True, env=subprocess_environment(), timeout=300
    )
    assert finished.returncode == 0, finished.stderr
    assert out.read_bytes() == (folder / "ref.jsonl").read_bytes()
    assert scores.read_bytes() == (folder / "ref.scores").read_bytes()


@pytest.mark.slow
def test_a_run_stopped_by_bad_input_resumes_under_ray_to_the_same_bytes(setup, ray_address):
    model, corpus, folder = setup
    good = corpus.read_bytes()
    broken = folder / "broken.fr-en"
    lines = good.split(b"\n")
    broken.write_bytes(b"\n".join(lines[:100] + [b"no separator"] + lines[101:]))
    out = folder / "resumed.pharaoh"
    with one_torch_thread():
        first = run_cli(["extract", "-i", broken, "-m", model, *OPTIONS, "-o", out])
    assert first.exit_code == 2 and f"{broken}:101:" in first.stderr
    assert (folder / "resumed.pharaoh.partial").read_bytes().count(b"\n") == 100
    broken.write_bytes(good)
    # This process is already connected to the cluster, so --ray reuses that connection.
    resumed = run_cli(
        ["extract", "-i", broken, "-m", model, *OPTIONS, "-o", out, "--resume", "--ray"]
    )
    assert resumed.exit_code == 0, resumed.stderr
    assert out.read_bytes() == (folder / "ref.pharaoh").read_bytes()


def test_without_ray_installed_the_error_says_how_to_get_it(setup, monkeypatch):
    model, corpus, folder = setup
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    result = run_cli(["extract", "-i", corpus, "-m", model, "-o", folder / "x", "--ray"])
    assert result.exit_code == 2
    assert "pip install 'xalign[ray]'" in result.stderr
    assert not (folder / "x.partial").exists()


def test_an_input_file_taken_as_the_ray_address_is_caught(setup):
    model, corpus, _ = setup
    result = run_cli(["extract", "-m", model, "--ray", str(corpus)])
    assert result.exit_code == 2 and "put --ray after the input files" in result.stderr
