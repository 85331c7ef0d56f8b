"""Latency of ``xalign extract`` as a co-process, and its throughput when lines come faster
than they are aligned (issue 15, live pipes).

A client starts ``xalign extract -i - -m MODEL --input-format jsonl`` once, then:

* **latency**: writes one 20-word segment pair, waits for its answer, writes the next;
  the time from write to answer, per segment, p50 and p95 (the model loading is not
  counted: the co-process is warmed with a few segments first);
* **throughput**: writes N pairs as fast as the pipe takes them and reads the answers in a
  second thread; pairs per second from the first write to the last answer, beside the
  same N pairs from a regular file (full windows: the batch rate).

    python benchmarks/bench_live.py                       # the bundled synthetic model
    python benchmarks/bench_live.py --model opus          # an opus-mt-tc-big-sized random model
    python benchmarks/bench_live.py --model PATH --segments 200 --burst 500

``--model opus`` builds a random-weight Marian model with the configuration of
``../shared/data/tokenizers/opus-mt-tc-big-fr-en`` (its real sizes: d_model 1024, 6+6
layers, 16 heads, FFN 4096) and its tokenizer, once, into ``--cache``; ``--model
opus-base`` shrinks it to opus-mt-en-fr's sizes (d_model 512, 8 heads, FFN 2048; the same
vocabulary). Their links mean nothing; their speed is real. Their segments are real
French and English (newstest2009/2010 from ``../shared/data``, cut to ``--words`` words),
so that the real tokenizer splits them as it splits real text; the synthetic model's are
random draws from its own vocabulary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNTHETIC = ROOT / "tests" / "data" / "synthetic" / "fwd"
OPUS_CONFIG = ROOT.parent / "shared" / "data" / "tokenizers" / "opus-mt-tc-big-fr-en"


# opus-mt-en-fr's sizes (the opus-mt base models), for --model opus-base.
BASE_SIZES = {
    "d_model": 512,
    "encoder_layers": 6,
    "decoder_layers": 6,
    "encoder_attention_heads": 8,
    "decoder_attention_heads": 8,
    "encoder_ffn_dim": 2048,
    "decoder_ffn_dim": 2048,
}


def opus_sized_model(cache: Path, base: bool = False) -> Path:
    """A random Marian model of opus-mt-tc-big-fr-en's sizes (or, with ``base``, shrunk to
    opus-mt-en-fr's), with its tokenizer."""
    target = cache / ("opus-mt-base-random" if base else "opus-mt-tc-big-random")
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoTokenizer, MarianConfig, MarianMTModel

    torch.manual_seed(0)
    config = MarianConfig.from_pretrained(OPUS_CONFIG, **(BASE_SIZES if base else {}))
    model = MarianMTModel(config).eval()
    tokenizer = AutoTokenizer.from_pretrained(OPUS_CONFIG)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def news_segments(count: int, words: int, seed: int) -> list[tuple[str, str]]:
    """Pairs of real French and English segments for the opus-sized models (whose
    tokenizer is opus-mt-tc-big-fr-en's): the first ``words`` words of parallel lines of
    newstest2009/2010 with at least that many words a side, drawn at random."""
    news = ROOT.parent / "shared" / "data" / "corpora" / "newstest"
    pairs = []
    for year in ("2009", "2010"):
        french = (news / f"newstest{year}.fr").read_text(encoding="utf-8").splitlines()
        english = (news / f"newstest{year}.en").read_text(encoding="utf-8").splitlines()
        for fr, en in zip(french, english, strict=True):
            fr_words, en_words = fr.split(), en.split()
            if len(fr_words) >= words and len(en_words) >= words:
                pairs.append((" ".join(fr_words[:words]), " ".join(en_words[:words])))
    return random.Random(seed).sample(pairs, min(count, len(pairs)))


def segments(count: int, words: int, seed: int) -> list[tuple[str, str]]:
    """Pairs of ``words``-word segments from the held-out synthetic corpus's vocabulary."""
    vocab_src: list[str] = []
    vocab_tgt: list[str] = []
    for line in (
        (ROOT / "tests" / "data" / "synthetic" / "heldout.src-tgt").read_text().splitlines()
    ):
        src, _, tgt = line.partition(" ||| ")
        vocab_src += src.split()
        vocab_tgt += tgt.split()
    rng = random.Random(seed)
    return [
        (" ".join(rng.choices(vocab_src, k=words)), " ".join(rng.choices(vocab_tgt, k=words)))
        for _ in range(count)
    ]


