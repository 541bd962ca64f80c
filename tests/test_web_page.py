"""The chat page (`GET /`) in the real Debian Chromium, against the real app on uvicorn with the
real test index: streaming, citations, passage panel, feedback, reload, keyboard, XSS, layout."""

import re

import pytest
from conftest import LiveServer, make_settings
from conftest_web import (
    COLORS_JS,
    DESKTOP,
    PHONE,
    ask,
    contrast,
    screenshot,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
pytest_plugins = ["conftest_web"]  # fixtures: browser (session), open_page

NOT_FOUND = "Je n'ai pas trouvé cette information dans les documents disponibles."
LAMY = "Que dit la loi Lamy sur les conseils citoyens ?"
PDF_QUESTION = "Qui préside le comité interministériel des villes ?"
ZANZIBAR = "Quel est le mot de passe du coffre municipal de Zanzibar ?"
PAYLOAD_QUESTION = 'Et ceci ? <img src=x onerror="window.__xss=9"><script>window.__xss=8</script>'

# Records each rendering of an answer's text, to prove the answer is drawn while it streams.
RENDERS_JS = """
window.__renders = [];
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) {
      if (node.classList && node.classList.contains("answer-text")) {
        window.__renders.push({ length: node.textContent.length, text: node.textContent,
                                cites: [...node.querySelectorAll("button.cite")].map(
                                  (button) => button.textContent),
                                done: document.querySelectorAll(".feedback").length });
      }
    }
  }).observe(document.body, { childList: true, subtree: true });
});
"""


def conversation_id(page) -> str | None:
    return page.evaluate("() => localStorage.getItem('irev-assistant:conversation')")


def test_streamed_answer_cites_passages_that_open_in_a_panel(open_page, live_server):
    page = open_page()
    page.add_init_script(RENDERS_JS)
    page.goto(live_server.url)
    expect(page).to_have_title(re.compile("Assistant documentaire"))
    expect(page.get_by_role("button", name="Combien de quartiers prioritaires compte la région ?")
           ).to_be_visible()
    expect(page.locator("[data-messages]")).to_have_attribute("aria-live", "polite")

    with page.expect_response("**/api/chat/stream") as response:
        exchange = ask(page, LAMY)
    assert response.value.status == 200
    assert response.value.headers["content-type"].startswith("text/event-stream")

    renders = page.evaluate("() => window.__renders")
    partial = [r for r in renders if r["done"] == 0]
    assert len(partial) >= 3, renders  # drawn token by token, before the final answer
    assert partial[0]["length"] < partial[-1]["length"]
    assert any(r["cites"] for r in partial), "[n] are clickable while the answer streams"

    answer = exchange.locator(".answer-text")
    expect(answer).not_to_have_text(NOT_FOUND)
    expect(exchange.locator(".bubble--question")).to_contain_text(LAMY)
    expect(exchange.get_by_role("heading", name=re.compile("^Sources?$"))).to_be_visible()

    first = answer.locator("button.cite").first
    expect(first).to_have_text("1")
    expect(first).to_have_accessible_name(re.compile(r"^Source 1 : .*Lamy"))
    first.click()
    dialog = page.get_by_role("dialog", name=re.compile("Lamy"))
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-passage-kicker]")).to_have_text("Source [1]")
    expect(dialog.locator("dd").filter(has_text="21 février 2014")).to_have_count(1)
    expect(dialog.locator("dd").filter(has_text=re.compile(r"Article \d+"))).to_have_count(1)
    marks = [m.lower() for m in dialog.locator("blockquote mark").all_inner_texts()]
    assert any(m.startswith("conseil") for m in marks) and any(m.startswith("citoyen") for m in
                                                                 marks), marks
    link = dialog.get_by_role("link", name=re.compile("Ouvrir le document source"))
    expect(link).to_have_attribute("href", re.compile(r"^https://www\.legifrance\.gouv\.fr/"))
    expect(link).to_have_attribute("target", "_blank")

    dialog.get_by_role("button", name="Fermer").click()
    expect(dialog).to_be_hidden()
    expect(first).to_be_focused()  # focus goes back where it was
    assert page.problems == []


