"""Browser helpers for tests/test_web_*.py: the Debian Chromium driven by Playwright (sync API).

A plugin for the web test modules (`pytest_plugins = ["conftest_web"]`: fixtures `browser` and
`open_page`), which also import its helpers; tests/conftest.py provides the real server
(`live_server`). It holds no assert, so it is imported before pytest loads it as a plugin
without rewriting: PYTEST_DONT_REWRITE."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ANSWER_TIMEOUT = 30_000  # ms: answers take 1-5 s on a small CPU


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole session (Playwright's sync API allows one instance at a time,
    hence a plugin: test modules load this file with `pytest_plugins = ["conftest_web"]`)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} absent: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """`open_page(viewport)`: a page in a fresh context (empty localStorage), closed after the
    test. `page.problems` collects uncaught errors and CSP violations; tests expect none."""
    contexts = []

    def open_(viewport: dict = DESKTOP):
        context = browser.new_context(viewport=viewport, locale="fr-FR", reduced_motion="reduce")
        context.set_default_timeout(ANSWER_TIMEOUT)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda error: page.problems.append(f"pageerror: {error}"))

        def on_console(message) -> None:
            csp = "Content Security Policy" in message.text
            if csp or (message.type == "error" and "404" not in message.text):  # 404: favicons
                page.problems.append(f"console {message.type}: {message.text}")

        page.on("console", on_console)
        return page

    yield open_
    for context in contexts:
        context.close()


def ask(scope, question: str, exchanges: int = 1):
    """Types `question` in the box of a page or frame, sends it with Enter and waits until the
    `exchanges`-th answer is complete (its feedback buttons appear). Returns that exchange."""
    box = scope.get_by_label("Votre question", exact=True)
    box.fill(question)
    box.press("Enter")
    exchange = scope.locator(".exchange").nth(exchanges - 1)
    exchange.locator(".feedback").wait_for(timeout=ANSWER_TIMEOUT)
    return exchange


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path


def _rgb(css: str) -> tuple[float, float, float, float]:
    """rgb(0, 0, 145), rgba(…) or color(srgb 0.89 0.89 0.95) (what color-mix() computes to)."""
    values = [float(v) for v in re.findall(r"[\d.]+", css.replace("srgb", ""))]
    if css.startswith("color("):
        values = [v * 255 for v in values[:3]] + values[3:]
    return (*values[:3], values[3] if len(values) > 3 else 1.0)


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two computed CSS colours (rgb()/rgba())."""
    def luminance(color: tuple[float, ...]) -> float:
        def channel(v: float) -> float:
            v /= 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(color[0]) + 0.7152 * channel(color[1]) + 0.0722 * channel(color[2])

    bright, dark = sorted([luminance(_rgb(foreground)), luminance(_rgb(background))], reverse=True)
    return (bright + 0.05) / (dark + 0.05)


# Computed text colour and the first opaque background behind an element.
COLORS_JS = """element => {
    let node = element, background = "rgba(0, 0, 0, 0)";
    while (node && node.nodeType === 1) {
        background = getComputedStyle(node).backgroundColor;
        if (!/rgba\\(.*, 0\\)$/.test(background) && background !== "transparent") break;
        node = node.parentElement;
        background = "rgb(255, 255, 255)";
    }
    return [getComputedStyle(element).color, background];
}"""
