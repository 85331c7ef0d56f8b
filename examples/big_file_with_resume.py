"""Align a big corpus, interrupt the run, and pick it up where it stopped with --resume.

A long ``xalign extract`` run can die: a preempted job, a closed laptop, Ctrl-C. While it
runs, xalign writes ``OUT.partial`` one whole window of pairs at a time, and renames it
to ``OUT`` only when every pair is in. The same command with ``--resume`` keeps the
complete windows and aligns the rest; the finished file is byte for byte what an
uninterrupted run writes. This example shows all of that on Multi30k (29,000 English-French
image captions; here the first ``--pairs`` of them)::

    xalign extract train.en train.fr -m MODEL -o train.align --window 250
    ^C                                    # interrupted: train.align.partial is left
    xalign extract train.en train.fr -m MODEL -o train.align --window 250 --resume

By default the model is a small *untrained* OPUS-MT-shaped one (the hub is not reachable
where this example is tested), which is fine here: resuming is about files, not quality.
Pass ``--model DIR`` to use a real one.

Run from anywhere: ``python examples/big_file_with_resume.py [--pairs N] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import gzip
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from _helpers import build_untrained_marian, shared_data_or_exit, xalign, xalign_command


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="A local model folder (default: an untrained one).")
    parser.add_argument("--pairs", type=int, default=3000, help="Pairs of Multi30k to align.")
    parser.add_argument("--window", type=int, default=250, help="Pairs per written window.")
    parser.add_argument("--out", type=Path, help="Where to write the files (default: temp).")
    args = parser.parse_args()

    corpora = shared_data_or_exit("corpora", "multi30k")
    out = args.out or Path(tempfile.mkdtemp(prefix="xalign-resume-"))
    out.mkdir(parents=True, exist_ok=True)

    # Two line-aligned files, as most parallel corpora come (xalign also reads *.gz as is).
    source, target = out / "train.en", out / "train.fr"
    for language, path in (("en", source), ("fr", target)):
        with gzip.open(corpora / f"train.{language}.gz", "rt", encoding="utf-8") as handle:
            lines = [next(handle) for _ in range(args.pairs)]
        path.write_text("".join(lines), encoding="utf-8")
    print(f"{args.pairs} caption pairs in {source} and {target}")

    if args.model is None:
        shared_data_or_exit("tokenizers", "opus-mt-tc-big-fr-en")
        model = build_untrained_marian(out / "untrained-opus-mt")
    else:
        model = Path(args.model)

    output = out / "train.align"
    partial = output.with_name(output.name + ".partial")
    command = ["extract", source, target, "-m", model, "-o", output, "--window", args.window]

    # 1. Start the run and stop it (as Ctrl-C would) once a few windows are on disk.
    print("\n$ xalign " + " ".join(map(str, command)) + "     # then Ctrl-C", flush=True)
    run = subprocess.Popen([*xalign_command(), *map(str, command)])
    while run.poll() is None and count_lines(partial) < 2 * args.window:
        time.sleep(0.05)
    if run.poll() is None:
        run.send_signal(signal.SIGINT)
    run.wait()
    if output.exists():
        print("(the run finished before it could be interrupted; try more --pairs)")
    else:
        print(f"interrupted: {partial.name} holds {count_lines(partial)} complete lines")

    # 2. The same command with --resume finishes the job.
    xalign(*command, "--resume")
    assert output.exists() and not partial.exists()
    print(f"{output.name}: {count_lines(output)} lines, one per pair")

    # 3. Proof: an uninterrupted run writes the very same bytes.
    reference = out / "train.uninterrupted.align"
    xalign("extract", source, target, "-m", model, "-o", reference, "--window", args.window, "-q")
    same = output.read_bytes() == reference.read_bytes()
    print(f"\nresumed output identical to an uninterrupted run: {same}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
