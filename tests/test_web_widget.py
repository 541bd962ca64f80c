"""The embeddable widget in the real Debian Chromium: a host page on a second loopback origin
(with hostile CSS) loads `<script src=".../widget.js" defer>` from the real app on uvicorn."""

import re
from urllib.parse import quote

import pytest
from conftest import LiveServer
from conftest_web import (
    DESKTOP,
    PHONE,
    ask,
    screenshot,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
pytest_plugins = ["conftest_web"]  # fixtures: browser (session), open_page

TITLE = "Assistant politique de la ville"
WELCOME = "Bonjour ! Une question sur les quartiers prioritaires ?"
GREEN = ("#18753c", "rgb(24, 117, 60)")
LAMY = "Que dit la loi Lamy sur les conseils citoyens ?"
ZANZIBAR = "Quel est le mot de passe du coffre municipal de Zanzibar ?"
PAYLOAD_QUESTION = 'Et ceci ? <img src=x onerror="window.__xss=9"><script>window.__xss=8</script>'

# A host site with aggressive CSS of its own, and no CSP.
HOST_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">{meta}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mairie de Zanzibar-sur-Deûle</title>
<style>
  * {{ all: unset; }}
  head, style, script, title, meta {{ display: none !important; }}
  body {{ display: block; padding: 24px; font-family: Georgia, serif; background: #fdf6e3; }}
  h1 {{ display: block; font-size: 32px; color: #b58900; }}
  p {{ display: block; margin: 8px 0; }}
  button {{ color: red !important; font-size: 40px; }}
  div {{ transform: rotate(3deg); font-size: 30px !important; }}
  iframe {{ border: 8px dashed red !important; width: 50px !important; }}
</style></head>
<body>
<h1 id="host-title">Mairie de Zanzibar-sur-Deûle</h1>
<p id="host-text">Bienvenue sur le site de la ville. Horaires, démarches, agenda.</p>
<button id="host-button" type="button">Bouton du site</button>
{body}
</body></html>"""

WIDGET_TAG = ('<script src="{app}/widget.js" data-title="{title}" data-welcome="{welcome}" '
              'data-color="{color}" data-position="{position}" defer></script>')

# Computed styles of the host's own elements, to compare with and without the widget.
HOST_STYLES_JS = """() => {
    const pick = (selector) => {
        const s = getComputedStyle(document.querySelector(selector));
        return [s.color, s.fontSize, s.fontFamily, s.backgroundColor, s.display, s.transform,
                s.margin, s.padding, s.borderTopStyle];
    };
    return { title: pick("#host-title"), text: pick("#host-text"), button: pick("#host-button"),
             body: pick("body"), sheets: document.styleSheets.length,
             styles: document.querySelectorAll("style, link").length };
}"""


def host_app(pages: dict[str, str]):
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    def page(request):
        return HTMLResponse(pages[request.url.path])

    return Starlette(routes=[Route(path, page) for path in pages])


def host_pages(app_url: str) -> dict[str, str]:
    def tag(**options) -> str:
        values = {"app": app_url, "title": TITLE, "welcome": WELCOME, "color": GREEN[0],
                  "position": "right", **options}
        return WIDGET_TAG.format(**values)

    return {
        "/": HOST_PAGE.format(meta="", body=tag()),
        "/plain": HOST_PAGE.format(meta="", body=""),
        "/left": HOST_PAGE.format(meta="", body=tag(position="left",
                                                   color="red;}:host{display:none")),
        # Without a Referer the server cannot tell the site and serves widget.js; the browser
        # must still refuse to frame /embed (CSP frame-ancestors).
        "/no-referrer": HOST_PAGE.format(meta='<meta name="referrer" content="no-referrer">',
                                         body=tag()),
        "/frame": HOST_PAGE.format(meta="", body=f'<iframe id="direct" src="{app_url}/embed">'
                                                 "</iframe>"),
    }


@pytest.fixture(scope="module")
def allowed_host(live_server, widget_host_port):
    """A site on http://127.0.0.2:<port>, which IS in the app's IREV_WIDGET_ORIGINS."""
    app = host_app(host_pages(live_server.url))
    with LiveServer(app, host="127.0.0.2", port=widget_host_port) as server:
        yield server


@pytest.fixture(scope="module")
def foreign_host(live_server):
    """A site on another origin (127.0.0.1, another port), not in the allow-list."""
    with LiveServer(host_app(host_pages(live_server.url))) as server:
        yield server


def launcher(page):
    return page.locator("[data-irev-assistant]").get_by_role("button", name=TITLE)


def embed_frame(page):
    return page.frame_locator("[data-irev-assistant] iframe")


def launcher_focused(page) -> bool:
    return page.evaluate("""() => {
        const host = document.activeElement;
        return Boolean(host && host.shadowRoot &&
                       host.shadowRoot.activeElement?.classList.contains("launcher"));
    }""")


def test_widget_opens_a_cited_chat_and_leaves_the_host_styles_alone(open_page, live_server,
                                                                     allowed_host):
    page = open_page()
    page.goto(f"{allowed_host.url}/plain")
    without_widget = page.evaluate(HOST_STYLES_JS)

    page.goto(allowed_host.url)
    button = launcher(page)
    expect(button).to_be_visible()
    assert page.evaluate(HOST_STYLES_JS) == without_widget
    # The host's `button { color: red !important; font-size: 40px }` does not reach ours.
    color, size, background = button.evaluate(
        "e => [getComputedStyle(e).color, getComputedStyle(e).fontSize,"
        " getComputedStyle(e).backgroundColor]")
    assert (color, size, background) == ("rgb(255, 255, 255)", "16px", GREEN[1])
    expect(button).to_have_attribute("aria-expanded", "false")

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    iframe = page.locator("[data-irev-assistant] iframe")
    expect(iframe).to_have_attribute("src", re.compile(rf"^{re.escape(live_server.url)}/embed\?"))
    assert iframe.evaluate("e => getComputedStyle(e).borderTopStyle") == "none"
    frame = embed_frame(page)
    expect(frame.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(frame.locator("[data-embed-welcome]")).to_have_text(WELCOME)
    expect(frame.get_by_label("Votre question", exact=True)).to_be_focused()
    assert frame.locator("[data-submit]").evaluate(
        "e => getComputedStyle(e).backgroundColor") == GREEN[1]

    exchange = ask(frame, LAMY)
    expect(exchange.locator(".answer-text")).not_to_contain_text("Je n'ai pas trouvé")
    exchange.locator("button.cite").first.click()
    dialog = frame.get_by_role("dialog")
    expect(dialog).to_contain_text("Lamy")
    expect(dialog.locator("blockquote mark").first).to_be_visible()
    assert page.evaluate(HOST_STYLES_JS) == without_widget

    page.keyboard.press("Escape")  # closes the passage, inside the iframe
    expect(dialog).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")  # then the widget
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(page.locator("[data-irev-assistant] .panel")).to_be_hidden()
    assert launcher_focused(page)

    button.click()  # the conversation is still there
    expect(embed_frame(page).locator(".exchange")).to_have_count(1)
    assert page.problems == []


def test_widget_works_with_the_keyboard(open_page, allowed_host):
    page = open_page()
    page.goto(allowed_host.url)
    for _ in range(10):
        page.keyboard.press("Tab")
        if launcher_focused(page):
            break
    assert launcher_focused(page)
    outline = launcher(page).evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    frame = embed_frame(page)
    expect(frame.get_by_label("Votre question", exact=True)).to_be_focused()
    page.keyboard.type(LAMY)
    page.keyboard.press("Enter")
    frame.locator(".feedback").wait_for()
    for _ in range(30):
        page.keyboard.press("Tab")
        if frame.locator("button.cite:focus").count():
            break
    page.keyboard.press("Enter")
    expect(frame.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(frame.get_by_role("dialog")).to_be_hidden()
    expect(frame.locator("button.cite:focus")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    assert launcher_focused(page)
    assert page.problems == []


def test_widget_options_are_validated(open_page, live_server, allowed_host):
    page = open_page()
    page.goto(f"{allowed_host.url}/left")
    button = launcher(page)
    box = button.bounding_box()
    assert box["x"] < 100  # data-position="left"
    # An invalid colour is ignored (default blue), never injected into a stylesheet.
    assert button.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 0, 145)"
    button.click()
    src = page.locator("[data-irev-assistant] iframe").get_attribute("src")
    assert "display" not in src and "color=%23000091" in src
    expect(embed_frame(page).get_by_label("Votre question", exact=True)).to_be_visible()

    # The embed page itself validates what it reads from the query string.
    payload = '<img src=x onerror="window.__xss=5">'
    page.goto(f"{live_server.url}/embed?title={quote(payload)}&welcome={quote(payload)}"
              "&color=red;background:url(x)")
    expect(page.get_by_role("heading", level=1)).to_have_text(payload)
    expect(page.locator("[data-embed-welcome]")).to_have_text(payload)
    assert page.locator("img").count() == 0
    accent = page.evaluate("() => document.documentElement.style.getPropertyValue('--accent')")
    assert accent == ""
    assert page.evaluate("() => typeof window.__xss") == "undefined"

    # A pale colour keeps readable text: dark text on it, dark text instead of it on white.
    page.goto(f"{live_server.url}/embed?color=%23ffd700")
    assert page.locator("[data-submit]").evaluate(
        "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]"
    ) == ["rgb(255, 215, 0)", "rgb(22, 22, 22)"]
    assert page.locator("[data-starter]").first.evaluate(
        "e => getComputedStyle(e).borderLeftColor") == "rgb(255, 215, 0)"
    assert page.get_by_role("button", name="Nouvelle conversation").evaluate(
        "e => getComputedStyle(e).color") == "rgb(22, 22, 22)"
    assert page.problems == []


def test_widget_is_refused_on_a_site_not_in_the_allow_list(open_page, live_server, allowed_host,
                                                           foreign_host):
    page = open_page()
    # 1. widget.js answers a one-line warning instead of the widget: no button.
    with page.expect_console_message(lambda m: "pas autorisé" in m.text) as message:
        page.goto(foreign_host.url)
    assert message.value.type == "warning"
    expect(page.locator("#host-title")).to_be_visible()
    assert page.locator("[data-irev-assistant]").count() == 0

    # 2. /embed cannot be framed there (CSP frame-ancestors), while the allowed site can.
    page.goto(f"{allowed_host.url}/frame")
    expect(page.frame_locator("#direct").get_by_label("Votre question", exact=True)
           ).to_be_attached()
    page.goto(f"{foreign_host.url}/frame")
    framed = page.locator("#direct").element_handle().content_frame()
    assert not framed.url.startswith(live_server.url)
    assert framed.locator("#question").count() == 0

    # 3. Even if widget.js is served (no Referer to judge by), the chat stays out, and the
    #    panel explains why in French.
    page.goto(f"{foreign_host.url}/no-referrer")
    launcher(page).click()
    alert = page.locator("[data-irev-assistant] .fallback")
    expect(alert).to_contain_text("L'assistant ne peut pas s'afficher ici.", timeout=15_000)
    expect(alert.get_by_role("link")).to_have_attribute("href", f"{live_server.url}/")
    assert embed_frame(page).locator("#question").count() == 0
    screenshot(page, "widget-desktop-refuse")
    page.keyboard.press("Escape")
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")


def test_markup_in_documents_and_questions_is_inert_in_the_widget(open_page, allowed_host):
    page = open_page()
    page.goto(allowed_host.url)
    launcher(page).click()
    frame = embed_frame(page)
    exchange = ask(frame, ZANZIBAR)
    # the answer quotes the sentence without its markup (issue 11); the passage and the
    # title below are shown literally, as text
    answer = exchange.locator(".answer-text")
    expect(answer).to_contain_text("zanzibarwindow.__xss=2 selon cette note")
    expect(answer).not_to_contain_text("<img")
    exchange.locator("button.cite").first.click()
    expect(frame.locator("[data-passage-title]")).to_contain_text(
        '<script>alert("xss-titre")</script>')
    frame.locator("blockquote").hover()
    frame.get_by_role("button", name="Fermer", exact=True).last.click()
    second = ask(frame, PAYLOAD_QUESTION, exchanges=2)
    expect(second.locator(".bubble--question")).to_contain_text(PAYLOAD_QUESTION)

    assert frame.locator("main img, main script, main b, dialog img, dialog b").count() == 0
    embed = next(f for f in page.frames if "/embed" in f.url)
    assert embed.evaluate("() => typeof window.__xss") == "undefined"
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert page.problems == []


@pytest.mark.parametrize("name,viewport", [("desktop", DESKTOP), ("phone", PHONE)])
def test_widget_screenshots(open_page, allowed_host, name, viewport):
    page = open_page(viewport)
    page.goto(allowed_host.url)
    button = launcher(page)
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box["x"] + box["width"] <= viewport["width"] and box["y"] + box["height"] <= \
        viewport["height"]
    screenshot(page, f"widget-{name}-ferme")
    button.click()
    frame = embed_frame(page)
    expect(frame.locator("[data-embed-welcome]")).to_be_visible()
    panel = page.locator("[data-irev-assistant] .panel").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= viewport["width"]
    screenshot(page, f"widget-{name}-ouvert")
    exchange = ask(frame, LAMY)
    screenshot(page, f"widget-{name}-reponse")
    exchange.locator("button.cite").first.click()
    expect(frame.get_by_role("dialog")).to_be_visible()
    screenshot(page, f"widget-{name}-passage")
    assert page.problems == []
