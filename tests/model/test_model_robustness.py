"""Model-side input that is wrong or strange: a hub that cannot be reached, a model in the
local Hugging Face cache, broken model folders, options past what the model or machine has.

Every failure goes through the real CLI entry point and must be one ``xalign: error:``
line on stderr, exit code 2, no traceback. Nothing here downloads anything: the hub's
address points at a closed port or at a server that never answers, and
``huggingface_hub``'s retry sleep is made to fail the test, so "it was never retried" is
checked directly rather than timed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from align_cli.cli import main
from tests.families import single_thread
from tests.paths import ROOT

REPO = ROOT
MODEL = REPO / "tests" / "data" / "synthetic" / "fwd"
HELDOUT = REPO / "tests" / "data" / "synthetic" / "heldout.src-tgt"
CACHED_ID = "xalign-tests/tiny-marian"
CACHED_REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread():
        yield


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = HELDOUT.read_text(encoding="utf-8").split("\n")[:12]
    path = tmp_path_factory.mktemp("corpus") / "pairs.src-tgt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> tuple[int, str, str]:
    code = 0
    try:
        main([str(argument) for argument in arguments])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> str:
    code, out, err = run(capsys, arguments)
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("xalign: error: ")
    assert out == ""
    return lines[0]


# --------------------------------------------------------------------------- the hub


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel does) but never answers: a firewall
    that drops packets, a proxy that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def build_hub_cache(root: Path) -> Path:
    """The synthetic model as ``hf download xalign-tests/tiny-marian`` would cache it."""
    repo = root / "models--xalign-tests--tiny-marian"
    snapshot = repo / "snapshots" / CACHED_REVISION
    snapshot.mkdir(parents=True)
    for file in MODEL.iterdir():
        blob = repo / "blobs" / file.name
        blob.parent.mkdir(exist_ok=True)
        shutil.copy(file, blob)
        (snapshot / file.name).symlink_to(Path("..") / ".." / "blobs" / file.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(CACHED_REVISION, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hub_cache(tmp_path_factory.mktemp("hf") / "hub")


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str, Path | None], None]:
    """Point this process's huggingface_hub at an unreachable endpoint and a cache folder,
    and make any retry fail the test."""
    import huggingface_hub.constants as constants
    import huggingface_hub.utils._http as http

    class NeverRetry:
        """huggingface_hub's ``time`` module, whose backoff sleep fails the test."""

        def __getattr__(self, name: str) -> object:
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            raise AssertionError(f"the hub was retried (a {seconds} s backoff)")

    def point(endpoint: str, cache: Path | None) -> None:
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        template = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache or tmp_path / "empty-cache"))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        # Each test finds out afresh whether the hub can be reached.
        try:
            from align_cli.model import hub
        except ImportError:  # an xalign that does not check the hub itself
            pass
        else:
            monkeypatch.setattr(hub, "_reachability", {})
        monkeypatch.setenv("XALIGN_HUB_TIMEOUT", "1")

    monkeypatch.setattr(http, "time", NeverRetry())
    return point


@pytest.mark.parametrize(
    ("name", "hub_id"),
    [
        ("opus-mt-xx-yy", "Helsinki-NLP/opus-mt-xx-yy"),
        ("Helsinki-NLP/opus-mt-en-fr", "Helsinki-NLP/opus-mt-en-fr"),
        ("bert-base-multilingual-cased", "bert-base-multilingual-cased"),
    ],
)
def test_a_hub_name_without_network_is_one_line_at_once(
    capsys: pytest.CaptureFixture[str],
    corpus: Path,
    no_hub: Callable[[str, Path | None], None],
    name: str,
    hub_id: str,
) -> None:
    no_hub(f"http://127.0.0.1:{closed_port()}", None)
    line = one_error_line(capsys, ["extract", "-i", corpus, "--model", name, "-q"])
    assert "cannot reach the Hugging Face hub" in line and "Connection refused" in line
    assert f"hf download {hub_id} --local-dir DIR" in line and "--model DIR" in line
    assert "not in the local cache" in line


def test_a_hub_that_never_answers_is_given_up_on_after_the_timeout(
    capsys: pytest.CaptureFixture[str],
    corpus: Path,
    no_hub: Callable[[str, Path | None], None],
    silent_server: int,
) -> None:
    no_hub(f"http://127.0.0.1:{silent_server}", None)
    arguments = ["extract", "-i", corpus, "-m", "opus-mt-en-fr", "--revision", "v2", "-q"]
    line = one_error_line(capsys, arguments)
    assert "cannot reach the Hugging Face hub" in line
    assert "hf download Helsinki-NLP/opus-mt-en-fr --revision v2 --local-dir DIR" in line