def test_pdf_citation_opens_the_source_at_the_cited_page(open_page, live_server):
    page = open_page()
    page.goto(live_server.url)
    exchange = ask(page, PDF_QUESTION)
    exchange.locator("button.cite").first.click()
    dialog = page.locator("dialog[open]")
    link = dialog.get_by_role("link", name=re.compile(r"Ouvrir le document à la page \d+"))
    href = link.get_attribute("href")
    page_number = re.search(r"#page=(\d+)$", href).group(1)
    assert re.search(r"/api/documents/[^/]+\.pdf/file#page=\d+$", href), href
    expect(dialog.locator("dd").filter(has_text=f"page {page_number}")).to_have_count(1)
    source = page.request.get(href)
    assert source.status == 200 and source.headers["content-type"] == "application/pdf"
    assert page.problems == []


def test_unanswered_question_shows_close_documents_as_suggestions(open_page, live_server):
    page = open_page()
    page.goto(live_server.url)
    exchange = ask(page, "Quelle est la recette de la tarte au maroilles ?")
    expect(exchange.locator(".answer-text")).to_have_text(NOT_FOUND)
    expect(exchange.locator("button.cite")).to_have_count(0)
    expect(exchange.locator(".sources:not(.sources--suggestions)")).to_have_count(0)
    suggestions = exchange.locator(".sources--suggestions")
    expect(suggestions.get_by_role("heading")).to_contain_text(
        "ce ne sont pas des sources de la réponse")
    suggestions.get_by_role("button").first.click()
    expect(page.locator("dialog[open] [data-passage-kicker]")).to_contain_text("suggestion")
    assert page.problems == []


def test_thumbs_up_and_down_reach_the_feedback_store(open_page, live_server, assistant):
    page = open_page()
    page.goto(live_server.url)
    first = ask(page, LAMY)
    first.get_by_role("button", name="Utile", exact=True).click()
    expect(first.locator(".feedback-thanks")).to_have_text("Merci pour votre retour.")
    expect(first.get_by_role("button", name="Utile", exact=True)).to_have_attribute(
        "aria-pressed", "true")
    conversation = conversation_id(page)
    rows = [r for r in assistant.store.feedback() if r["conversation_id"] == conversation]
    assert [(r["rating"], r["question"]) for r in rows] == [(1, LAMY)]
    assert "[1]" in rows[0]["answer"]

    second = ask(page, PDF_QUESTION, exchanges=2)
    second.get_by_role("button", name="Pas utile").click()
    comment = second.get_by_label("Qu'est-ce qui n'allait pas ? (facultatif)")
    expect(comment).to_be_focused()
    comment.fill("Il manque le décret de 2015.")
    second.get_by_role("button", name="Envoyer mon avis").click()
    expect(second.locator(".feedback-thanks")).to_have_text("Merci pour votre retour.")
    rows = [r for r in assistant.store.feedback() if r["conversation_id"] == conversation]
    assert [(r["rating"], r["comment"]) for r in rows] == [(1, ""),
                                                           (-1, "Il manque le décret de 2015.")]
    assert page.problems == []


def test_reload_restores_the_conversation_until_a_new_one_starts(open_page, live_server):
    page = open_page()
    page.goto(live_server.url)
    exchange = ask(page, LAMY)
    answer = exchange.locator(".answer-text").inner_text()
    conversation = conversation_id(page)
    assert conversation

    page.reload()
    restored = page.locator(".exchange")
    expect(restored).to_have_count(1)
    expect(restored.locator(".bubble--question")).to_contain_text(LAMY)
    expect(restored.locator(".answer-text")).to_have_text(answer)
    expect(page.locator("[data-welcome]")).to_be_hidden()
    restored.locator("button.cite").first.click()
    expect(page.locator("dialog[open] [data-passage-title]")).to_contain_text("Lamy")
    page.keyboard.press("Escape")

    # A follow-up question continues the same conversation.
    ask(page, "Et qui les compose ?", exchanges=2)
    assert conversation_id(page) == conversation

    page.get_by_role("button", name="Nouvelle conversation").click()
    expect(page.locator(".exchange")).to_have_count(0)
    expect(page.locator("[data-welcome]")).to_be_visible()
    expect(page.get_by_label("Votre question", exact=True)).to_be_focused()
    assert conversation_id(page) is None
    page.reload()
    expect(page.locator("[data-welcome]")).to_be_visible()
    expect(page.locator(".exchange")).to_have_count(0)
    assert page.problems == []


