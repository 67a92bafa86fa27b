"""`launchdeck serve` in a real browser: Debian's chromium driven by Playwright (no `playwright
install`: executable_path=/usr/bin/chromium, installed by `bash scripts/services.sh up`).

The page with the token shows the verdict; without it the server refuses; keys and clicks reach
nothing (the page sends no request, the engine polls its target no faster, no record is written);
a stopped server shows DATA STALE, and the page recovers when it resumes; SIGTERM with the page
open ends the server and the page says so. Set LAUNCHDECK_UPDATE_SCREENSHOT=1 to refresh
docs/browser-wall.png from this run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.integration.serve_helpers import TOKEN, Served, Target, write_config

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "browser-wall.png"
WORD = "#verdict-word"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():  # a missing server fails, never skips (DESIGN: real components)
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh up` (installs Debian chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def deck(tmp_path):
    target, payments = Target(), Target()
    served = Served(write_config(tmp_path, target, payments))
    yield served, target, payments, tmp_path
    served.stop()
    target.stop()
    payments.stop()


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    response = page.goto(url)
    return context, page, response


def _wait_for_word(page, word: str, timeout: float = 30_000) -> None:
    """Through a locator: the page's CSP forbids eval, so wait_for_function cannot run there (good)."""
    from playwright.sync_api import expect

    expect(page.locator(WORD)).to_have_text(word, timeout=timeout)


def test_the_page_with_the_token_shows_the_verdict_and_without_it_is_refused(browser, deck, tmp_path):
    served, *_ = deck
    assert TOKEN in served.url and served.url.startswith(f"http://127.0.0.1:{served.port}/")
    context, page, response = _open(browser, served.url)
    assert response.status == 200
    _wait_for_word(page, "go")
    assert "status-ok" in page.get_attribute("#verdict", "class")
    assert page.text_content("#deck") == "shop <b>launch</b>"  # people's text shown, not obeyed
    assert page.locator("#deck b").count() == 0
    assert TOKEN not in page.url  # taken out of the address bar once the cookie carries it
    cookie = next(c for c in context.cookies() if c["name"] == f"launchdeck_token_{served.port}")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    labels = page.locator(".figure-label").all_text_contents()
    assert {"error ratio", "p95", "services up", "checklist"} <= set(labels)
    page.locator(".figure-trend").first.wait_for(state="visible", timeout=20_000)
    page.wait_for_timeout(600)  # one more tick: the clock and "updated" settle for the picture
    page.screenshot(path=str(tmp_path / "browser-wall.png"))
    if os.environ.get("LAUNCHDECK_UPDATE_SCREENSHOT"):
        shutil.copyfile(tmp_path / "browser-wall.png", SCREENSHOT)
    context.close()

    stranger, page, response = _open(browser, served.base + "/")
    assert response.status == 401
    assert page.locator(WORD).count() == 0
    events = page.request.get(served.base + "/events")
    assert events.status == 401
    wrong = page.goto(served.base + "/?token=" + TOKEN[:-1] + "x")
    assert wrong.status == 401
    stranger.close()


def test_keys_and_clicks_change_nothing_in_the_engine(browser, deck):
    served, target, _, directory = deck
    context, page, _ = _open(browser, served.url)
    _wait_for_word(page, "go")
    ledger = directory / "launch-signoff.jsonl"
    ledger_before = ledger.read_bytes() if ledger.exists() else None
    sent = []
    page.on("request", lambda request: sent.append(f"{request.method} {request.url}"))

    start = target.count()
    time.sleep(4)
    quiet = target.count() - start  # requests of the engine's own polling in 4 s

    start = target.count()
    begun = time.monotonic()
    # the dashboard's keys: refresh, sign, waive, deploy, rollback, restore, verify, quit
    for key in ["r", "r", "r", "Space", "Enter", "w", "d", "R", "S", "v", "q", "Escape", "Tab"]:
        page.keyboard.press(key)
    for selector in ("#verdict", ".figure >> nth=0", "#deck", "#clock", "footer"):
        page.click(selector)
    page.mouse.dblclick(400, 400)
    time.sleep(max(0.0, 4 - (time.monotonic() - begun)))
    busy = target.count() - start

    assert sent == []  # nothing left the page: no route could be reached even if one existed
    # ten refresh-like keys would have meant ten extra polls of each service; the engine kept its pace
    assert busy <= quiet + 3, (quiet, busy)
    assert (ledger.read_bytes() if ledger.exists() else None) == ledger_before  # no sign-off, no action record
    assert page.text_content(WORD) == "go"
    context.close()
    _, err = served.stop()
    assert "POST" not in err and "PUT" not in err and "DELETE" not in err  # the access log: reads only


