"""The chat API through the real app (TestClient with lifespan) on the real index."""

import json

import httpx
import pytest
from conftest import ADMIN_KEY, DATA, LiveServer, clone_data_dir, make_assistant, make_settings
from fastapi.testclient import TestClient
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent

from assistant.answer import NOT_FOUND
from assistant.api import create_app

IREV_2022 = "2023-03-29_assemblee-generale-bilan-2022.txt"
LAMY = "01_loi-2014-173-lamy-programmation-ville-cohesion-urbaine.md"
CNV_PDF = "05_decret-2015-77-cnv-civ-onpv-instances-politique-ville.pdf"


def ask(client, question, conversation_id=None):
    response = client.post("/api/chat", json={"question": question,
                                              "conversation_id": conversation_id})
    assert response.status_code == 200, response.text
    return response.json()


def test_chat_cites_the_passage_that_holds_the_figure(client):
    body = ask(client, "Combien de participants ont suivi les actions de l'IREV en 2022 ?")
    assert body["grounded"] is True
    assert "1500" in body["answer"]
    cited = [c for c in body["citations"] if "1500" in c["text"]]
    assert cited and cited[0]["document_id"] == IREV_2022
    assert f"[{cited[0]['n']}]" in body["answer"]
    assert cited[0]["url"].startswith("https://www.irev.fr/")
    assert [c["n"] for c in body["citations"]] == list(range(1, len(body["citations"]) + 1))


class _EmbeddedTexts(BaseEventHandler):
    """Collects every text llama-index embeds, through its public instrumentation events."""

    texts: list[str] = []

    @classmethod
    def class_name(cls) -> str:
        return "EmbeddedTexts"

    def handle(self, event, **kwargs) -> None:
        if isinstance(event, EmbeddingEndEvent):
            self.texts.extend(event.chunks)


def test_an_extractive_answer_embeds_the_question_only(assistant):
    """The candidate sentences' vectors come from the index (embedded at ingest): answering
    costs the question's embeddings only (the question, its acronyms spelled out), each once
    (search and the answer step share it), not one per candidate sentence. No other test asks
    this wording, so the query-vector cache cannot hold it and at least one embedding is due."""
    handler = _EmbeddedTexts(texts=[])
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(handler)
    try:
        answer = assistant.ask("Combien de participants les actions de l'IREV ont-elles réunis "
                               "en 2022 ?", history=[])
    finally:
        dispatcher.event_handlers.remove(handler)
    assert answer.grounded and "1500" in answer.answer
    assert 1 <= len(handler.texts) <= 2 and len(set(handler.texts)) == len(handler.texts), \
        handler.texts
    assert all("IREV" in text for text in handler.texts), handler.texts


def test_how_many_is_answered_by_the_sentence_with_the_count(client):
    """« la région » is Hauts-de-France; a count question is answered by a sentence that gives a
    count of that noun (« 199 quartiers »), not by a definition or an article number."""
    body = ask(client, "Combien de quartiers prioritaires compte la région ?")
    assert body["grounded"] is True, body
    assert "199 quartiers" in body["answer"]
    assert body["citations"][0]["document_id"] == IREV_2022


def test_only_cited_passages_are_returned(client):
    body = ask(client, "Combien de quartiers Politique de la Ville compte la région "
                       "Hauts-de-France ?")
    numbers = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", body["answer"])}
    assert numbers == {c["n"] for c in body["citations"]}
    assert any("199 quartiers" in c["text"] for c in body["citations"])


def test_pdf_citations_give_the_right_page_and_open_the_file(client):
    from conftest import DECREE_CNV_PDF
    from pypdf import PdfReader

    body = ask(client, "Qui préside le Conseil national des villes ?")
    pdf_cites = [c for c in body["citations"] if c["document_id"] == CNV_PDF]
    assert pdf_cites, body
    pages = PdfReader(DECREE_CNV_PDF).pages
    for cite in pdf_cites:
        page_text = " ".join(pages[cite["page"] - 1].extract_text().split())
        assert " ".join(cite["text"].split()[:6]) in page_text
        assert cite["url"] == f"/api/documents/{CNV_PDF}/file#page={cite['page']}"
    response = client.get(f"/api/documents/{CNV_PDF}/file")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


