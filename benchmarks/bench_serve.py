"""``xalign serve`` under load and under abuse, on loopback only, bounded in time.

Model and pairs: the bundled synthetic MarianMT (``tests/data/synthetic/fwd``) and its
300 held-out pairs (repeated to ``--pairs``). Clients are threads of this process, each
with its own keep-alive connection (``http.client``), sending one pair per request, as a
translation tool sends segments; the server is ``xalign serve`` in its own process.

1. **Throughput**: the same pairs through ``xalign extract``'s aligning loop (the model
   loaded: read, align in length-sorted batches, write Pharaoh, three passes in its own
   process) and through the server with 1, 4 and 16 concurrent clients, in rounds
   (extract, then the three levels) so that each server number is compared with an
   extract number measured just before it: pairs/s, the ratio, p50 and p99 latency, and
   each process's CPU time per pair (less sensitive than wall time to other work on a
   shared machine).
2. **Soak**: 16 clients for ``--soak-seconds``; the server's resident memory every few
   seconds.
3. **Faults**, on a second server with a small queue and a short body timeout, each while
   4 well-behaved clients keep sending: malformed and oversized bodies, slow clients, clients
   that disconnect mid-request, a burst that overfills the queue. For each, what the bad
   clients got and whether the good ones kept getting 200s. And SIGTERM under 16 clients
   on the first server, checked against its own count of accepted and answered requests.

Run: python benchmarks/bench_serve.py [--pairs 300] [--soak-seconds 150] [--json FILE]
Results go to stdout as Markdown tables (copy them into benchmarks/README.md, with the
machine). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT / "tests" / "data" / "synthetic"
MODEL = str(SYNTHETIC / "fwd")
LISTENING = re.compile(r"listening on http://([\d.]+):(\d+)/")
STOPPED = re.compile(r"stopped: (\d+) alignment jobs accepted, (\d+) answered, (\d+) abandoned")


def heldout(count: int) -> list[tuple[str, str]]:
    lines = (SYNTHETIC / "heldout.src-tgt").read_text(encoding="utf-8").splitlines()
    pairs = [tuple(part.strip() for part in line.split("|||")) for line in lines]
    return [pairs[k % len(pairs)] for k in range(count)]  # type: ignore[misc]


# --------------------------------------------------------------------------- extract


def baseline_child(path: str, threads: int | None, model: str) -> None:
    """In its own process: load the model, then align every pair of ``path`` once, as
    ``xalign extract`` does after loading (read, align in sorted batches, write Pharaoh)."""
    import torch

    from align_cli.aligners.factory import build_aligner
    from align_cli.io.corpus import read_corpus
    from align_cli.io.formats import format_pharaoh
    from align_cli.settings import AlignerSpec

    if threads is not None:
        torch.set_num_threads(threads)  # what `xalign extract --threads N` does
    started = time.perf_counter()
    aligner = build_aligner(AlignerSpec(model=model))
    loaded = time.perf_counter()
    walls, cpus = [], []
    # Several passes: on a shared machine one pass can be slowed by other processes.
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        with open(os.devnull, "w") as sink:
            for result in aligner.align_pairs(read_corpus([path])):
                sink.write(format_pharaoh(result.links) + "\n")
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    print(json.dumps({"load_s": loaded - started, "wall_s": walls, "cpu_s": cpus}))


def run_baseline(path: Path, threads: int | None, model: str) -> dict:
    extra = [] if threads is None else ["--threads", str(threads)]
    out = subprocess.run(
        [sys.executable, __file__, "--baseline-child", str(path), "--model", model, *extra],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the server


class Server:
    def __init__(self, model: str, *options: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "align_cli", "serve", "-m", model, "--port", "0", *options],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.address: tuple[str, int] | None = None
        ready = threading.Event()

        def read() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.lines.append(line.rstrip())
                match = LISTENING.search(line)
                if match:
                    self.address = (match.group(1), int(match.group(2)))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not ready.wait(180) or self.address is None:
            self.process.kill()
            raise RuntimeError("the server did not start:\n" + "\n".join(self.lines))

    def cpu_s(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(120)
        self.reader.join(30)
        return code, "\n".join(self.lines)


def align_body(pairs: list[tuple[str, str]]) -> bytes:
    return json.dumps({"pairs": [{"source": s, "target": t} for s, t in pairs]}).encode()


# Answers with status 200 per server address, over the whole life of the server: the
# server's own count of answered jobs must equal it after SIGTERM.
OK_ANSWERS: Counter = Counter()


@dataclass
class Load:
    """Clients sending single-pair requests; what each request got and how long it took."""

    address: tuple[str, int]
    clients: int
    cycle: list[tuple[str, str]] = field(default_factory=lambda: heldout(300))
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, pairs: list[tuple[str, str]] | None, until: Callable[[], bool] | None) -> float:
        """Send every pair of ``pairs`` once (or cycle until ``until()``); returns the wall
        time."""
        work = iter(pairs) if pairs is not None else None
        cycle = self.cycle
        take = threading.Lock()
        counter = iter(range(10**9))

        def next_pair() -> tuple[str, str] | None:
            with take:
                if work is not None:
                    return next(work, None)
                if until is not None and until():
                    return None
                return cycle[next(counter) % len(cycle)]

        def client() -> None:
            connection = http.client.HTTPConnection(*self.address, timeout=120)
            while (pair := next_pair()) is not None:
                started = time.perf_counter()
                try:
                    connection.request(
                        "POST", "/align", align_body([pair]), {"Content-Type": "application/json"}
                    )
                    response = connection.getresponse()
                    response.read()
                    status: object = response.status
                    if response.getheader("Connection", "").lower() == "close":
                        connection.close()
                except (OSError, http.client.HTTPException) as error:
                    status = type(error).__name__
                    connection.close()
                    connection = http.client.HTTPConnection(*self.address, timeout=120)
                elapsed = time.perf_counter() - started
                with self.lock:
                    self.statuses[status] += 1
                    if status == 200:
                        self.latencies.append(elapsed)
                        OK_ANSWERS[self.address] += 1
            connection.close()

        threads = [threading.Thread(target=client) for _ in range(self.clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def background(
    address: tuple[str, int], clients: int, cycle: list[tuple[str, str]]
) -> tuple[Load, Callable[[], None]]:
    """Well-behaved clients running until the returned stop() is called."""
    stop = threading.Event()
    load = Load(address, clients, cycle)
    thread = threading.Thread(target=load.run, args=(None, stop.is_set))
    thread.start()

    def finish() -> None:
        stop.set()
        thread.join()

    return load, finish


# --------------------------------------------------------------------------- faults


def raw(address: tuple[str, int], data: bytes, *, read: bool = True, timeout: float = 30) -> str:
    """Send bytes on a fresh connection; the status line of the answer (or what happened)."""
    try:
        with socket.create_connection(address, timeout=timeout) as sock:
            # The server may answer (413) and close before the whole body is sent.
            with contextlib.suppress(OSError):
                sock.sendall(data)
            if not read:
                return "sent, closed"
            answer = sock.recv(65536).decode("latin-1")
            return answer.split("\r\n", 1)[0].split(" ", 2)[1] if answer else "closed"
    except OSError as error:
        return type(error).__name__


def post_bytes(body: bytes, length: int | None = None) -> bytes:
    length = len(body) if length is None else length
    return (
        b"POST /align HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {length}\r\n\r\n".encode()
        + body
    )


def concurrently(count: int, action: Callable[[int], str]) -> Counter:
    results: Counter = Counter()
    lock = threading.Lock()

    def run(n: int) -> None:
        outcome = action(n)
        with lock:
            results[outcome] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def fault_tests(
    rows: list[list[str]], threads: list[str], model: str, pairs: list[tuple[str, str]]
) -> None:
    server = Server(
        model, "--max-queue", "32", "--max-pairs", "16", "--body-timeout", "2", *threads
    )
    address = server.address
    assert address is not None
    body = align_body(pairs[:1])
    four = align_body(pairs[:4])

    def phase(name: str, bad: Callable[[], Counter]) -> None:
        good, finish = background(address, 4, pairs)
        time.sleep(1)
        outcome = bad()
        time.sleep(1)
        finish()
        after = raw(address, post_bytes(body))
        rows.append(
            [
                name,
                ", ".join(f"{k}: {v}" for k, v in sorted(outcome.items(), key=str)),
                ", ".join(f"{k}: {v}" for k, v in sorted(good.statuses.items(), key=str)),
                f"{good.percentile(0.5) * 1000:.0f} / {good.percentile(0.99) * 1000:.0f}",
                after,
            ]
        )

    phase(
        "200 malformed JSON bodies",
        lambda: concurrently(200, lambda n: raw(address, post_bytes(b'{"pairs": [' * (n + 1)))),
    )
    big = b'{"pairs": [' + b'{"source": "a", "target": "b"},' * 70_000 + b"]}"
    phase(
        f"50 oversized bodies ({len(big) / 1e6:.1f} MB, over the 1 MB limit)",
        lambda: concurrently(50, lambda n: raw(address, post_bytes(big))),
    )
    phase(
        "20 slow clients (send 10 bytes of the body, then stall)",
        lambda: concurrently(20, lambda n: raw(address, post_bytes(body[:10], len(body)))),
    )
    phase(
        "100 clients that disconnect (50 mid-body, 50 before the answer)",
        lambda: concurrently(
            100,
            lambda n: raw(
                address,
                post_bytes(body[: len(body) // 2], len(body)) if n % 2 else post_bytes(four),
                read=False,
            ),
        ),
    )
    phase(
        "a burst of 64 requests of 4 pairs against a queue of 32 pairs",
        lambda: concurrently(64, lambda n: raw(address, post_bytes(four), timeout=120)),
    )
    metrics = raw_metrics(address)
    code, log = server.stop()
    rows.append(["(server afterwards)", metrics, "", "", f"exit {code}"])


def raw_metrics(address: tuple[str, int]) -> str:
    connection = http.client.HTTPConnection(*address, timeout=30)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    wanted = ("xalign_requests_abandoned_total", "xalign_queue_pairs")
    return "; ".join(
        line for line in text.splitlines() if line.startswith(wanted) and not line.startswith("#")
    )


def sigterm_under_load(
    address: tuple[str, int], server: Server, pairs: list[tuple[str, str]]
) -> dict:
    load, finish = background(address, 16, pairs)
    time.sleep(3)
    before = sum(load.statuses.values())
    code, log = server.stop()
    finish()
    stopped = STOPPED.search(log)
    accepted, answered, abandoned = (int(n) for n in stopped.groups()) if stopped else (-1,) * 3
    return {
        "exit": code,
        "client_outcomes": dict(load.statuses),
        "requests_before_signal": before,
        "server_accepted": accepted,
        "server_answered": answered,
        "server_abandoned": abandoned,
        "ok_received_over_the_server_life": OK_ANSWERS[address],
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--soak-seconds", type=float, default=150)
    parser.add_argument("--json", type=Path, help="also write every number here")
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument(
        "--threads", type=int, help="torch threads, for extract and the server alike (--threads)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--serve-option",
        action="append",
        default=[],
        help="an extra option for xalign serve (repeat; e.g. --serve-option=--max-batch=8)",
    )
    parser.add_argument(
        "--opus-sized",
        action="store_true",
        help="instead of the synthetic model, an opus-mt-en-fr-sized Marian with random weights "
        "and WMT newstest fr-en pairs (bench_extract.py's; needs ../shared/data)",
    )
    parser.add_argument("--model", default=MODEL, help=argparse.SUPPRESS)
    parser.add_argument("--baseline-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_child:
        baseline_child(args.baseline_child, args.threads, args.model)
        return
    with tempfile.TemporaryDirectory() as scratch:
        run(args, Path(scratch))


def newstest(count: int) -> list[tuple[str, str]]:
    from bench_extract import corpus

    with tempfile.TemporaryDirectory() as scratch:
        src, tgt = corpus(count, Path(scratch))
        sources = src.read_text(encoding="utf-8").splitlines()
        targets = tgt.read_text(encoding="utf-8").splitlines()
    return list(zip(sources, targets, strict=True))


def run(args: argparse.Namespace, scratch: Path) -> None:
    report: dict = {"pairs": args.pairs, "threads": args.threads, "rounds": args.rounds}
    threads = [] if args.threads is None else ["--threads", str(args.threads)]
    if args.opus_sized:
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_extract import build_model

        args.model = str(scratch / "opus-mt-sized")
        build_model(Path(args.model))
        pairs = newstest(args.pairs)
    else:
        pairs = heldout(args.pairs)
    model = args.model
    report["model"] = "opus-mt-sized" if args.opus_sized else model
    levels = (1, 4, 16)
    # Rounds of (extract, then the server at each level), so that each server number has
    # an extract number measured right before it: the machine's load drifts.
    extract: list[dict] = []
    served: dict[int, list[float]] = {n: [] for n in levels}
    served_cpu: dict[int, list[float]] = {n: [] for n in levels}
    latencies: dict[int, list[float]] = {n: [] for n in levels}
    corpus = scratch / "pairs.src-tgt"
    corpus.write_text("".join(f"{s} ||| {t}\n" for s, t in pairs), encoding="utf-8")
    server = Server(model, "--max-queue", "4096", *threads, *args.serve_option)
    address = server.address
    assert address is not None
    Load(address, 16, pairs).run(pairs, None)  # warm-up: every shape once
    for round_number in range(args.rounds):
        extract.append(run_baseline(corpus, args.threads, model))
        for clients in levels:
            load = Load(address, clients, pairs)
            cpu = server.cpu_s()
            wall = load.run(pairs, None)
            served_cpu[clients].append((server.cpu_s() - cpu) / args.pairs)
            assert set(load.statuses) == {200}, load.statuses
            served[clients].append(args.pairs / wall)
            latencies[clients] += load.latencies
        print(
            f"round {round_number + 1}: extract "
            + "/".join(f"{args.pairs / w:.0f}" for w in extract[-1]["wall_s"])
            + "".join(f", {n} clients {served[n][-1]:.1f}" for n in levels),
            file=sys.stderr,
        )

    soak = []
    if args.soak_seconds > 0:
        deadline = time.monotonic() + args.soak_seconds
        load, finish = background(address, 16, pairs)
        started = time.monotonic()
        while time.monotonic() < deadline:
            soak.append((time.monotonic() - started, server.rss_mb()))
            time.sleep(5)
        finish()
        soak.append((time.monotonic() - started, server.rss_mb()))
        report["soak_requests"] = dict(load.statuses)
    report["sigterm"] = sigterm_under_load(address, server, pairs)

    median = statistics.median
    # Per round: extract's median pass, the reference for that round's server numbers.
    extract_rate = [median(args.pairs / w for w in passes["wall_s"]) for passes in extract]
    every_pass = [args.pairs / w for passes in extract for w in passes["wall_s"]]
    extract_cpu = median(c / args.pairs for passes in extract for c in passes["cpu_s"])
    report.update(extract=extract, served=served, served_cpu=served_cpu, soak_rss=soak)

    def spread(values: list[float]) -> str:
        return f"{median(values):.0f} ({min(values):.0f}–{max(values):.0f})"

    print(f"\n### Throughput and latency (single-pair requests, {args.rounds} rounds)\n")
    print(
        "| | pairs/s, median (range) | × extract, median of rounds | p50 ms | p99 ms "
        "| CPU ms per pair |\n|---|---|---|---|---|---|"
    )
    print(
        f"| `xalign extract` (model loaded, {3 * args.rounds} passes) | {spread(every_pass)} "
        f"| 1 | | | {extract_cpu * 1000:.2f} |"
    )
    for clients in levels:
        ratio = [s / e for s, e in zip(served[clients], extract_rate, strict=True)]
        ordered = sorted(latencies[clients])
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000
        print(
            f"| serve, {clients} client{'s' if clients > 1 else ''} | {spread(served[clients])} "
            f"| {median(ratio):.2f} | {p50:.0f} | {p99:.0f} "
            f"| {median(served_cpu[clients]) * 1000:.2f} |"
        )
    if soak:
        print("\n### Soak: server RSS (MB) with 16 clients\n")
        print("| t (s) | " + " | ".join(f"{t:.0f}" for t, _ in soak[:: max(1, len(soak) // 10)]))
        print("|---" * (1 + len(soak[:: max(1, len(soak) // 10)])) + "|")
        print("| RSS | " + " | ".join(f"{m:.0f}" for _, m in soak[:: max(1, len(soak) // 10)]))
        print(f"\nrequests: {report['soak_requests']}; last sample {soak[-1][1]:.0f} MB")
    print(f"\n### SIGTERM under 16 clients\n\n{json.dumps(report['sigterm'])}")
    if not args.skip_faults:
        rows: list[list[str]] = []
        fault_tests(rows, threads, model, pairs)
        report["faults"] = rows
        print("\n### Faults (4 well-behaved clients running throughout)\n")
        print("| fault | what the bad clients got | good clients | good p50 / p99 ms | after |")
        print("|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