def test_ten_browser_tabs_are_one_engine(browser, deck):
    """Ten viewers (ten browser contexts: ten laptops) and the target sees one engine's polling."""
    served, target, _, _ = deck
    first, page, _ = _open(browser, served.url)
    _wait_for_word(page, "go")
    start = target.count()
    time.sleep(6)
    one = target.count() - start
    contexts = [first]
    for _ in range(9):
        context, page, _ = _open(browser, served.url)
        contexts.append(context)
        _wait_for_word(page, "go")
    start = target.count()
    time.sleep(6)
    ten = target.count() - start
    for context in contexts:
        context.close()
    assert one >= 4  # the engine really polls (1 s interval)
    assert ten <= one * 1.5 + 3, (one, ten)  # ten engines would have meant ~10x the requests


def test_a_stopped_server_shows_data_stale_and_the_page_recovers(browser, deck, tmp_path):
    served, _, payments, _ = deck
    context, page, _ = _open(browser, served.url)
    _wait_for_word(page, "go")
    assert page.is_hidden("#stale")

    payments.stop()  # a target goes away: the engine says so, the page follows
    _wait_for_word(page, "no-go")
    assert "payments" in page.text_content("#reasons")

    served.signal(signal.SIGSTOP)  # the engine side stops entirely: no more events
    try:
        page.wait_for_selector("#stale", state="visible", timeout=40_000)
        title = page.text_content("#stale-title")
        assert re.fullmatch(r"DATA STALE since \d\d:\d\d:\d\d", title), title
        assert "is-stale" in page.get_attribute(".wall", "class")
        page.screenshot(path=str(tmp_path / "browser-wall-stale.png"))
        if os.environ.get("LAUNCHDECK_UPDATE_SCREENSHOT"):
            shutil.copyfile(tmp_path / "browser-wall-stale.png", SCREENSHOT.with_name("browser-wall-stale.png"))
    finally:
        served.signal(signal.SIGCONT)
    page.wait_for_selector("#stale", state="hidden", timeout=60_000)  # reconnected, fresh data again
    assert page.text_content(WORD) == "no-go"
    context.close()


def test_sigterm_with_the_page_open_ends_the_server_and_the_page_says_so(browser, deck):
    from playwright.sync_api import expect

    served, target, payments, directory = deck
    context, page, _ = _open(browser, served.url)
    _wait_for_word(page, "go")
    served.signal(signal.SIGTERM)
    assert served.process.wait(timeout=10) == 0  # bench/serve_viewers.py measures how fast
    page.wait_for_selector("#stale", state="visible", timeout=10_000)
    assert "the server stopped" in page.text_content("#stale-detail")
    out, err = served.stop()
    assert out.count(TOKEN) == 1  # printed once, in the URL to open
    assert TOKEN not in err  # never in the log

    # restarted with a new random token on the same port: the page's cookie no longer opens it
    restarted = Served(write_config(directory, target, payments), token="", port=served.port)
    try:
        expect(page.locator("#stale-detail")).to_contain_text("token is no longer accepted", timeout=60_000)
    finally:
        restarted.stop()
    context.close()
