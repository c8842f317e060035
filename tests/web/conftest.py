"""Browser tests: the real server (uvicorn in a thread) on an SQLite file, driven by Playwright in
Debian's Chromium (/usr/bin/chromium, installed by `make test` when missing).

One server and one browser serve the whole session; each test gets a fresh browser context (its own
cookies) and works on its own cases (own business keys), so tests do not depend on each other.
Screenshots of the main pages are written to docs/screenshots/ for the README.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from api.app import create_app
from api.settings import Settings
from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.clock import SystemClock
from engine.config import DEFAULT_DEMO_DIR
from engine.db import make_engine, transaction
from engine.definitions import deploy_files
from engine.demo_network import sync_demo_network
from engine.identity import Actor, sync_demo_users
from engine.migrations import upgrade_to_head
from tests.conftest import free_port, sessions

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TIXI_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
OPERATOR = Actor("designer", frozenset({"designer"}))



@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("web") / "tixi.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade_to_head(engine)
    factory = sessions(engine)
    files = sorted((p for p in (ROOT / "processes").iterdir() if p.suffix in {".bpmn", ".dmn"}),
                   key=lambda p: (p.suffix != ".dmn", p.name))  # decisions first, as `tixi deploy` does
    with transaction(factory) as session:
        sync_demo_users(session, SystemClock(), enabled=True)
        sync_demo_network(session, SystemClock(), DEFAULT_DEMO_DIR)
        deploy_files(session, SystemClock(), FormCatalog(DEFAULT_FORMS_DIR), actor=OPERATOR,
                     files=[(f.name, f.read_bytes()) for f in files])
    settings = Settings(database_url=f"sqlite:///{database}", secret_key="browser-test-secret-key-of-32-bytes-or-more", demo_users=True)
    app = create_app(settings, session_factory=factory, run_scheduler=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium) or set TIXI_CHROMIUM")
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        # No network but loopback: keep Chromium from calling home (the machine refuses it anyway).
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"],
    )
    yield browser
    browser.close()


# Every page reports what its Content-Security-Policy blocked; a test that caused any fails, so a
# page that needs an inline script or style (or a library that injects one) is found here.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.documentURI}`
                + ` ${e.sourceFile || ""}:${e.lineNumber} ${e.sample || ""}`));
"""


# An assertion waits as long as an action does: on a machine the whole suite loads, a decision (a
# workflow step with its sandboxed scripts) was seen to take longer than expect's 5 s default.
expect.set_options(timeout=15_000)


@pytest.fixture
def new_context(browser: Browser, base_url: str) -> Iterator[Callable[..., BrowserContext]]:
    contexts: list[BrowserContext] = []
    violations: list[str] = []

    def _watch(page: Page) -> None:
        page.on("console", lambda message: violations.append(message.text)
                if "Content Security Policy" in message.text or "CSP violation" in message.text else None)

    def _new(viewport: dict[str, int] = DESKTOP, **options: Any) -> BrowserContext:
        context = browser.new_context(base_url=base_url, viewport=viewport, locale="zh-CN", **options)
        context.set_default_timeout(15_000)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.on("page", _watch)
        contexts.append(context)
        return context

    yield _new
    for context in contexts:
        context.close()
    assert not violations, "the pages' Content-Security-Policy blocked:\n" + "\n".join(dict.fromkeys(violations))


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context().new_page()


@pytest.fixture
def as_user(new_context: Callable[..., BrowserContext]) -> Callable[..., Page]:
    """A page logged in as a demo user (through the login page), in English unless told otherwise."""

    def _as(username: str, *, lang: str = "en", viewport: dict[str, int] = DESKTOP, **options: Any) -> Page:
        page = new_context(viewport=viewport, **options).new_page()
        log_in(page, username, lang=lang)
        return page

    return _as


def log_in(page: Page, username: str, *, password: str = "demo", lang: str = "en") -> None:
    page.goto(f"/lang/{lang}?next=/login")
    page.get_by_label(re.compile("Username|用户名")).fill(username)
    page.get_by_label(re.compile("Password|密码")).fill(password)
    page.get_by_role("button", name=re.compile("Log in|登录")).click()
    expect(page.get_by_test_id("username")).to_have_text(username)


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def fill_form(page: Page, data: dict[str, Any]) -> None:
    """Fill a form rendered by JSON Editor the way a person does: pick, tick and type per field."""
    for name, value in data.items():
        # JSON Editor keeps hidden copies of fields for if/then branches; a person sees the visible one.
        field = page.locator(f'[data-schemapath="root.{name}"]:visible').last
        control = field.locator("input, select, textarea").first
        control.wait_for(state="visible")
        if isinstance(value, bool):
            field.locator("input[type=checkbox]").first.set_checked(value)
        elif control.evaluate("node => node.tagName") == "SELECT":
            control.select_option(str(value))
        else:
            control.fill(str(value))
            control.dispatch_event("change")


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))
