"""Take the README's screenshot of the ``xalign serve`` page with headless chromium.

Starts the service on a loopback port with the synthetic model, aligns a held-out pair,
marks one link possible, hovers a word (its links light up, their scores in the info
line), previews a tag transfer, and saves the page as ``docs/images/serve-page.png``.

Run: python scripts/screenshot_serve_page.py [OUT.png]   (needs chromium, chromium-driver,
selenium and the serve extra)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from align_cli.serve.server import BackgroundServer
from align_cli.serve.service import AlignmentService
from align_cli.settings import AlignerSpec

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "boladobabe luntefida gir bapu ki su sesus kimu"
TARGET = "mozowechaisai kunzunsicha wen husese chaizen hainuze kai"
TAGGED = "<b>boladobabe luntefida</b> gir bapu ki su <i>sesus</i> kimu"


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "serve-page.png"
    os.chdir(ROOT)  # the page shows the signature, with the model path as given
    service = AlignmentService.load(AlignerSpec(model="tests/data/synthetic/fwd"))
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1100,1520"):
        options.add_argument(argument)
    with BackgroundServer(service) as server:
        driver = webdriver.Chrome(options=options, service=DriverService("/usr/bin/chromedriver"))
        try:
            driver.get(server.url)
            driver.find_element(By.ID, "source").send_keys(SOURCE)
            driver.find_element(By.ID, "target").send_keys(TARGET)
            driver.find_element(By.ID, "align").click()
            while not driver.find_element(By.ID, "status").text.startswith("aligned"):
                time.sleep(0.05)
            driver.find_element(By.CSS_SELECTOR, "input[name=kind][value=possible]").click()
            driver.find_element(By.CSS_SELECTOR, "td[data-i='4'][data-j='5']").click()
            tagged = driver.find_element(By.ID, "tagged")
            tagged.clear()
            tagged.send_keys(TAGGED)
            driver.find_element(By.ID, "transfer").click()
            while not driver.find_element(By.ID, "transfer-out").text:
                time.sleep(0.05)
            driver.find_element(By.ID, "export-talp").click()
            driver.execute_script("window.scrollTo(0, 0)")
            word = driver.find_elements(By.CSS_SELECTOR, "#src-row .word")[3]
            ActionChains(driver).move_to_element(word).perform()
            time.sleep(0.2)
            driver.save_screenshot(str(out))
        finally:
            driver.quit()
    print(out)


if __name__ == "__main__":
    main()