def focused(page) -> dict:
    return page.evaluate("""() => {
        const e = document.activeElement;
        const style = getComputedStyle(e);
        return { id: e.id, cls: e.className, text: e.textContent.trim(),
                 outline: style.outlineStyle, inDialog: Boolean(e.closest("dialog")) };
    }""")


def tab_until(page, predicate, limit: int = 40, key: str = "Tab") -> dict:
    for _ in range(limit):
        page.keyboard.press(key)
        state = focused(page)
        if predicate(state):
            return state
    raise AssertionError(f"not reached with {key}; last focus: {state}")


def test_keyboard_only_flow(open_page, live_server):
    page = open_page()
    page.goto(live_server.url)
    first = tab_until(page, lambda f: True, limit=1)
    assert "Aller au champ de question" in first["text"]  # skip link first
    box = tab_until(page, lambda f: f["id"] == "question")
    assert box["outline"] != "none"  # visible focus
    page.keyboard.type(LAMY)
    page.keyboard.press("Enter")
    page.locator(".feedback").wait_for()
    assert focused(page)["id"] == "question"  # ready for a follow-up

    cite = tab_until(page, lambda f: "cite" in f["cls"].split())
    assert cite["outline"] != "none" and cite["text"] == "1"
    page.keyboard.press("Enter")
    expect(page.locator("dialog[open]")).to_be_visible()
    assert focused(page)["inDialog"]
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert "cite" in focused(page)["cls"].split()  # back on the citation

    # Thumbs up by keyboard too.
    tab_until(page, lambda f: f["text"] == "Utile")
    page.keyboard.press("Enter")
    expect(page.locator(".feedback-thanks")).to_have_text("Merci pour votre retour.")
    assert page.problems == []


def test_markup_in_documents_and_questions_is_shown_as_text(open_page, live_server):
    """Regression guard: document titles/passages and questions never reach innerHTML."""
    page = open_page()
    page.goto(live_server.url)
    exchange = ask(page, ZANZIBAR)
    # the answer quotes the sentence without its markup (issue 11); the passage and the
    # title below are shown literally, as text
    answer = exchange.locator(".answer-text")
    expect(answer).to_contain_text("zanzibarwindow.__xss=2 selon cette note")
    expect(answer).not_to_contain_text("<img")
    exchange.locator("button.cite").first.click()
    dialog = page.locator("dialog[open]")
    expect(dialog.locator("[data-passage-title]")).to_contain_text(
        '<script>alert("xss-titre")</script>')
    expect(dialog.locator("blockquote")).to_contain_text('<b onmouseover="window.__xss=3">')
    expect(exchange.locator(".source-label")).to_contain_text('<script>alert("xss-titre")</script>')
    dialog.locator("blockquote").hover()
    page.keyboard.press("Escape")

    second = ask(page, PAYLOAD_QUESTION, exchanges=2)
    expect(second.locator(".bubble--question")).to_contain_text(PAYLOAD_QUESTION)
    page.reload()  # the restored conversation is rendered the same safe way
    expect(page.locator(".exchange")).to_have_count(2)
    expect(page.locator(".bubble--question").nth(1)).to_contain_text(PAYLOAD_QUESTION)

    injected = "main img, main script, main b, dialog img, dialog script, dialog b"
    assert page.locator(injected).count() == 0
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert page.problems == []


