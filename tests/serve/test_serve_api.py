"""The HTTP contract of ``xalign serve``, on a real uvicorn server on a loopback port with
the bundled synthetic model: /align and /transfer give what the library gives, /health,
/metrics and /openapi.json, the bearer token, every limit (400/408/413/422), a full queue
(503 with Retry-After), concurrent requests merged into one run, and a client that goes
away before its answer."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("starlette", reason="xalign serve needs the serve extra")
httpx = pytest.importorskip("httpx", reason="the serve tests call the service with httpx")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from align_cli.aligners.attention import AttentionAligner  # noqa: E402
from align_cli.serve.config import ServeConfig, ServeLimits  # noqa: E402
from align_cli.serve.server import BackgroundServer  # noqa: E402
from align_cli.serve.service import AlignmentService  # noqa: E402
from align_cli.settings import EXTRACTION_METHODS, AlignmentSettings  # noqa: E402
from align_cli.tools.transfer import strip_tags, transfer_tags  # noqa: E402
from tests.serve_helpers import (  # noqa: E402
    GatedAligner,
    heldout_pairs,
    synthetic_aligner,
    synthetic_spec,
)

pytestmark = pytest.mark.usefixtures("one_thread")

PAIRS = heldout_pairs(6)


def start(
    aligner=None, limits: ServeLimits | None = None, token: str | None = None
) -> BackgroundServer:  # type: ignore[no-untyped-def]
    limits = limits or ServeLimits()
    service = AlignmentService(synthetic_spec(), aligner or synthetic_aligner(), limits)
    return BackgroundServer(service, ServeConfig(port=0, token=token, limits=limits)).start()


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    running = start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll until ``condition`` holds (a state the server reaches, not a duration)."""
    for _ in range(1000):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def request_body(pairs: list[tuple[str, str]], **fields: object) -> dict[str, object]:
    return {"pairs": [{"source": s, "target": t} for s, t in pairs], **fields}


def metric_samples(client: httpx.Client) -> dict[tuple[str, tuple], float]:
    response = client.get("metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


# --------------------------------------------------------------------------- /align


def test_align_gives_the_links_scores_and_signature_of_the_library(client: httpx.Client) -> None:
    response = client.post("align", json=request_body(PAIRS))
    assert response.status_code == 200, response.text
    body = response.json()
    aligner = synthetic_aligner()
    expected = aligner.align_texts([s for s, _ in PAIRS], [t for _, t in PAIRS])
    assert body["signature"] == str(aligner.signature)
    assert len(body["results"]) == len(PAIRS)
    for got, want in zip(body["results"], expected, strict=True):
        assert got["source_words"] == list(want.pair.src_words)
        assert got["target_words"] == list(want.pair.tgt_words)
        assert [tuple(link) for link in got["links"]] == want.links
        assert got["scores"] == pytest.approx(want.scores, abs=1e-5)
        assert got["pharaoh"] == " ".join(f"{i}-{j}" for i, j in want.links)
        assert got["matrix"] is None and got["skipped"] is None


def test_segments_may_be_lists_of_words_and_an_empty_batch_is_fine(client: httpx.Client) -> None:
    source, target = PAIRS[0]
    as_text = client.post("align", json=request_body([(source, target)])).json()
    as_words = client.post(
        "align", json={"pairs": [{"source": source.split(), "target": target.split()}]}
    ).json()
    assert as_words["results"] == as_text["results"]
    empty = client.post("align", json={"pairs": []})
    assert empty.status_code == 200 and empty.json()["results"] == []


def test_include_matrix_returns_the_word_matrix_the_scores_come_from(client: httpx.Client) -> None:
    body = client.post("align", json=request_body(PAIRS[:2], include_matrix=True)).json()
    for result in body["results"]:
        matrix = result["matrix"]
        assert len(matrix) == len(result["source_words"])
        assert {len(row) for row in matrix} == {len(result["target_words"])}
        for (i, j), score in zip(result["links"], result["scores"], strict=True):
            assert matrix[i][j] == pytest.approx(score, abs=1e-5)


def test_request_settings_use_the_command_line_vocabulary(client: httpx.Client) -> None:
    settings = {"layers": "1", "heads": [0, 2], "method": "argmax", "pooling": "mean"}
    response = client.post("align", json=request_body(PAIRS, settings=settings))
    assert response.status_code == 200, response.text
    body = response.json()
    # The same settings on the same loaded model, through the library.
    reference = AttentionAligner(
        synthetic_aligner().loaded,
        AlignmentSettings(layers=(1,), heads=(0, 2), method="argmax", pooling="mean"),
    )
    expected = reference.align_texts([s for s, _ in PAIRS], [t for _, t in PAIRS])
    assert body["signature"] == str(reference.signature)
    assert "layer:1|heads:0,2|shift:no|pool:mean|extract:argmax" in body["signature"]
    assert [[tuple(x) for x in r["links"]] for r in body["results"]] == [r.links for r in expected]
    # ...and they differ from the server's own settings on these pairs.
    default = client.post("align", json=request_body(PAIRS)).json()
    assert [r["links"] for r in default["results"]] != [r["links"] for r in body["results"]]


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"layers": "x"}, "cannot read --layers"),
        ({"layers": 7}, "layer 7 does not exist"),
        ({"heads": "0,9"}, "head 9 does not exist"),
        ({"threshold": 0.2}, "threshold applies to method threshold"),
        ({"pooling": "median"}, "settings.pooling"),
        ({"shift": "yes"}, "settings.shift"),
        ({"granularity": "word"}, "--granularity: only for encoder-only models"),
    ],
)
def test_settings_the_command_line_would_refuse_are_422(
    client: httpx.Client, settings: dict, says: str
) -> None:
    response = client.post("align", json=request_body(PAIRS[:1], settings=settings))
    assert response.status_code == 422, response.text
    assert says in response.json()["error"]


