"""The page at ``/`` in a real headless browser (Debian's chromium and chromium-driver,
driven by selenium): align a pair, hover a word, click a link off and on, mark a possible
link, export, and check the export against what the API returns and with ``xalign eval``;
open a ``source ||| target`` file; preview a tag transfer.

On a machine without chromium the test skips, saying what to install; CI sets
``XALIGN_REQUIRE_BROWSER=1`` (``.ci/run`` installs chromium), where a missing browser
fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.serve_helpers import heldout_pairs, synthetic_aligner, synthetic_spec

pytestmark = pytest.mark.usefixtures("one_thread")

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
CHROMEDRIVER = shutil.which("chromedriver")


def _browser_or_skip() -> None:
    missing = []
    if CHROMIUM is None or CHROMEDRIVER is None:
        missing.append(
            "Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    for module, extra in (
        ("selenium", "selenium"),
        ("starlette", "xalign[serve]"),
        ("httpx", "httpx"),
    ):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"{module} (pip install {extra})")
    if not missing:
        return
    message = "the browser test needs " + " and ".join(missing)
    if os.environ.get("XALIGN_REQUIRE_BROWSER") == "1":
        pytest.fail(message + "; XALIGN_REQUIRE_BROWSER=1 requires it")
    pytest.skip(message)


@pytest.fixture(scope="module")
def page() -> Iterator[tuple[object, str]]:
    """(a selenium driver, the service's URL) for the whole module."""
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from align_cli.serve.server import BackgroundServer
    from align_cli.serve.service import AlignmentService

    service = AlignmentService(synthetic_spec(), synthetic_aligner())
    server = BackgroundServer(service).start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(0)
    try:
        yield driver, server.url
    finally:
        driver.quit()
        server.stop()


def api(url: str, path: str, body: dict) -> dict:
    import httpx

    response = httpx.post(url + path, json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(driver, condition, what: str):  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 30, poll_frequency=0.05).until(
        lambda d: condition(d), message=f"the page never showed {what}"
    )


def by_id(driver, name: str):  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, name)


def by_css(driver, selector: str) -> list:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def cell(driver, i: int, j: int):  # type: ignore[no-untyped-def]
    return by_css(driver, f"td[data-i='{i}'][data-j='{j}']")[0]


def export(driver, button: str) -> str:  # type: ignore[no-untyped-def]
    by_id(driver, button).click()
    return by_id(driver, "export-text").get_property("value")


