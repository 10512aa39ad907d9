"""The page at ``/``, driven in headless Chromium: type a text, read back the labels ``predict`` gives."""

from __future__ import annotations

import os
import shutil

import pytest
from server_process import TEXTS, predict_cli

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (dev extra) is not installed")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("MLBALANCE_REQUIRE_BROWSER"):  # set by .ci/run, which installs them
        raise RuntimeError("MLBALANCE_REQUIRE_BROWSER is set but chromium or chromedriver is missing")
    pytest.skip("Debian's chromium and chromium-driver are not installed", allow_module_level=True)


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_typed_text_gets_the_labels_predict_gives(server, tfidf_run, tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    expected = predict_cli(tfidf_run, TEXTS, tmp_path)
    text, want = next((t, e) for t, e in zip(TEXTS, expected) if e["labels"])
    browser.get(server.url + "/")
    wait = WebDriverWait(browser, 20)
    wait.until(ec.text_to_be_present_in_element((By.ID, "facts"), "test micro-F1"))
    assert browser.find_element(By.ID, "title").text.startswith("tfidf")
    box = browser.find_element(By.ID, "text")
    box.send_keys(text)
    browser.find_element(By.ID, "go").click()
    labels = wait.until(ec.visibility_of_element_located((By.ID, "labels")))
    assert labels.text == ", ".join(want["labels"])
    rows = browser.find_elements(By.CSS_SELECTOR, "#scores .label")
    assert [r.find_element(By.CLASS_NAME, "name").text for r in rows] == list(want["scores"])
    predicted = [
        r.find_element(By.CLASS_NAME, "name").text for r in rows if "predicted" in r.get_attribute("class")
    ]
    assert predicted == [name for name in want["scores"] if name in want["labels"]]