# Options of every xalign process the benchmark starts (--dtype).
EXTRA: list[str] = []


def start(model: Path, threads: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "align_cli", "extract", "-i", "-", "-m", str(model), "-q",
        "--input-format", "jsonl", "--threads", str(threads), *EXTRA,
    ]  # fmt: skip
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, bufsize=0
    )


def request(key: int, pair: tuple[str, str]) -> bytes:
    return (json.dumps({"id": key, "src": pair[0], "tgt": pair[1]}) + "\n").encode()


def latency(model: Path, pairs: list[tuple[str, str]], threads: int, warm: int) -> list[float]:
    process = start(model, threads)
    assert process.stdin is not None and process.stdout is not None
    times = []
    for key, pair in enumerate(pairs):
        began = time.perf_counter()
        process.stdin.write(request(key, pair))
        answer = json.loads(process.stdout.readline())
        elapsed = time.perf_counter() - began
        assert answer["id"] == key
        if key >= warm:
            times.append(elapsed)
    process.stdin.close()
    process.wait()
    return times


def burst(model: Path, pairs: list[tuple[str, str]], threads: int) -> float:
    """Pairs per second when every line is written at once (after one warm-up pair)."""
    process = start(model, threads)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(request(-1, pairs[0]))
    process.stdout.readline()  # the model is loaded and warm
    done = threading.Event()

    def read() -> None:
        for _ in pairs:
            process.stdout.readline()  # type: ignore[union-attr]
        done.set()

    reader = threading.Thread(target=read)
    began = time.perf_counter()
    reader.start()
    process.stdin.write(b"".join(request(k, p) for k, p in enumerate(pairs)))
    process.stdin.close()
    reader.join()
    elapsed = time.perf_counter() - began
    process.wait()
    return len(pairs) / elapsed


def file_rate(model: Path, pairs: list[tuple[str, str]], threads: int) -> float:
    """The batch rate: the same pairs from a regular file, minus one pair's run (loading)."""
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "c.txt"
        one = Path(folder) / "one.txt"
        corpus.write_text("".join(f"{s} ||| {t}\n" for s, t in pairs))
        one.write_text(f"{pairs[0][0]} ||| {pairs[0][1]}\n")

        def run(path: Path) -> float:
            began = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "align_cli", "extract", "-i", str(path), "-m", str(model),
                 "-q", "-o", str(Path(folder) / "out"), "--force", "--threads", str(threads),
                 *EXTRA],
                check=True, cwd=ROOT,
            )  # fmt: skip
            return time.perf_counter() - began

        return (len(pairs) - 1) / max(run(corpus) - run(one), 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=str(SYNTHETIC), help="a model folder, 'opus' or 'opus-base'"
    )
    parser.add_argument("--segments", type=int, default=100)
    parser.add_argument("--words", type=int, default=20)
    parser.add_argument("--burst", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "xalign-bench")
    parser.add_argument(
        "--dtype", default="auto", help="xalign's --dtype (bfloat16 on CPUs with AVX512-BF16)"
    )
    args = parser.parse_args()
    EXTRA[:] = ["--dtype", args.dtype]
    if args.model in ("opus", "opus-base"):
        model = opus_sized_model(args.cache, base=args.model == "opus-base")
        draw = news_segments  # real text through the real OPUS tokenizer
    else:
        model = Path(args.model)
        draw = segments
    pairs = draw(args.segments + args.warm, args.words, seed=1)
    times = sorted(latency(model, pairs, args.threads, args.warm))
    p50 = statistics.median(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    many = draw(args.burst, args.words, seed=2)
    live_rate = burst(model, many, args.threads)
    batch_rate = file_rate(model, many, args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(
        f"model: {model.name}, {args.words}-word segments, {args.threads} thread(s), "
        f"--dtype {args.dtype}"
    )
    print(f"latency over {len(times)} segments: p50 {1000 * p50:.1f} ms, p95 {1000 * p95:.1f} ms")
    print(f"burst of {len(many)} pairs through the pipe: {live_rate:.1f} pairs/s")
    print(f"same pairs from a file (full windows):   {batch_rate:.1f} pairs/s")


if __name__ == "__main__":
    main()
