"""Pairs per second of the embedding path: xalign vs simalign vs awesome-align.

Model: an mBERT-sized BERT with random weights, built from a config (hidden 768, 12
layers, 12 heads, FFN 3072, vocabulary 119,547, 512 positions: bert-base-multilingual-cased's
shape) and a cased WordPiece vocabulary trained here on newstest en+fr+de with mBERT's
special-token ids. Nothing is downloaded. Corpus: news-test2008 English-French, the first
``--pairs`` lines, split on whitespace. Every system aligns the same pairs with the same
weights and layer 8:

* ``xalign``: ``EmbeddingAligner.align_texts`` end to end (tokenize, length-sorted batches,
  forward up to layer 8, batched similarity, extraction), once per extraction method;
* ``simalign``: ``SentenceAligner.get_word_aligns`` pair by pair, as its API works, with one
  matching method at a time (``"a"`` = inter, ``"i"`` = itermax, ``"m"`` = match);
* ``awesome-align``: its own ``run_align.word_align`` loop (its DataLoader, batch size 32,
  softmax threshold 0.001), with the same weights loaded into its BertForMaskedLM.

It also times ``forward passes only``: xalign's own length-sorted batches through the
model up to layer 8 and nothing else, the floor for any implementation of the method in
that dtype. xalign runs in each of ``--dtypes`` (the references always run in float32, the
only dtype their APIs offer); ``float32-mkl`` is float32 with xalign's oneDNN routing of
the linear layers turned off (``XALIGN_CPU_LINEAR=torch``), i.e. PyTorch's default MKL
kernels, which simalign and awesome-align use. Every line says how many pairs got exactly
the links of xalign in the first dtype. Times exclude model loading and a warm-up. Run
from the repository root::

    python benchmarks/bench_embedding.py [--pairs 1000] [--threads 2]
    python benchmarks/bench_embedding.py --device cuda --pairs 2000 --dtypes bfloat16 float32

On the CPU with one thread (``--threads 1``) the rates are pairs per second of *process
CPU time*: on a machine shared with other jobs, wall time measures the neighbours as much
as the code. With more threads they are wall time (process time would count the OpenMP
threads' spin-waiting), so run it on an idle machine. On a GPU the rates are wall time.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
NEWSTEST = SHARED / "corpora" / "newstest"
MBERT_VOCAB = 119_547


def read_pairs(count: int) -> list[tuple[list[str], list[str]]]:
    def lines(language: str) -> list[str]:
        text = (NEWSTEST / f"news-test2008.{language}").read_text(encoding="utf-8")
        return text.split("\n")[:count]

    return [
        (src.split(), tgt.split())
        for src, tgt in zip(lines("en"), lines("fr"), strict=True)
        if src.split() and tgt.split()
    ]


def build_model(folder: Path) -> None:
    """Save the random-weight mBERT-sized model, its tokenizer and awesome-align's vocab.txt."""
    from transformers import BertConfig, BertModel

    from tests.embedding_fixtures import train_wordpiece

    texts: list[str] = []
    for name in ("newstest2009", "newstest2010"):
        for language in ("en", "fr", "de"):
            path = NEWSTEST / f"{name}.{language}"
            texts.extend(path.read_text(encoding="utf-8").split("\n"))
    tokenizer = train_wordpiece(texts, vocab_size=30_000)
    config = BertConfig(
        vocab_size=MBERT_VOCAB,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    vocab = tokenizer.get_vocab()
    pieces = sorted(vocab, key=vocab.__getitem__)
    (folder / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf-8")


_CLOCK = time.process_time  # main() sets perf_counter on a GPU or with several threads


def timed(run: Callable[[], object]) -> tuple[float, object]:
    """Seconds ``run`` took: this process's CPU time with one CPU thread, else wall time.

    On a CPU shared with other jobs, wall time measures the neighbours as much as the
    code; with one thread, process CPU time is what the alignment itself cost.
    """
    _sync()
    start = _CLOCK()
    out = run()
    _sync()
    return _CLOCK() - start, out


METHODS = (
    ("subword", "inter"),
    ("subword", "itermax"),
    ("subword", "match"),
    ("subword", "softmax_threshold"),
    ("word", "inter"),
)


def bench_xalign(folder: Path, pairs, args, dtype: str) -> dict[str, tuple[float, list]]:
    """Seconds and links per method, plus ``floor``: the bare forward passes alone."""
    from align_cli.aligners.embedding import EmbeddingAligner
    from align_cli.model.kernels.cpu_linear import ENV_VAR as CPU_LINEAR_ENV
    from align_cli.model.loading import load_model
    from align_cli.settings import BatchingSettings, EmbeddingSettings

    if dtype == "float32-mkl":
        os.environ[CPU_LINEAR_ENV] = "torch"
    try:
        loaded = load_model(str(folder), device=args.device, dtype=dtype.removesuffix("-mkl"))
    finally:
        os.environ.pop(CPU_LINEAR_ENV, None)
    print(f"xalign {dtype}: linear layers run on {loaded.linear_backend}", flush=True)
    batching = BatchingSettings(batch_size=args.batch_size, max_tokens=args.max_tokens)
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    out: dict[str, tuple[float, list]] = {}
    methods = METHODS if dtype == args.dtypes[0] else METHODS[:1]
    for granularity, method in methods:
        aligner = EmbeddingAligner(
            loaded, EmbeddingSettings(granularity=granularity, method=method), batching
        )
        aligner.align_texts(sources[:8], targets[:8])  # warm-up
        seconds, results = timed(lambda a=aligner: a.align_texts(sources, targets))
        out[f"{method}/{granularity}"] = (seconds, [r.links for r in results])
    out["floor"] = (forward_floor(aligner, pairs), [])
    return out


def forward_floor(aligner, pairs) -> float:
    """The same length-sorted sentence batches through the model up to layer 8, no more."""
    from align_cli.stages.batching import EncodedPair
    from align_cli.types import SentencePair

    encode = aligner.encoder.encode
    todo = [
        (k, EncodedPair(SentencePair(k, tuple(s), tuple(t)), encode(s), encode(t)))
        for k, (s, t) in enumerate(pairs)
    ]
    todo.sort(key=lambda item: item[1].width)
    chunks = [[e for _, e in chunk] for chunk in aligner._chunks(todo)]
    seconds, _ = timed(
        lambda: [aligner._embed([e.src for e in c] + [e.tgt for e in c]) for c in chunks]
    )
    return seconds


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def bench_simalign(folder: Path, pairs, args) -> dict[str, tuple[float, list]]:
    from simalign import SentenceAligner

    logging.getLogger("simalign.simalign").setLevel(logging.WARNING)
    device = "cuda" if args.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    out: dict[str, tuple[float, list]] = {}
    for letter, key, name in (
        ("a", "inter", "inter"),
        ("i", "itermax", "itermax"),
        ("m", "mwmf", "match"),
    ):
        aligner = SentenceAligner(
            model=str(folder), token_type="bpe", matching_methods=letter, device=device
        )
        aligner.get_word_aligns(*pairs[0])  # warm-up
        seconds, results = timed(
            lambda a=aligner, k=key: [a.get_word_aligns(s, t)[k] for s, t in pairs]
        )
        out[f"{name}/subword"] = (seconds, [[tuple(x) for x in r] for r in results])
    return out


def bench_awesome(folder: Path, pairs, args) -> tuple[float, list]:
    from awesome_align import run_align
    from awesome_align.configuration_bert import BertConfig
    from awesome_align.modeling import BertForMaskedLM
    from awesome_align.tokenization_bert import BertTokenizer
    from safetensors.torch import load_file

    config = BertConfig.from_pretrained(str(folder))
    model = BertForMaskedLM(config)
    state = load_file(folder / "model.safetensors")
    missing, _ = model.bert.load_state_dict(state, strict=False)
    if any(not name.startswith("pooler") for name in missing):
        raise SystemExit(f"awesome-align's BERT did not take the weights: {missing[:5]}")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"), do_lower_case=False)
    device = "cuda" if args.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.write_text(
            "".join(f"{' '.join(s)} ||| {' '.join(t)}\n" for s, t in pairs), encoding="utf-8"
        )
        run_args = types.SimpleNamespace(
            data_file=str(corpus),
            output_file=str(Path(tmp) / "out"),
            output_prob_file=None,
            output_word_file=None,
            num_workers=0,
            batch_size=32,
            device=device,
            align_layer=8,
            extraction="softmax",
            softmax_threshold=1e-3,
        )
        warm = dict(vars(run_args), data_file=str(Path(tmp) / "warm"))
        Path(warm["data_file"]).write_text(corpus.read_text().split("\n", 1)[0] + "\n")
        run_align.word_align(types.SimpleNamespace(**warm), model, tokenizer)
        seconds, _ = timed(lambda: run_align.word_align(run_args, model, tokenizer))
        lines = (Path(tmp) / "out").read_text(encoding="utf-8").split("\n")[: len(pairs)]
    links = [sorted(tuple(map(int, x.split("-"))) for x in line.split()) for line in lines]
    return seconds, links


def agreement(ours: list, theirs: list) -> str:
    same = sum(a == b for a, b in zip(ours, theirs, strict=False))
    return f"{same}/{len(theirs)} pairs identical"


def main() -> None:
    global _CLOCK
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--dtypes",
        nargs="+",
        default=["float32", "float32-mkl", "bfloat16"],
        help="xalign's dtypes; the first is timed for every method and compared with the "
        "references (which run in float32), the others for inter only",
    )
    # After sys.path has the repository:
    from align_cli.settings import BatchingSettings

    # xalign's own defaults unless told otherwise.
    parser.add_argument("--batch-size", type=int, default=BatchingSettings().batch_size)
    parser.add_argument("--max-tokens", type=int, default=BatchingSettings().max_tokens)
    parser.add_argument(
        "--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "xalign-bench-mbert"
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=["simalign", "awesome"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not (args.model_dir / "config.json").exists():
        args.model_dir.mkdir(parents=True, exist_ok=True)
        seconds, _ = timed(lambda: build_model(args.model_dir))
        print(f"built the model in {args.model_dir}")
    pairs = read_pairs(args.pairs)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    words = sum(len(s) + len(t) for s, t in pairs)
    pieces = sum(len(tokenizer(s + t, is_split_into_words=True)["input_ids"]) - 2 for s, t in pairs)
    cuda = args.device in ("auto", "cuda") and torch.cuda.is_available()
    if cuda or args.threads > 1:
        _CLOCK = time.perf_counter
    clock = "process CPU time" if _CLOCK is time.process_time else "wall time"
    where = f"{torch.cuda.get_device_name()}" if cuda else f"CPU, {args.threads} thread(s)"
    where += f" ({clock})"
    print(
        f"{len(pairs)} pairs of news-test2008 en-fr, {pieces / words:.2f} pieces per word; "
        f"{where}; load average {os.getloadavg()[0]:.1f}; batch size {args.batch_size}"
    )

    runs = {dtype: bench_xalign(args.model_dir, pairs, args, dtype) for dtype in args.dtypes}
    ours = runs[args.dtypes[0]]
    for dtype, results in runs.items():
        for name, (seconds, links) in results.items():
            note = ""
            if dtype != args.dtypes[0] and links:
                note = f"; vs {args.dtypes[0]}: {agreement(links, ours[name][1])}"
            label = "forward passes only" if name == "floor" else name
            print(f"xalign    {dtype:9s} {label:26s} {len(pairs) / seconds:8.1f} pairs/s{note}")

    def compare(system: str, name: str, count: int, seconds: float, links: list) -> None:
        rate = count / seconds
        speedups = ", ".join(
            f"{dtype} {len(pairs) / runs[dtype][name][0] / rate:.1f}x"
            for dtype in args.dtypes
            if name in runs[dtype]
        )
        print(
            f"{system:9s} {'float32':9s} {name:26s} {rate:8.1f} pairs/s; xalign {speedups}; "
            f"links vs xalign {args.dtypes[0]}: {agreement(ours[name][1], links)}"
        )

    if "awesome" not in args.skip:
        seconds, links = bench_awesome(args.model_dir, pairs, args)
        compare("awesome", "softmax_threshold/subword", len(pairs), seconds, links)
    if "simalign" not in args.skip:
        reference = bench_simalign(args.model_dir, pairs, args)
        for name, (seconds, links) in reference.items():
            compare("simalign", name, len(links), seconds, links)


if __name__ == "__main__":
    main()