@pytest.mark.parametrize(("question", "document", "article"), [
    ("Que dit l'article 7 de la loi Lamy ?", LAMY, "7"),
    ("Que prévoit l'article L. 2143-1 du CGCT ?", "11_codes-cgct-politique-de-la-ville.md",
     "l2143-1"),
    ("article 5 de la loi du 21 février 2014", LAMY, "5"),
])
def test_a_named_legal_reference_goes_straight_to_that_article(client, question, document,
                                                                article):
    body = ask(client, question)
    assert body["grounded"], body
    first = body["citations"][0]
    assert (first["document_id"], first["article"]) == (document, article)
    hits = client.get("/api/search", params={"q": question, "k": 3}).json()["results"]
    assert (hits[0]["document_id"], hits[0]["article"]) == (document, article)


@pytest.mark.parametrize("question", [
    "Donne-moi une recette de tarte aux pommes.",
    "Quelle est la population de Lille ?",
    "Quel est le budget annuel de l'IREV ?",  # let through before the adapter (session 12)
    "Qui a gagné la coupe du monde de football 2018 ?",
    "Combien d'habitants compte la ville de Lille ?",
])
def test_out_of_domain_questions_abstain_with_suggestions(client, question):
    body = ask(client, question)
    assert body["grounded"] is False
    assert body["answer"] == NOT_FOUND
    assert body["citations"] == []
    assert body["suggestions"]