@pytest.mark.parametrize(
    "body",
    [
        {"pairs": [], "model": "opus-mt-en-fr"},
        {"pairs": [], "settings": {"model": "opus-mt-en-fr"}},
        {"pairs": [], "settings": {"reverse_model": "opus-mt-fr-en"}},
        {"pairs": [], "settings": {"trust_remote_code": True}},
    ],
)
def test_a_request_can_name_no_model_and_no_code(client: httpx.Client, body: dict) -> None:
    response = client.post("align", json=body)
    assert response.status_code == 422
    assert response.json()["details"][0]["type"] == "extra_forbidden"


# --------------------------------------------------------------------------- /transfer


def test_transfer_with_given_links_is_the_library_transfer(client: httpx.Client) -> None:
    tagged = "Click <b>Save file</b> <x/> now"
    target = "Cliquez maintenant sur Enregistrer le fichier"
    links = [(0, 0), (1, 3), (2, 5), (3, 1)]
    response = client.post(
        "transfer", json={"pairs": [{"source": tagged, "target": target, "links": links}]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["signature"] is None  # nothing was aligned here
    result = body["results"][0]
    assert result["target"] == transfer_tags(tagged, target, links)
    assert result["target"] == "Cliquez <x/> maintenant sur <b>Enregistrer le fichier</b>"
    assert result["source_words"] == ["Click", "Save", "file", "now"]


def test_transfer_without_links_aligns_the_untagged_source_first(client: httpx.Client) -> None:
    source, target = PAIRS[1]
    words = source.split()
    tagged = f"{words[0]} <b>{' '.join(words[1:3])}</b> {' '.join(words[3:])}"
    body = client.post("transfer", json={"pairs": [{"source": tagged, "target": target}]}).json()
    aligner = synthetic_aligner()
    links = aligner.align_texts([strip_tags(tagged)], [target])[0].links
    assert body["signature"] == str(aligner.signature)
    assert [tuple(x) for x in body["results"][0]["links"]] == links
    assert body["results"][0]["target"] == transfer_tags(tagged, target, links)
    assert "<b>" in body["results"][0]["target"]


def test_transfer_of_raw_text_keeps_the_target_as_it_is(client: httpx.Client) -> None:
    # tokenize=unicode: punctuation is split off, and the tags go into the target text
    # itself (its spaces and punctuation kept), as `xalign transfer --tokenize unicode`.
    tagged = 'Click <b>Save</b>, then "OK".'
    target = "Cliquez sur « Enregistrer », puis « OK »."
    words = ["Cliquez", "sur", "«", "Enregistrer", "»", ",", "puis", "«", "OK", "»", "."]
    links = [[0, 0], [1, 3], [2, 5], [3, 6], [5, 8], [7, 10]]
    body = client.post(
        "transfer",
        json={
            "pairs": [{"source": tagged, "target": target, "links": links}],
            "tokenize": "unicode",
        },
    ).json()
    result = body["results"][0]
    assert result["source_words"] == ["Click", "Save", ",", "then", '"', "OK", '"', "."]
    assert result["target_words"] == words
    assert result["target"] == "Cliquez sur « <b>Enregistrer</b> », puis « OK »."
    assert strip_tags(result["target"]) == target  # nothing but the tags was added
    # Aligned here, the signature says how the words were split.
    aligned = client.post(
        "transfer",
        json={"pairs": [{"source": tagged, "target": target}], "tokenize": "unicode"},
    ).json()
    assert aligned["signature"].endswith("|tokenize:unicode")
    assert aligned["results"][0]["target"].count("<b>") == 1
    assert aligned["results"][0]["target"].replace("<b>", "").replace("</b>", "") == target


def test_transfer_with_an_unknown_tokenizer_is_422(client: httpx.Client) -> None:
    response = client.post(
        "transfer", json={"pairs": [{"source": "a", "target": "b"}], "tokenize": "moses"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("pair", "says"),
    [
        ({"source": "a </b> c", "target": "x y"}, "pairs[0].source"),
        ({"source": "a <b>b</b>", "target": "x y", "links": [[2, 0]]}, "link 2-0 is outside"),
    ],
)
def test_bad_markup_or_links_are_422(client: httpx.Client, pair: dict, says: str) -> None:
    response = client.post("transfer", json={"pairs": [pair]})
    assert response.status_code == 422
    assert says in response.json()["error"]


# ---------------------------------------------------------------- health, metrics, openapi, page


def test_health_says_live_and_ready(client: httpx.Client) -> None:
    response = client.get("health")
    assert response.status_code == 200
    body = response.json()
    assert body["live"] and body["ready"] and body["status"] == "ok"
    assert body["signature"] == str(synthetic_aligner().signature)


def test_metrics_count_requests_latency_batches_and_queue(client: httpx.Client) -> None:
    before = metric_samples(client)
    for _ in range(3):
        assert client.post("align", json=request_body(PAIRS[:2])).status_code == 200
    assert client.post("align", content=b"{").status_code == 400
    after = metric_samples(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before.get(key, 0.0)

    assert grew("xalign_requests_total", endpoint="align", status="200") == 3
    assert grew("xalign_requests_total", endpoint="align", status="400") == 1
    assert grew("xalign_request_seconds_count", endpoint="align") == 4
    assert grew("xalign_batch_pairs_sum") == 6
    assert grew("xalign_pairs_aligned_total") == 6
    assert ("xalign_queue_pairs", ()) in after and ("xalign_queue_requests", ()) in after


def test_openapi_is_a_valid_openapi_document_of_the_enforced_schemas(client: httpx.Client) -> None:
    from openapi_spec_validator import validate

    document = client.get("openapi.json").json()
    validate(document)
    assert set(document["paths"]) == {"/align", "/transfer", "/health", "/metrics"}
    schemas = document["components"]["schemas"]
    settings = schemas["RequestSettings"]["properties"]["method"]
    enum = next(option["enum"] for option in settings["anyOf"] if "enum" in option)
    assert sorted(enum) == sorted(EXTRACTION_METHODS)
    assert schemas["AlignRequest"]["additionalProperties"] is False


def test_the_page_and_its_files_are_served(client: httpx.Client) -> None:
    page = client.get("")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for asset in ("static/app.js", "static/style.css"):
        assert asset in page.text
        assert client.get(asset).status_code == 200


def test_unknown_paths_and_methods_are_json_errors(client: httpx.Client) -> None:
    assert client.get("nowhere").json() == {"error": "Not Found"}
    wrong = client.get("align")
    assert wrong.status_code == 405 and "error" in wrong.json()


# --------------------------------------------------------------------------- token


def test_a_token_guards_everything_but_health_and_the_page() -> None:
    running = start(token="s3cret")
    try:
        with httpx.Client(base_url=running.url, timeout=30) as http:
            body = request_body(PAIRS[:1])
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
                refused = http.post("align", json=body, headers=headers)
                assert refused.status_code == 401
                assert refused.headers["www-authenticate"] == "Bearer"
            for path in ("metrics", "openapi.json"):
                assert http.get(path).status_code == 401
            assert http.post("transfer", json={"pairs": []}).status_code == 401
            good = {"Authorization": "Bearer s3cret"}
            assert http.post("align", json=body, headers=good).status_code == 200
            assert http.get("metrics", headers=good).status_code == 200
            document = http.get("openapi.json", headers=good).json()
            assert document["paths"]["/align"]["post"]["security"] == [{"bearer": []}]
            assert http.get("health").status_code == 200
            assert http.get("").status_code == 200
    finally:
        running.stop()


# --------------------------------------------------------------------------- limits


@pytest.fixture(scope="module")
def small() -> Iterator[httpx.Client]:
    limits = ServeLimits(
        max_body_bytes=2_000, max_pairs=4, max_segment_chars=60, body_timeout_s=0.5
    )
    running = start(limits=limits)
    with httpx.Client(base_url=running.url, timeout=30) as http:
        yield http
    running.stop()


def test_a_body_over_the_limit_is_413_whether_declared_or_streamed(small: httpx.Client) -> None:
    big = json.dumps(request_body([("a " * 1500, "b")])).encode()
    assert len(big) > 2_000
    declared = small.post("align", content=big)

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for start in range(0, len(big), 500):
            yield big[start : start + 500]

    streamed = small.post("align", content=chunks())
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["limit"] == "max_body_bytes"
        assert response.json()["max"] == 2_000


def test_too_many_pairs_is_413_and_a_long_segment_422_naming_the_limit(
    small: httpx.Client,
) -> None:
    many = small.post("align", json=request_body([("a", "b")] * 5))
    assert many.status_code == 413
    assert many.json()["limit"] == "max_pairs" and many.json()["max"] == 4
    long = small.post("align", json=request_body([("a", "b"), ("a", "b " * 31)]))
    assert long.status_code == 422
    assert long.json()["limit"] == "max_segment_chars"
    assert "pairs[1].target has 62 characters" in long.json()["error"]
    words = small.post("align", json={"pairs": [{"source": ["a b"], "target": ["c"]}]})
    assert words.status_code == 422 and "contains whitespace" in words.json()["error"]
    assert small.post("align", json=request_body([("a", "b " * 30)])).status_code == 200


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b'{"pairs": [', 400),
        (b"\xff\xfe not utf-8", 400),
        (b"", 400),
        (b'{"pairs": "a ||| b"}', 422),
        (b'{"pairs": [{"source": "a"}]}', 422),
        (b"[]", 422),
    ],
)
def test_malformed_json_is_400_and_valid_json_of_the_wrong_shape_422(
    small: httpx.Client, content: bytes, status: int
) -> None:
    response = small.post("align", content=content)
    assert response.status_code == status
    assert response.json()["error"].startswith("malformed JSON" if status == 400 else "invalid")


def test_a_client_too_slow_to_send_its_body_gets_408_and_others_are_served(
    small: httpx.Client,
) -> None:
    host, port = small.base_url.host, small.base_url.port
    with socket.create_connection((host, port), timeout=10) as slow:
        slow.sendall(
            b"POST /align HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"pairs": ['
        )
        # While that body never completes, another client is answered.
        assert small.post("align", json=request_body([("a", "b")])).status_code == 200
        reply = slow.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 408")
    assert '"limit":"body_timeout_s"' in reply


# --------------------------------------------------------------------------- queue and batching


def post_in_thread(url: str, body: dict, into: list) -> threading.Thread:
    def send() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            response = http.post("align", json=body)
            into.append((body, response.status_code, response.json()))

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def queued_pairs(http: httpx.Client) -> int:
    return http.get("health").json()["queue_pairs"]


def test_a_full_queue_answers_503_with_retry_after_and_loses_nothing_accepted() -> None:
    gated = GatedAligner(synthetic_aligner())
    running = start(gated, ServeLimits(max_queue_pairs=2, max_pairs=2))
    answers: list = []
    try:
        with httpx.Client(base_url=running.url, timeout=30) as http:
            first = post_in_thread(running.url, request_body(PAIRS[:1]), answers)
            assert gated.entered.wait(30)  # the worker holds the first request
            second = post_in_thread(running.url, request_body(PAIRS[1:3]), answers)
            wait_until(lambda: queued_pairs(http) == 2, "two pairs waiting")
            refused = http.post("align", json=request_body(PAIRS[3:4]))
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["limit"] == "max_queue_pairs"
            gated.gate.set()
            first.join(60)
            second.join(60)
            assert sorted(status for _, status, _ in answers) == [200, 200]
            assert http.post("align", json=request_body(PAIRS[3:4])).status_code == 200
            samples = metric_samples(http)
            assert (
                samples[("xalign_requests_total", (("endpoint", "align"), ("status", "503")))] == 1
            )
    finally:
        gated.gate.set()
        running.stop()


def test_concurrent_requests_are_merged_into_one_run_of_the_model() -> None:
    gated = GatedAligner(synthetic_aligner())
    running = start(gated)
    answers: list = []
    try:
        with httpx.Client(base_url=running.url, timeout=30) as http:
            threads = [post_in_thread(running.url, request_body(PAIRS[:1]), answers)]
            assert gated.entered.wait(30)
            threads += [post_in_thread(running.url, request_body([p]), answers) for p in PAIRS]
            wait_until(lambda: queued_pairs(http) == len(PAIRS), "six requests waiting")
            gated.gate.set()
            for thread in threads:
                thread.join(60)
            # One run of the model for the six (cut into length-sorted batches inside it).
            assert gated.runs[0] == 1 and sum(gated.runs[1:]) == len(PAIRS)
            samples = metric_samples(http)
            assert samples[("xalign_batch_requests_count", ())] == 2
            assert samples[("xalign_batch_requests_sum", ())] == 1 + len(PAIRS)
            assert samples[("xalign_batch_pairs_bucket", (("le", "4.0"),))] == 1
            assert samples[("xalign_batch_pairs_bucket", (("le", "8.0"),))] == 2
        # Each request got its own pair's links back from the merged run.
        aligner = synthetic_aligner()
        for body, status, answer in answers:
            assert status == 200
            source, target = body["pairs"][0]["source"], body["pairs"][0]["target"]
            want = aligner.align_texts([source], [target])[0]
            assert [tuple(link) for link in answer["results"][0]["links"]] == want.links
    finally:
        gated.gate.set()
        running.stop()


def test_a_request_whose_client_disconnects_while_waiting_is_never_run() -> None:
    gated = GatedAligner(synthetic_aligner())
    running = start(gated)
    try:
        with httpx.Client(base_url=running.url, timeout=30) as http:
            answers: list = []
            first = post_in_thread(running.url, request_body(PAIRS[:1]), answers)
            assert gated.entered.wait(30)
            body = json.dumps(request_body(PAIRS[1:3])).encode()
            host, port = http.base_url.host, http.base_url.port
            with socket.create_connection((host, port), timeout=10) as leaving:
                leaving.sendall(
                    b"POST /align HTTP/1.1\r\nHost: x\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                wait_until(lambda: queued_pairs(http) == 2, "the request waiting")
            # The socket is closed: the service notices and drops the waiting job.
            wait_until(
                lambda: metric_samples(http).get(("xalign_requests_abandoned_total", ())) == 1,
                "the request counted as abandoned",
            )
            assert queued_pairs(http) == 2  # still queued, but marked
            gated.gate.set()
            first.join(60)
            assert answers[0][1] == 200
            assert http.post("align", json=request_body(PAIRS[3:4])).status_code == 200
            assert gated.runs == [1, 1]  # the abandoned pairs never ran
            assert queued_pairs(http) == 0
    finally:
        gated.gate.set()
        running.stop()


class FailsOnWord:
    """The synthetic aligner, except that a pair whose source has ``boom`` raises (a bug
    in the model code, not a user error)."""

    def __init__(self, inner):  # type: ignore[no-untyped-def]
        self.inner = inner
        self.include_matrix = inner.include_matrix
        self.signature = inner.signature

    def align_pairs(self, pairs, *, include_matrix=None):  # type: ignore[no-untyped-def]
        pairs = list(pairs)
        if any("boom" in pair.src_words for pair in pairs):
            raise RuntimeError("the model fell over")
        return self.inner.align_pairs(pairs, include_matrix=include_matrix)


def test_a_failing_model_run_is_a_json_500_and_the_service_goes_on() -> None:
    running = start(FailsOnWord(synthetic_aligner()))
    try:
        with httpx.Client(base_url=running.url, timeout=30) as http:
            failed = http.post("align", json=request_body([("boom", "b")]))
            assert failed.status_code == 500
            assert failed.json() == {"error": "internal error: RuntimeError: the model fell over"}
            assert http.post("align", json=request_body(PAIRS[:1])).status_code == 200
            assert http.get("health").json()["ready"]
    finally:
        running.stop()