def test_align_click_links_off_and_on_and_export_what_the_api_returns(
    page: tuple, tmp_path: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    driver, url = page
    source, target = heldout_pairs(1)[0]
    expected = api(url, "align", {"pairs": [{"source": source, "target": target}]})["results"][0]
    links = [tuple(link) for link in expected["links"]]
    assert len(links) >= 3

    driver.get(url)
    by_id(driver, "source").send_keys(source)
    by_id(driver, "target").send_keys(target)
    by_id(driver, "align").click()
    wait_for(driver, lambda d: by_id(d, "status").text.startswith("aligned"), "the alignment")
    assert by_id(driver, "status").text == f"aligned: {len(links)} links"
    # Both views show the model's links.
    assert sorted(tuple(map(int, line.get_attribute("data-link").split("-")))
                  for line in by_css(driver, "svg#lines line")) == links  # fmt: skip
    assert len(by_css(driver, "td.sure")) == len(links)
    assert export(driver, "export-pharaoh") == expected["pharaoh"] + "\n"

    # Hovering a source word lights its links and shows their scores.
    i, j = links[0]
    ActionChains(driver).move_to_element(by_css(driver, "#src-row .word")[i]).perform()
    wait_for(driver, lambda d: "(" in by_id(d, "info").text, "the hovered word's links")
    info = by_id(driver, "info").text
    assert f"{i}-{j} ({expected['scores'][0]:.3f}, sure)" in info
    lit = [line.get_attribute("data-link") for line in by_css(driver, "svg#lines line.lit")]
    assert f"{i}-{j}" in lit

    # A click on the link's cell removes it, a second click puts it back.
    cell(driver, i, j).click()
    assert len(by_css(driver, "svg#lines line")) == len(links) - 1
    without = export(driver, "export-pharaoh")
    assert without == " ".join(f"{a}-{b}" for a, b in links if (a, b) != (i, j)) + "\n"
    cell(driver, i, j).click()
    assert export(driver, "export-pharaoh") == expected["pharaoh"] + "\n"

    # A possible link: talp gold marks it 'p'; a Pharaoh export has every link.
    n_src, n_tgt = len(expected["source_words"]), len(expected["target_words"])
    free = next((a, b) for a in range(n_src) for b in range(n_tgt) if (a, b) not in links)
    by_css(driver, "input[name=kind][value=possible]")[0].click()
    cell(driver, *free).click()
    assert "possible" in cell(driver, *free).get_attribute("class")
    assert len(by_css(driver, "svg#lines line.possible")) == 1
    talp = export(driver, "export-talp")
    assert f"{free[0]}p{free[1]}" in talp.split()
    by_id(driver, "one-based").click()
    talp_one_based = export(driver, "export-talp")

    # xalign eval reads the exports: the API's links against this gold are perfect (the
    # possible link is not required), and the 1-based export scores the same.
    (tmp_path / "gold.talp").write_text(talp)
    (tmp_path / "gold1.talp").write_text(talp_one_based)
    (tmp_path / "api.pharaoh").write_text(expected["pharaoh"] + "\n")
    for gold, flags in (("gold.talp", []), ("gold1.talp", ["--gold-one-based"])):
        scored = run_cli(["eval", tmp_path / gold, tmp_path / "api.pharaoh", "--json", *flags])
        assert scored.exit_code == 0, scored.stderr
        totals = json.loads(scored.stdout)
        assert totals["aer"] == 0.0 and totals["precision"] == 1.0 and totals["recall"] == 1.0


def test_open_a_file_navigate_and_export_every_pair(page: tuple, tmp_path: Path) -> None:
    driver, url = page
    pairs = heldout_pairs(4)
    corpus = tmp_path / "four.src-tgt"
    corpus.write_text("".join(f"{s} ||| {t}\n" for s, t in pairs), encoding="utf-8")
    expected = api(url, "align", {"pairs": [{"source": s, "target": t} for s, t in pairs]})

    driver.get(url)
    by_id(driver, "file").send_keys(str(corpus))
    wait_for(driver, lambda d: by_id(d, "position").text == "pair 1 of 4", "the file's pairs")
    by_id(driver, "next").click()
    assert by_id(driver, "position").text == "pair 2 of 4"
    assert by_id(driver, "source").get_property("value") == pairs[1][0]
    exported = export(driver, "export-pharaoh")
    assert exported == "".join(r["pharaoh"] + "\n" for r in expected["results"])


def test_tag_transfer_preview_places_tags_through_the_shown_links(page: tuple) -> None:
    driver, url = page
    source, target = heldout_pairs(2)[1]
    words = source.split()
    tagged = f"<b>{words[0]} {words[1]}</b> {' '.join(words[2:])}"
    driver.get(url)
    by_id(driver, "source").send_keys(source)
    by_id(driver, "target").send_keys(target)
    by_id(driver, "align").click()
    wait_for(driver, lambda d: by_id(d, "status").text.startswith("aligned"), "the alignment")
    box = by_id(driver, "tagged")
    box.clear()
    box.send_keys(tagged)
    by_id(driver, "transfer").click()
    wait_for(driver, lambda d: by_id(d, "transfer-out").text, "the transfer")
    links = api(url, "align", {"pairs": [{"source": source, "target": target}]})["results"][0]
    expected = api(
        url, "transfer", {"pairs": [{"source": tagged, "target": target, "links": links["links"]}]}
    )
    assert by_id(driver, "transfer-out").text == expected["results"][0]["target"]
    assert "<b>" in by_id(driver, "transfer-out").text