def test_follow_up_questions_are_rewritten_from_the_conversation(client):
    first = ask(client, "Que dit la loi Lamy sur les contrats de ville ?")
    second = ask(client, "et pour les conseils citoyens ?", first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"]
    assert second["standalone_question"] == "Que dit la loi Lamy sur les conseils citoyens ?"
    assert any(c["article"] == "7" for c in second["citations"])
    history = client.get(f"/api/conversations/{first['conversation_id']}").json()["messages"]
    assert [m["question"] for m in history] == ["Que dit la loi Lamy sur les contrats de ville ?",
                                                "et pour les conseils citoyens ?"]


def test_search_documents_and_health(client):
    results = client.get("/api/search", params={"q": "conseil citoyen", "k": 4}).json()["results"]
    assert len(results) == 4 and all(r["text"] for r in results)
    documents = client.get("/api/documents").json()["documents"]
    ids = {d["document_id"] for d in documents}
    assert {IREV_2022, LAMY, CNV_PDF} <= ids
    assert all("source_path" not in d for d in documents)  # no server paths leak
    detail = client.get(f"/api/documents/{LAMY}").json()
    assert "Article 7" in detail["sections"]
    assert client.get("/api/documents/inconnu").status_code == 404
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["chunks"] > 100
    assert "/api/chat" in client.get("/openapi.json").json()["paths"]


def test_feedback_is_stored(client, assistant):
    body = ask(client, "Combien de participants ont suivi les actions de l'IREV en 2022 ?")
    before = len(assistant.store.feedback())
    response = client.post("/api/feedback", json={
        "conversation_id": body["conversation_id"], "question": "Combien ?",
        "answer": body["answer"], "rating": -1, "comment": "Il manque le chiffre 2021.",
    })
    assert response.status_code == 201
    rows = assistant.store.feedback()
    assert len(rows) == before + 1 and rows[-1]["comment"] == "Il manque le chiffre 2021."


@pytest.mark.parametrize(("kwargs", "status", "words"), [
    ({"content": b"{pas du json"}, 422, "JSON mal formé"),
    ({"json": {}}, 422, "champ obligatoire manquant"),
    ({"json": {"question": ""}}, 422, "texte trop court"),
    ({"json": {"question": "   "}}, 422, "La question est vide"),
    ({"json": {"question": "x" * 1500}}, 422, "Question trop longue"),
    ({"json": {"question": 42}}, 422, "texte attendu"),
    ({"json": {"question": "ok", "conversation_id": "../../etc"}}, 422, "format invalide"),
    ({"json": ["question"]}, 422, "Requête invalide"),
    ({"content": b"{\"question\": \"" + b"a" * 40_000 + b"\"}"}, 413, "trop volumineuse"),
])
def test_malformed_or_oversized_requests_get_a_french_4xx(client, kwargs, status, words):
    headers = {"content-type": "application/json"}
    response = client.post("/api/chat", headers=headers, **kwargs)
    assert response.status_code == status
    assert words in response.json()["detail"]
    assert "Traceback" not in response.text


def test_unknown_routes_and_methods_answer_in_french(client):
    assert client.get("/api/nulle-part").json()["detail"] == "Ressource introuvable."
    assert client.get("/api/chat").json()["detail"] == "Méthode non autorisée."


def test_security_headers_are_sent(client):
    page = client.get("/healthz")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_rate_limit_refuses_floods_in_french(built_data_dir, assistant):
    settings = make_settings(built_data_dir, rate_limit="3/minute")
    with TestClient(create_app(settings, assistant)) as client:
        codes = [client.get("/api/search", params={"q": "quartier"}).status_code
                 for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        refused = client.get("/api/search", params={"q": "quartier"})
        assert "Trop de requêtes" in refused.json()["detail"]
        assert client.get("/healthz").status_code == 200  # health is never limited


def test_cors_allows_only_configured_origins(built_data_dir, assistant):
    settings = make_settings(built_data_dir, cors_origins=["https://www.irev.fr"])
    with TestClient(create_app(settings, assistant)) as client:
        good = client.options("/api/chat", headers={"origin": "https://www.irev.fr",
                                                    "access-control-request-method": "POST"})
        bad = client.options("/api/chat", headers={"origin": "https://pirate.example",
                                                   "access-control-request-method": "POST"})
    assert good.headers.get("access-control-allow-origin") == "https://www.irev.fr"
    assert "access-control-allow-origin" not in bad.headers


# -- admin ------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"x-api-key": "mauvaise"}, {"authorization": "Bearer x"}])
@pytest.mark.parametrize(("method", "path"), [
    ("post", "/api/documents"), ("delete", f"/api/documents/{IREV_2022}"), ("post", "/api/reindex"),
])
def test_admin_routes_refuse_without_the_key(client, headers, method, path):
    response = getattr(client, method)(path, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "Clé d'administration absente ou invalide."


def test_admin_is_disabled_when_no_key_is_configured(built_data_dir, assistant):
    settings = make_settings(built_data_dir, admin_api_key=None)
    with TestClient(create_app(settings, assistant)) as client:
        response = client.post("/api/reindex", headers={"x-api-key": ""})
    assert response.status_code == 403 and "IREV_ADMIN_API_KEY" in response.json()["detail"]


def test_upload_delete_and_reindex_swap_the_served_index(built_data_dir, tmp_path, embedder):
    data_dir = clone_data_dir(built_data_dir, tmp_path / "data")
    settings = make_settings(data_dir)
    private = make_assistant(settings, embedder)
    key = {"x-api-key": ADMIN_KEY}
    question = "Combien de jardins partagés la Maison du projet de Wattrelos anime-t-elle ?"
    upload = ("jardins.md", "# Jardins partagés\n\nLa Maison du projet de Wattrelos anime "
                            "quatorze jardins partagés au pied des immeubles.\n", "text/markdown")
    with TestClient(create_app(settings, private)) as client:
        assert not ask(client, question)["grounded"]
        response = client.post("/api/documents", headers=key, files={"file": upload})
        assert response.status_code == 201, response.text
        assert response.json()["indexed"] == ["jardins.md"]
        body = ask(client, question)
        assert body["grounded"] and body["citations"][0]["document_id"] == "jardins.md"
        refused = client.post("/api/documents", headers=key,
                              files={"file": ("tableau.xlsx", b"PK", "application/zip")})
        assert refused.status_code == 422 and "Format non pris en charge" in refused.text
        broken = client.post("/api/documents", headers=key,
                             files={"file": ("casse.pdf", b"%PDF-1.4 tronque", "application/pdf")})
        assert broken.status_code == 422 and "PDF" in broken.json()["detail"]
        assert client.delete("/api/documents/jardins.md", headers=key).status_code == 200
        assert not ask(client, question)["grounded"]
        assert client.delete("/api/documents/jardins.md", headers=key).status_code == 404
        reindexed = client.post("/api/reindex", headers=key).json()
        assert reindexed["indexed"] == [] and reindexed["removed"] == []


def test_upload_names_cannot_escape_the_uploads_folder(built_data_dir, tmp_path, embedder):
    data_dir = clone_data_dir(built_data_dir, tmp_path / "data")
    settings = make_settings(data_dir)
    private = make_assistant(settings, embedder)
    with TestClient(create_app(settings, private)) as client:
        response = client.post("/api/documents", headers={"x-api-key": ADMIN_KEY}, files={
            "file": ("../../evil.txt", "Texte déposé avec un nom piégé.".encode(), "text/plain")})
    assert response.status_code == 201
    assert (data_dir / "uploads" / "evil.txt").is_file()
    assert not (data_dir.parent / "evil.txt").exists()


# -- streaming and OpenAI compatibility, over a real uvicorn ----------------------------------

def sse_events(response: httpx.Response) -> list[tuple[str, str]]:
    events, kind = [], "message"
    for line in response.iter_lines():
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            events.append((kind, line[5:].strip()))
            kind = "message"
    return events


def test_stream_sends_citations_before_the_first_token(live_server):
    with httpx.stream("POST", f"{live_server.url}/api/chat/stream", timeout=60,
                      json={"question": "Que dit la loi Lamy sur les conseils citoyens ?"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    kinds = [k for k, _ in events if k != "ping"]
    assert kinds[0] == "citations" and kinds[-1] == "done"
    assert kinds.index("citations") < kinds.index("token")
    final = json.loads(events[-1][1])
    streamed = "".join(json.loads(d) for k, d in events if k == "token")
    assert streamed == final["answer"]
    assert final["grounded"] and final["citations"]
    # one numbering: the sources event is the final answer's citations, same [n], same passage
    sources = json.loads(events[kinds.index("citations")][1])
    assert [(c["n"], c["text"]) for c in sources] == \
        [(c["n"], c["text"]) for c in final["citations"]]


def test_stream_refuses_bad_input_before_streaming(live_server):
    response = httpx.post(f"{live_server.url}/api/chat/stream", json={"question": ""}, timeout=30)
    assert response.status_code == 422 and "texte trop court" in response.json()["detail"]


def test_openai_compatible_endpoint_keeps_citations(live_server):
    from openai import OpenAI

    client = OpenAI(base_url=f"{live_server.url}/v1", api_key="inutile", max_retries=0)
    completion = client.chat.completions.create(model="irev", messages=[
        {"role": "user",
         "content": "Combien de participants ont suivi les actions de l'IREV en 2022 ?"}])
    content = completion.choices[0].message.content
    assert "1500" in content and "Sources :" in content
    extra = completion.model_extra
    assert extra["grounded"] is True and extra["citations"][0]["document_id"] == IREV_2022
    stream = client.chat.completions.create(model="irev", stream=True, messages=[
        {"role": "user", "content": "Que dit la loi Lamy sur les contrats de ville ?"},
        {"role": "assistant", "content": "…"},
        {"role": "user", "content": "et pour les conseils citoyens ?"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "Sources :" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert any(c["article"] == "7" for c in last.model_extra["citations"])


def test_documents_with_markup_are_returned_as_plain_text(client):
    body = ask(client, "Quel est le mot de passe du coffre municipal ?")
    texts = " ".join(c["text"] for c in body["citations"] + body["suggestions"])
    assert "<script>" in texts or "onerror" in texts  # kept literally: the UI renders text
    assert (DATA / "web").is_dir()


def test_server_started_with_irev_serve_answers(built_data_dir, tmp_path):
    """`irev serve` on the data dir: the real command, a real port."""
    import os
    import subprocess
    import sys
    import time

    from conftest import ROOT, free_port

    port = free_port()
    env = {**os.environ, "IREV_DATA_DIR": str(built_data_dir), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port",
                                str(port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.5)
        body = httpx.post(f"http://127.0.0.1:{port}/api/chat", timeout=60,
                          json={"question": "Que dit l'article 7 de la loi Lamy ?"}).json()
        assert body["citations"][0]["article"] == "7"
    finally:
        process.terminate()
        process.wait(timeout=30)


__all__ = ["LiveServer"]


def test_eval_client_reads_the_servers_readiness(live_server):
    from eval.client import HttpAssistant

    health = HttpAssistant(live_server.url).health()
    assert health["status"] == "ready" and health["chunks"] > 0
