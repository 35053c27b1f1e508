"""A real browser for the portal tests: Playwright driving Debian's Chromium (installed by
``scripts/test`` with apt-get; Playwright never downloads a browser here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def artifacts_dir(fallback: Path) -> Path:
    """Where screenshots go: ``BERTH_TEST_ARTIFACTS/portal`` when set, else ``fallback``."""
    root = os.environ.get("BERTH_TEST_ARTIFACTS")
    path = Path(root) / "portal" if root else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@contextmanager
def signed_in_page(browser: Browser, base_url: str, username: str, password: str) -> Iterator[Page]:
    """A page of a new browser context (desktop size), logged in on the Projects page."""
    context = browser.new_context(viewport=DESKTOP, base_url=base_url)
    try:
        page = context.new_page()
        log_in(page, username, password)
        expect(page.get_by_role("heading", name="Projects")).to_be_visible()
        yield page
    finally:
        context.close()
