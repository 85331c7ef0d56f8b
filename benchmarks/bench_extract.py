"""Pairs per second on this machine: xalign end to end vs the bare forward pass vs naive.

Model: an opus-mt-en-fr-sized MarianMT with random weights (d_model 512, 6+6 layers,
8 heads, FFN 2048, vocab 59514) and the real OPUS-MT SentencePiece tokenizer from
../shared/data/tokenizers; corpus: WMT newstest (French source, English target).

* ``xalign``: read files, tokenize, forward, aggregate, extract, write Pharaoh lines;
* ``floor``: the same batches through the encoder and the decoder up to the alignment
  layer, nothing else (no tokenization, no LM head) — the unavoidable cost;
* ``naive``: the full model with ``output_attentions=True`` (eager attention, LM head,
  every layer), then the same aggregation — what a straightforward script does;
* ``xalign-mkl`` (CPU only): xalign with its oneDNN routing of float32 linear layers
  turned off (``XALIGN_CPU_LINEAR=torch``), on PyTorch's default MKL kernels as ``naive``.

Run: python benchmarks/bench_extract.py [--pairs 1000] [--threads 2]
(each variant runs in its own process, so its peak RSS is its own)
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from align_cli.model.kernels.cpu_linear import ENV_VAR as CPU_LINEAR_ENV
from align_cli.settings import BatchingSettings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TOKENIZER = SHARED / "tokenizers" / "opus-mt-tc-big-fr-en"
NEWSTEST = SHARED / "corpora" / "newstest"


def build_model(folder: Path) -> None:
    from transformers import AutoTokenizer, MarianConfig, MarianMTModel

    config = MarianConfig.from_pretrained(TOKENIZER)
    config.update(
        {
            "d_model": 512,
            "encoder_layers": 6,
            "decoder_layers": 6,
            "encoder_attention_heads": 8,
            "decoder_attention_heads": 8,
            "encoder_ffn_dim": 2048,
            "decoder_ffn_dim": 2048,
            "vocab_size": 59514,
            "decoder_vocab_size": 59514,
            "pad_token_id": 59513,
            "decoder_start_token_id": 59513,
            "dtype": "float32",
        }
    )
    torch.manual_seed(0)
    MarianMTModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(TOKENIZER).save_pretrained(folder)


def corpus(n_pairs: int, folder: Path) -> tuple[Path, Path]:
    sources, targets = [], []
    for name in ("news-test2008", "newstest2009", "newstest2010"):
        fr = (NEWSTEST / f"{name}.fr").read_text(encoding="utf-8").split("\n")
        en = (NEWSTEST / f"{name}.en").read_text(encoding="utf-8").split("\n")
        for s, t in zip(fr, en, strict=True):
            if s.strip() and t.strip():
                sources.append(s.strip())
                targets.append(t.strip())
    while len(sources) < n_pairs:  # replicate when more pairs are asked than newstest has
        sources, targets = sources + sources, targets + targets
    src, tgt = folder / "bench.fr", folder / "bench.en"
    src.write_text("\n".join(sources[:n_pairs]) + "\n", encoding="utf-8")
    tgt.write_text("\n".join(targets[:n_pairs]) + "\n", encoding="utf-8")
    return src, tgt


# Set from the command line; module-level so every variant sees the same choice.
DEVICE = "cpu"
DTYPE = "auto"
BATCHING = BatchingSettings()


def synchronize() -> None:
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_xalign(model_dir: Path, src: Path, tgt: Path, out: Path) -> float:
    from align_cli.aligners.attention import AttentionAligner
    from align_cli.io.corpus import read_parallel
    from align_cli.io.formats import format_pharaoh
    from align_cli.model.loading import load_model

    aligner = AttentionAligner(
        load_model(str(model_dir), device=DEVICE, dtype=DTYPE), batching=BATCHING
    )
    start = time.perf_counter()
    with open(out, "w", encoding="utf-8") as handle:
        for result in aligner.align_pairs(read_parallel(src, tgt)):
            handle.write(format_pharaoh(result.links) + "\n")
    synchronize()
    return time.perf_counter() - start


def batches_like_xalign(model_dir: Path, src: Path, tgt: Path):
    """The exact batches xalign builds, as padded id tensors (tokenization not timed)."""
    import numpy as np

    from align_cli.aligners.attention import AttentionAligner
    from align_cli.io.corpus import read_parallel
    from align_cli.model.loading import load_model
    from align_cli.stages.batching import EncodedPair, pad

    loaded = load_model(str(model_dir), device=DEVICE, dtype=DTYPE)
    aligner = AttentionAligner(loaded, batching=BATCHING)
    todo = []
    for pair in read_parallel(src, tgt):
        encoded = EncodedPair(
            pair,
            aligner.encoder.source.encode(pair.src_words),
            aligner.encoder.target.encode(pair.tgt_words),
        )
        todo.append((pair.index, encoded))
    batches = []
    for window_start in range(0, len(todo), aligner.batching.window):
        window = sorted(
            todo[window_start : window_start + aligner.batching.window],
            key=lambda item: item[1].cost,
        )
        for batch in aligner._batches(window):
            encoded = [e for _, e in batch]
            src_ids = pad([e.src.ids for e in encoded], aligner.pad_id)
            src_mask = pad([np.ones_like(e.src.ids) for e in encoded], 0)
            dec = pad(
                [np.concatenate(([aligner.start_id], e.tgt.ids)) for e in encoded], aligner.pad_id
            )
            batches.append((src_ids, src_mask, dec))
    return loaded, aligner, batches


def run_floor(model_dir: Path, src: Path, tgt: Path) -> float:
    loaded, aligner, batches = batches_like_xalign(model_dir, src, tgt)
    model = loaded.model
    decoder = model.get_decoder()
    last = aligner.reader.layers[-1]
    decoder.layers = decoder.layers[: last + 1]  # the layers the alignment needs, no more
    start = time.perf_counter()
    with torch.inference_mode():
        for src_ids, src_mask, dec in batches:
            src_ids, src_mask, dec = (t.to(loaded.device) for t in (src_ids, src_mask, dec))
            states = model.get_encoder()(input_ids=src_ids, attention_mask=src_mask)[0]
            decoder(
                input_ids=dec,
                encoder_hidden_states=states,
                encoder_attention_mask=src_mask,
                use_cache=False,
            )
    synchronize()
    return time.perf_counter() - start


def run_naive(model_dir: Path, src: Path, tgt: Path) -> float:
    from transformers import AutoModelForSeq2SeqLM

    from align_cli.stages.aggregation import WordMaps, word_scores

    loaded, aligner, batches = batches_like_xalign(model_dir, src, tgt)
    model = (
        AutoModelForSeq2SeqLM.from_pretrained(
            model_dir, attn_implementation="eager", dtype=loaded.dtype
        )
        .to(loaded.device)
        .eval()
    )
    layer = aligner.reader.layers[-1]
    start = time.perf_counter()
    with torch.inference_mode():
        for src_ids, src_mask, dec in batches:
            src_ids, src_mask, dec = (t.to(loaded.device) for t in (src_ids, src_mask, dec))
            out = model(
                input_ids=src_ids,
                attention_mask=src_mask,
                decoder_input_ids=dec,
                output_attentions=True,
            )
            attention = out.cross_attentions[layer].mean(dim=1)
            # the same word pooling as xalign, so only the forward pass differs
            maps = WordMaps(torch.zeros_like(src_ids), torch.zeros_like(dec[:, 1:]), 1, 1)
            word_scores(attention, maps, shift=False, pooling="mean")
    synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default="auto", help="auto = float32 on CPU, bf16 on GPU")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=3000)
    parser.add_argument("--only", choices=["xalign", "xalign-mkl", "floor", "naive"])
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    global DEVICE, DTYPE, BATCHING
    DEVICE, DTYPE = args.device, args.dtype
    BATCHING = BatchingSettings(batch_size=args.batch_size, max_tokens=args.max_tokens)
    if args.only:
        # One variant in this process, so that its peak RSS is its own.
        folder = args.workdir
        src, tgt = folder / "bench.fr", folder / "bench.en"
        if args.only == "xalign-mkl":
            os.environ[CPU_LINEAR_ENV] = "torch"
        runs = {
            "xalign": lambda: run_xalign(folder / "model", src, tgt, folder / "out"),
            "xalign-mkl": lambda: run_xalign(folder / "model", src, tgt, folder / "out"),
            "floor": lambda: run_floor(folder / "model", src, tgt),
            "naive": lambda: run_naive(folder / "model", src, tgt),
        }
        seconds = runs[args.only]()
        print(f"| {args.only} | {args.pairs / seconds:.1f} | {seconds:.1f} | {peak_rss_mb():.0f} |")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build_model(folder / "model")
        corpus(args.pairs, folder)
        print(f"pairs: {args.pairs}  threads: {args.threads}  torch: {torch.__version__}")
        print("| variant | pairs/s | seconds | peak RSS MB |\n|---|---|---|---|", flush=True)
        variants = ("xalign", "xalign-mkl", "floor", "naive")
        for name in variants if args.device == "cpu" else ("xalign", "floor", "naive"):
            command = [
                sys.executable,
                __file__,
                "--only",
                name,
                "--pairs",
                str(args.pairs),
                "--threads",
                str(args.threads),
                "--device",
                args.device,
                "--dtype",
                args.dtype,
                "--batch-size",
                str(args.batch_size),
                "--max-tokens",
                str(args.max_tokens),
                "--workdir",
                str(folder),
            ]
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