@pytest.mark.parametrize("endpoint", ["closed", "silent"])
def test_a_cached_model_is_used_when_the_hub_cannot_be_reached(
    capsys: pytest.CaptureFixture[str],
    corpus: Path,
    hub_cache: Path,
    no_hub: Callable[[str, Path | None], None],
    silent_server: int,
    endpoint: str,
) -> None:
    code, expected, _ = run(capsys, ["extract", "-i", corpus, "-m", MODEL, "-q"])
    assert code == 0
    port = closed_port() if endpoint == "closed" else silent_server
    no_hub(f"http://127.0.0.1:{port}", hub_cache)
    code, out, err = run(capsys, ["extract", "-i", corpus, "-m", CACHED_ID, "-q"])
    assert code == 0, err
    assert out == expected
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("xalign: warning: cannot reach the Hugging Face hub")
    assert f"using the cached copy of {CACHED_ID} (revision {CACHED_REVISION[:12]}" in lines[0]


def test_hf_hub_offline_is_the_users_choice_and_skips_the_check(
    capsys: pytest.CaptureFixture[str],
    corpus: Path,
    hub_cache: Path,
    no_hub: Callable[[str, Path | None], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import huggingface_hub.constants as constants

    from align_cli.model import hub

    no_hub(f"http://127.0.0.1:{closed_port()}", hub_cache)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def no_check(*_args: object) -> None:
        raise AssertionError("the hub was checked in offline mode")

    monkeypatch.setattr(hub, "unreachable_reason", no_check)
    code, out, err = run(capsys, ["extract", "-i", corpus, "-m", CACHED_ID, "-q"])
    assert code == 0 and err == "" and len(out.splitlines()) == 12
    line = one_error_line(capsys, ["extract", "-i", corpus, "-m", "xalign-tests/none", "-q"])
    assert "HF_HUB_OFFLINE is set" in line and "--local-dir DIR" in line


def test_a_bad_hub_timeout_setting_is_one_line(
    capsys: pytest.CaptureFixture[str],
    corpus: Path,
    no_hub: Callable[[str, Path | None], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_hub(f"http://127.0.0.1:{closed_port()}", None)
    monkeypatch.setenv("XALIGN_HUB_TIMEOUT", "soon")
    line = one_error_line(capsys, ["extract", "-i", corpus, "-m", "opus-mt-en-fr", "-q"])
    assert "XALIGN_HUB_TIMEOUT='soon'" in line


def test_the_command_without_network_uses_the_cache_or_fails_in_one_line(
    tmp_path: Path, corpus: Path, hub_cache: Path, silent_server: int
) -> None:
    """The real command, configured by environment variables only: a cached model works
    and an uncached one fails, each with one line, however the hub fails to answer."""
    env = {
        **os.environ,
        "HF_HUB_CACHE": str(hub_cache),
        "HF_ENDPOINT": f"http://127.0.0.1:{silent_server}",
        "XALIGN_HUB_TIMEOUT": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("HF_HUB_OFFLINE", None)
    env.pop("TRANSFORMERS_OFFLINE", None)
    arguments = ["extract", "-i", str(corpus), "-m", CACHED_ID]
    arguments += ["--reverse-model", "opus-mt-xx-yy", "--symmetrize", "intersect", "-q"]
    done = subprocess.run(
        [sys.executable, "-m", "align_cli", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hang, not a measurement
        cwd=tmp_path,
    )
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    assert "Retrying" not in done.stderr and "Traceback" not in done.stderr
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("xalign: warning: cannot reach the Hugging Face hub")
    assert f"using the cached copy of {CACHED_ID}" in lines[0]
    assert lines[1].startswith("xalign: error: cannot reach the Hugging Face hub")
    assert "hf download Helsinki-NLP/opus-mt-xx-yy --local-dir DIR" in lines[1]


# --------------------------------------------------------------------------- broken folders


def _edit_config(**changes: object) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        config.update(changes)
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")

    return edit


def _cut(file: str, keep: int | None = None) -> Callable[[Path], None]:
    """Truncate ``file`` to ``keep`` bytes (half of it by default)."""

    def cut(folder: Path) -> None:
        data = (folder / file).read_bytes()
        (folder / file).write_bytes(data[: len(data) // 2 if keep is None else keep])

    return cut


def _remove(file: str) -> Callable[[Path], None]:
    return lambda folder: (folder / file).unlink()


def _write(file: str, text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / file).write_text(text, encoding="utf-8")


BROKEN_FOLDERS = {
    # case: (how to break the folder, words the error line must hold)
    "source.spm missing": (_remove("source.spm"), ["tokenizer", "not in the folder: source.spm"]),
    "source.spm empty": (_cut("source.spm", 0), ["tokenizer", "source.spm is empty"]),
    "source.spm truncated": (_cut("source.spm"), ["tokenizer", "source.spm"]),
    "target.spm missing": (_remove("target.spm"), ["tokenizer", "target.spm"]),
    "vocab.json missing": (_remove("vocab.json"), ["tokenizer", "not in the folder: vocab.json"]),
    "vocab.json truncated": (_cut("vocab.json"), ["vocab.json is not valid JSON"]),
    "vocab.json a list": (_write("vocab.json", "[1, 2]"), ["tokenizer", "<unk>"]),
    "tokenizer_config.json garbage": (
        _write("tokenizer_config.json", "{nope"),
        ["tokenizer_config.json is not valid JSON"],
    ),
    "weights missing": (_remove("model.safetensors"), ["holds no weights"]),
    "weights empty": (_cut("model.safetensors", 0), ["model.safetensors is empty"]),
    "weights truncated": (
        _cut("model.safetensors"),
        ["model.safetensors is truncated or corrupt"],
    ),
    "weights cut in the header": (
        _cut("model.safetensors", 100),
        ["model.safetensors is truncated or corrupt"],
    ),
    "config sizes differ from the weights": (
        _edit_config(d_model=64),
        ["config.json does not match the weights", "[128] in the weights but [64]"],
    ),
    "config vocabulary differs": (
        _edit_config(vocab_size=2000, decoder_vocab_size=2000),
        ["config.json does not match the weights", "2000"],
    ),
    "config has more layers than the weights": (
        _edit_config(decoder_layers=5),
        ["config.json does not match the weights", "model.decoder.layers.3.", "weights lack"],
    ),
    "config has fewer layers than the weights": (
        _edit_config(decoder_layers=2),
        ["config.json does not match the weights", "model.decoder.layers.2.", "does not describe"],
    ),
    "config heads do not divide the width": (
        _edit_config(decoder_attention_heads=5),
        ["config.json", "divisible"],
    ),
    "config garbage": (_write("config.json", "garbage{"), ["no usable config.json"]),
    "config empty": (_write("config.json", ""), ["no usable config.json"]),
    "config a list": (_write("config.json", "[1]"), ["no usable config.json"]),
    "config field of the wrong type": (
        _edit_config(max_position_embeddings="many"),
        ["no usable config.json", "max_position_embeddings"],
    ),
    "config missing": (_remove("config.json"), ["has no config.json"]),
}


@pytest.mark.parametrize("case", list(BROKEN_FOLDERS))
def test_a_broken_model_folder_is_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], corpus: Path, tmp_path: Path, case: str
) -> None:
    breaking, words = BROKEN_FOLDERS[case]
    folder = tmp_path / "model"
    folder.mkdir()
    for file in MODEL.iterdir():  # the weights are linked unless the case breaks them
        if file.name == "model.safetensors" and not case.startswith("weights"):
            (folder / file.name).symlink_to(file)
        else:
            shutil.copy(file, folder / file.name)
    breaking(folder)
    line = one_error_line(capsys, ["extract", "-i", corpus, "-m", folder, "-q"])
    assert str(folder) in line
    for word in words:
        assert word in line, line


def test_a_file_given_as_the_model_folder(capsys: pytest.CaptureFixture[str], corpus: Path) -> None:
    line = one_error_line(capsys, ["extract", "-i", corpus, "-m", MODEL / "config.json"])
    assert "is a file, not a model folder" in line


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("length", ["257", "100000"])
def test_max_length_past_the_position_table_is_refused(
    capsys: pytest.CaptureFixture[str], corpus: Path, length: str
) -> None:
    arguments = ["extract", "-i", corpus, "-m", MODEL, "--max-length", length, "-q"]
    line = one_error_line(capsys, arguments)
    assert f"--max-length {length} is more than" in line
    assert "256 tokens per side" in line and "--max-length 256 or less" in line


@pytest.mark.parametrize("length", ["0", "-1"])
def test_max_length_below_one_is_refused(
    capsys: pytest.CaptureFixture[str], corpus: Path, length: str
) -> None:
    arguments = ["extract", "-i", corpus, "-m", MODEL, "--max-length", length, "-q"]
    line = one_error_line(capsys, arguments)
    assert "max_length must be a positive integer" in line and length in line


def test_max_length_at_the_position_table_works(
    capsys: pytest.CaptureFixture[str], corpus: Path
) -> None:
    code, out, err = run(capsys, ["extract", "-i", corpus, "-m", MODEL, "--max-length", "256"])
    assert code == 0, err
    assert len(out.splitlines()) == 12


def test_a_pair_longer_than_the_position_table_is_never_an_index_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    words = HELDOUT.read_text(encoding="utf-8").split("\n")[0].split("|||")
    long_pair = tmp_path / "long.src-tgt"
    long_pair.write_text(f"{words[0] * 60} ||| {words[1] * 60}\n", encoding="utf-8")
    code, out, err = run(capsys, ["extract", "-i", long_pair, "-m", MODEL, "--max-length", "256"])
    assert code == 0, err
    assert out == "\n" and "longer than the model takes" in err


@pytest.mark.parametrize("device", ["gpu", "GPU:0", "tpu", "meta", "cpu:1", "cuda:x"])
def test_a_device_that_does_not_exist_is_named(
    capsys: pytest.CaptureFixture[str], corpus: Path, device: str
) -> None:
    line = one_error_line(capsys, ["extract", "-i", corpus, "-m", MODEL, "--device", device])
    assert device in line
    assert "cpu" in line.split(device, 1)[1]  # what there is instead


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:7"])
def test_a_gpu_this_machine_lacks_is_named_exactly(
    capsys: pytest.CaptureFixture[str], corpus: Path, device: str
) -> None:
    import torch

    if torch.cuda.is_available() and int(device.partition(":")[2] or 0) < torch.cuda.device_count():
        pytest.skip(f"this machine has {device}")
    line = one_error_line(capsys, ["extract", "-i", corpus, "-m", MODEL, "--device", device])
    assert f"--device {device} " in line
    assert "this machine has: cpu" in line or "use one of cpu" in line


def test_float64_is_a_documented_dtype_and_others_are_refused(
    capsys: pytest.CaptureFixture[str], corpus: Path
) -> None:
    code, out, _ = run(capsys, ["extract", "--help"])
    assert code == 0 and "float64" in " ".join(out.split())
    code, out, err = run(capsys, ["extract", "-i", corpus, "-m", MODEL, "--dtype", "float64"])
    assert code == 0, err
    assert "dtype:float64" in err and len(out.splitlines()) == 12
    line = one_error_line(capsys, ["extract", "-i", corpus, "-m", MODEL, "--dtype", "int8"])
    assert "unknown --dtype 'int8'" in line and "float64" in line


def test_bfloat16_on_a_cpu_gives_the_links_of_float32_almost_everywhere(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # --dtype bfloat16 is what a CPU co-process uses for latency (benchmarks/README.md):
    # it may move a link where two pieces' attention is nearly tied, no more.
    outputs = {}
    for dtype in ("float32", "bfloat16"):
        out = tmp_path / f"{dtype}.pharaoh"
        code, _, err = run(capsys, ["extract", "-i", HELDOUT, "-m", MODEL, "-o", out,
                                    "--dtype", dtype, "-q"])  # fmt: skip
        assert code == 0, err
        outputs[dtype] = [set(line.split()) for line in out.read_text().splitlines()]
    full, half = outputs["float32"], outputs["bfloat16"]
    assert len(full) == len(half) == 300
    links = sum(len(line) for line in full)
    moved = sum(len(a ^ b) for a, b in zip(full, half, strict=True))
    assert links > 1500 and moved <= 0.01 * links


def test_half_precision_on_a_cpu_without_native_instructions_warns_once(
    capsys: pytest.CaptureFixture[str], corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from align_cli.model import devices, notices

    monkeypatch.setattr(devices, "cpu_has_native", lambda dtype: False)
    monkeypatch.setattr(notices, "_printed", set())
    code, out, err = run(capsys, ["extract", "-i", corpus, "-m", MODEL, "--dtype", "bfloat16"])
    assert code == 0 and len(out.splitlines()) == 12
    warnings = [line for line in err.splitlines() if "native bfloat16" in line]
    assert len(warnings) == 1 and "leave --dtype auto" in warnings[0]
    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    assert devices.slow_cpu_dtype_warning(torch.float32, cpu) is None
    assert devices.slow_cpu_dtype_warning(torch.bfloat16, gpu) is None
    monkeypatch.setattr(devices, "cpu_has_native", lambda dtype: True)
    assert devices.slow_cpu_dtype_warning(torch.bfloat16, cpu) is None
