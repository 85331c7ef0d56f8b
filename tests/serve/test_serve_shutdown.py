"""``xalign serve`` as users run it, in its own process on a free loopback port: SIGTERM
under load answers every request the service accepted, refuses the rest, and stops.

Clients keep sending requests (a new connection each) until the server is gone; the
server's closing line counts the jobs it accepted and answered, and every accepted one
must have reached its client as a 200.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading

import pytest

pytest.importorskip("starlette", reason="xalign serve needs the serve extra")
httpx = pytest.importorskip("httpx", reason="the serve tests call the service with httpx")

from tests.serve_helpers import MODEL, ROOT, heldout_pairs  # noqa: E402

CLIENTS = 6
PAIRS_PER_REQUEST = 4
LISTENING = re.compile(r"listening on (http://\S+/)")
STOPPED = re.compile(r"stopped: (\d+) alignment jobs accepted, (\d+) answered, (\d+) abandoned")


class ServeProcess:
    """``python -m align_cli serve`` with its stderr read line by line in a thread."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "align_cli", "serve", "-m", MODEL, "--port", "0", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.url: str | None = None
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            match = LISTENING.search(line)
            if match:
                self.url = match.group(1)
                self.ready.set()
        self.ready.set()  # the process ended (the test then fails on self.url)

    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def serve_process() -> ServeProcess:
    server = ServeProcess("--threads", "1")
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(30)


def test_sigterm_under_load_answers_every_accepted_request(serve_process: ServeProcess) -> None:
    assert serve_process.ready.wait(120), "the server never started"
    assert serve_process.url is not None, serve_process.output()
    url = serve_process.url
    pairs = heldout_pairs(CLIENTS * PAIRS_PER_REQUEST)
    answered = threading.Semaphore(0)
    signalled = threading.Event()
    outcomes: list[tuple[str, bool]] = []  # (what happened, after SIGTERM was sent)
    lock = threading.Lock()

    def client(number: int) -> None:
        mine = pairs[number * PAIRS_PER_REQUEST : (number + 1) * PAIRS_PER_REQUEST]
        body = {"pairs": [{"source": s, "target": t} for s, t in mine]}
        for _ in range(200):  # bounded: the server is gone long before
            try:
                with httpx.Client(timeout=60) as http:  # a new connection each time
                    response = http.post(url + "align", json=body)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                # Refused or reset before any answer: the server is closing or gone.
                with lock:
                    outcomes.append(("refused", signalled.is_set()))
                if signalled.is_set():
                    return
                continue
            if response.status_code == 200:
                results = response.json()["results"]
                what = "ok" if len(results) == PAIRS_PER_REQUEST else "short"
            elif response.status_code == 503 and "shutting down" in response.text:
                what = "refused"
            else:
                what = f"status {response.status_code}: {response.text[:200]}"
            with lock:
                outcomes.append((what, signalled.is_set()))
            answered.release()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for _ in range(3 * CLIENTS):  # load is on: a few rounds of requests were answered
        assert answered.acquire(timeout=120)
    signalled.set()
    serve_process.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(180)
    assert serve_process.process.wait(120) == -signal.SIGTERM
    serve_process.reader.join(30)

    log = serve_process.output()
    stopped = STOPPED.search(log)
    assert stopped, log
    accepted, done, abandoned = (int(n) for n in stopped.groups())
    unexpected = [what for what, _ in outcomes if what not in ("ok", "refused")]
    assert not unexpected, unexpected
    ok = sum(what == "ok" for what, _ in outcomes)
    assert (accepted, done, abandoned) == (ok, ok, 0), (outcomes, log)
    # Requests in flight when the signal came were answered: the accounting above counts
    # them (every accepted request was answered, and received). Whether one is in flight at
    # the instant of the signal depends on scheduling, so it is not asserted on its own.
    # And the service refused the ones after it.
    assert any(what == "refused" and after for what, after in outcomes), outcomes
    assert "Traceback" not in log, log


def test_serve_refuses_bad_options_before_loading_a_model() -> None:
    from tests.cli_runner import run_cli

    result = run_cli(["serve", "-m", MODEL, "--max-pairs", "50", "--max-queue", "10"])
    assert result.exit_code == 2
    assert "max_pairs (50) cannot exceed max_queue_pairs (10)" in result.stderr
    result = run_cli(["serve", "-m", MODEL, "--threshold", "0.3"])
    assert result.exit_code == 2 and "--threshold applies to" in result.stderr