def test_server_errors_are_shown_in_french(open_page, built_data_dir, embedder, tmp_path):
    """A real app whose index is absent: the stream answers 503 with a French message."""
    from assistant.answer import build_assistant
    from assistant.api import create_app
    from assistant.store import Store

    settings = make_settings(built_data_dir)
    empty = build_assistant(tmp_path / "index", embedder,
                            Store(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    with LiveServer(create_app(settings, empty)) as server:
        page = open_page()
        page.goto(server.url)
        box = page.get_by_label("Votre question", exact=True)
        box.fill(LAMY)
        box.press("Enter")
        error = page.locator(".exchange .error")
        expect(error).to_contain_text("Aucun document n'est encore indexé")
        expect(box).to_have_value(LAMY)  # given back, to retry
        expect(page.get_by_role("button", name="Envoyer")).to_be_enabled()


def test_llm_answer_keeps_the_streamed_numbers_and_never_shows_unchecked_text(
        open_page, settings, embedder, tmp_path):
    """With an LLM (the fake OpenAI-compatible server): the streamed [n] and the final [n] are
    the same passage's; text the model wrote but that never formed a checked sentence is never
    shown, and the extractive fallback replaces it after a `reset`."""
    from fake_llm import FakeLLM

    from assistant.answer import FALLBACK_NOTICE, build_assistant
    from assistant.api import create_app
    from assistant.llm import LLM
    from assistant.store import Store
    from ingest.text import split_sentences

    fake = FakeLLM()
    with LiveServer(fake.app) as llm_server:
        llm = LLM(f"{llm_server.url}/v1", "fake", timeout=5.0)
        store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
        with_llm = build_assistant(settings.index_dir, embedder, store, llm=llm,
                                   top_k=settings.top_k, fusion=settings.fusion,
                                   rrf_k=settings.rrf_k)
        second = with_llm.search(LAMY, settings.top_k)[1]
        sentence = split_sentences(second.text)[0].rstrip(".")
        fake.enqueue(f"{sentence} [2].", token_delay=0.02)
        fake.enqueue("Zorglub " * 60, token_delay=0.2)  # too slow: the 5 s budget runs out

        with LiveServer(create_app(settings, with_llm)) as server:
            page = open_page()
            page.add_init_script(RENDERS_JS)
            page.goto(server.url)
            exchange = ask(page, LAMY)
            streamed = [r for r in page.evaluate("() => window.__renders") if r["done"] == 0]
            assert any(r["cites"] == ["2"] for r in streamed), streamed  # candidate numbering
            cite = exchange.locator("button.cite")
            expect(cite).to_have_count(1)
            expect(cite).to_have_text("2")  # the same number in the final answer
            cite.click()
            expect(page.locator("dialog[open] blockquote")).to_contain_text(sentence)
            page.keyboard.press("Escape")

            page.evaluate("() => { window.__renders = []; }")
            exchange = ask(page, "Et qui les compose ?", exchanges=2)
            streamed = [r["text"] for r in page.evaluate("() => window.__renders")]
            assert not any("Zorglub" in text for text in streamed)  # never a checked sentence
            expect(exchange).not_to_contain_text("Zorglub")
            expect(exchange.locator(".notice")).to_have_text(FALLBACK_NOTICE)
            expect(exchange.locator("button.cite").first).to_be_visible()
            assert page.problems == []


@pytest.mark.parametrize("name,viewport", [("desktop", DESKTOP), ("phone", PHONE)])
def test_layout_contrast_and_screenshots(open_page, live_server, name, viewport):
    page = open_page(viewport)
    page.goto(live_server.url)
    screenshot(page, f"page-{name}-accueil")
    exchange = ask(page, LAMY)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= viewport["width"], "no horizontal scrolling"
    for selector in [".answer-text", ".bubble--question", "button.cite", ".source-label",
                     ".source-where", ".feedback-label", "[data-submit]", ".composer-label"]:
        fg, bg = page.locator(selector).first.evaluate(COLORS_JS)
        assert contrast(fg, bg) >= 4.5, (selector, fg, bg)
    screenshot(page, f"page-{name}-reponse")

    exchange.locator("button.cite").first.click()
    dialog = page.locator("dialog[open]")
    box = dialog.bounding_box()
    if name == "phone":  # a bottom sheet
        assert box["y"] > 0 and abs(box["y"] + box["height"] - viewport["height"]) < 2
        assert box["width"] == viewport["width"]
    else:  # a side panel on the right
        assert box["x"] > viewport["width"] / 2 and box["height"] == viewport["height"]
    fg, bg = dialog.locator("blockquote mark").first.evaluate(COLORS_JS)
    assert contrast(fg, bg) >= 4.5
    screenshot(page, f"page-{name}-passage")
    assert page.problems == []
