"""Models xalign cannot use fail through the real CLI with one line that says what to do.

Each case runs ``align_cli.cli.main`` (the console script's entry point) and checks: exit
code 2, exactly one line on stderr starting ``xalign: error:``, no traceback, and the
words that tell the user what to do next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from align_cli.cli import main
from tests.families import FamilyModels

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread


@pytest.fixture
def corpus(tmp_path: Path) -> list[str]:
    (tmp_path / "src.txt").write_text("the cat sleeps\n", encoding="utf-8")
    (tmp_path / "tgt.txt").write_text("le chat dort\n", encoding="utf-8")
    return [str(tmp_path / "src.txt"), str(tmp_path / "tgt.txt")]


def run_failing(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> str:
    """Run the CLI, expect exit code 2 and return its single stderr line."""
    with pytest.raises(SystemExit) as stopped:
        main(arguments)
    captured = capsys.readouterr()
    assert stopped.value.code == 2, captured.err
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("xalign: error: ")
    assert captured.out == ""
    return lines[0]


def test_unreachable_hub_id_says_how_to_use_a_local_copy(
    capsys: pytest.CaptureFixture[str], corpus: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    # Offline mode, as on a machine without network: no request is even tried.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    line = run_failing(
        capsys, ["extract", *corpus, "--model", "xalign-tests/no-such-model", "--quiet"]
    )
    assert "xalign-tests/no-such-model" in line
    assert "--local-dir" in line and "--model DIR" in line


def test_opus_shorthand_names_the_expanded_hub_id(
    capsys: pytest.CaptureFixture[str], corpus: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    line = run_failing(capsys, ["extract", *corpus, "--model", "opus-mt-xx-yy", "-q"])
    assert "Helsinki-NLP/opus-mt-xx-yy" in line


def test_decoder_only_model_is_refused(
    capsys: pytest.CaptureFixture[str], corpus: list[str], tmp_path: Path
) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path / "gpt2"
    config = GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=64, n_positions=32)
    GPT2LMHeadModel(config).save_pretrained(folder)
    line = run_failing(capsys, ["extract", *corpus, "--model", str(folder), "-q"])
    assert "'gpt2'" in line
    assert "cross-attention" in line
    assert "use a translation model" in line and "encoder" in line


def _bert2bert(folder: Path) -> None:
    """A BERT-to-BERT EncoderDecoderModel: seq2seq, but its decoder is a BERT stack."""
    from transformers import BertConfig, BertTokenizer, EncoderDecoderConfig, EncoderDecoderModel

    sizes = {
        "vocab_size": 16,
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 32,
    }
    config = EncoderDecoderConfig.from_encoder_decoder_configs(
        BertConfig(**sizes), BertConfig(**sizes, is_decoder=True, add_cross_attention=True)
    )
    config.decoder_start_token_id = 2
    config.pad_token_id = 0
    EncoderDecoderModel(config=config).save_pretrained(folder)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "le", "chat"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)


def test_seq2seq_model_without_a_known_decoder_layout(
    capsys: pytest.CaptureFixture[str], corpus: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "bert2bert"
    _bert2bert(folder)
    line = run_failing(capsys, ["extract", *corpus, "--model", str(folder), "-q"])
    assert "EncoderDecoderModel" in line
    assert "Marian" in line and "use one of those" in line


def test_unknown_model_type(
    capsys: pytest.CaptureFixture[str], corpus: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "custom"
    folder.mkdir()
    (folder / "config.json").write_text(
        '{"model_type": "xalign-test-seq2seq", "is_encoder_decoder": true}', encoding="utf-8"
    )
    line = run_failing(capsys, ["extract", *corpus, "--model", str(folder), "-q"])
    assert "'xalign-test-seq2seq'" in line
    assert "upgrade transformers" in line and "--trust-remote-code" in line


@pytest.mark.parametrize(
    ("family", "options", "bad_code", "suggestion"),
    [
        ("m2m100", ["--src-lang", "xx", "--tgt-lang", "fr"], "xx", None),
        # M2M100 accepts any tgt_lang until a target is encoded (then a KeyError).
        ("m2m100", ["--src-lang", "en", "--tgt-lang", "fra"], "fra", "fr"),
        # NLLB would silently use the ordinary piece "en" as the language token.
        ("nllb", ["--src-lang", "en", "--tgt-lang", "fra_Latn"], "en", "eng_Latn"),
        ("nllb", ["--src-lang", "eng_Latn", "--tgt-lang", "fra_Lat"], "fra_Lat", "fra_Latn"),
        ("mbart50", ["--src-lang", "en", "--tgt-lang", "fr_XX"], "en", "en_XX"),
    ],
)
def test_wrong_language_code(
    capsys: pytest.CaptureFixture[str],
    corpus: list[str],
    family_models: FamilyModels,
    family: str,
    options: list[str],
    bad_code: str,
    suggestion: str | None,
) -> None:
    folder = family_models.folder(family)
    line = run_failing(capsys, ["extract", *corpus, "--model", str(folder), *options, "-q"])
    option = "--src-lang" if options[1] == bad_code else "--tgt-lang"
    assert f"unknown language code {bad_code!r} for {option}" in line
    if suggestion is not None:
        assert f"did you mean {suggestion}" in line


def test_language_option_for_a_model_without_languages(
    capsys: pytest.CaptureFixture[str], corpus: list[str], family_models: FamilyModels
) -> None:
    folder = family_models.folder("t5")
    line = run_failing(capsys, ["extract", *corpus, "--model", str(folder), "--src-lang", "en"])
    assert "takes no --src-lang" in line


def test_right_language_codes_work(
    capsys: pytest.CaptureFixture[str], corpus: list[str], family_models: FamilyModels
) -> None:
    folder = family_models.folder("nllb")
    arguments = ["--src-lang", "eng_Latn", "--tgt-lang", "fra_Latn", "-q"]
    main(["extract", *corpus, "--model", str(folder), *arguments])
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and captured.err == ""


@pytest.mark.parametrize("flag", [[], ["--trust-remote-code"]])
def test_trust_remote_code_is_off_unless_asked_for(
    capsys: pytest.CaptureFixture[str],
    corpus: list[str],
    family_models: FamilyModels,
    monkeypatch: pytest.MonkeyPatch,
    flag: list[str],
) -> None:
    import transformers

    folder = family_models.folder("m2m100")
    seen: list[tuple[str, Any]] = []
    for name in ("AutoConfig", "AutoModelForSeq2SeqLM", "AutoTokenizer"):
        auto_class = getattr(transformers, name)
        original = auto_class.from_pretrained

        def recording(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any):
            seen.append((_name, kwargs.get("trust_remote_code", "not passed")))
            return _original(*args, **kwargs)

        monkeypatch.setattr(auto_class, "from_pretrained", recording)
    options = ["--src-lang", "en", "--tgt-lang", "fr", "-q"]
    main(["extract", *corpus, "--model", str(folder), *options, *flag])
    assert capsys.readouterr().err == ""
    assert {name for name, _ in seen} == {"AutoConfig", "AutoModelForSeq2SeqLM", "AutoTokenizer"}
    assert all(value is bool(flag) for _, value in seen), seen
