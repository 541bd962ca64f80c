"""run_eval scores a scripted assistant; the report escapes text; compare classifies changes.

The assistant here is a scripted stand-in with the real two-call interface: these tests are
about eval's bookkeeping, not about retrieval quality (the real pipeline has its own tests).
"""

import json

import httpx
import pytest

from eval.client import HttpAssistant
from eval.compare import compare_results, render_comparison
from eval.datasets import EvalQuestion, ExpectedSource
from eval.provenance import corpus_fingerprint, public_settings
from eval.report import render_report
from eval.run import load_results, run_eval, save_results

QUESTIONS = [
    EvalQuestion(
        id="q1",
        question="Combien de quartiers ?",
        answerable=True,
        tags=["figure"],
        reference_answer="199 quartiers",
        expected_sources=[ExpectedSource(document_id="bilan.txt", contains="199 quartiers")],
    ),
    EvalQuestion(
        id="q2",
        question="et en Bretagne ?",
        turns=["Combien de contrats ?"],
        answerable=False,
        tags=["unanswerable", "followup"],
    ),
    EvalQuestion(
        id="q3",
        question="<script>alert(1)</script>",
        answerable=True,
        tags=["name"],
        reference_answer="Lille",
        expected_sources=[ExpectedSource(document_id="cycle.txt")],
    ),
]


def passage(document_id: str, text: str, n: int = 1, score: float = 0.8) -> dict:
    return {
        "n": n,
        "node_id": f"{document_id}::0",
        "document_id": document_id,
        "title": "<b>Titre</b>",
        "type": "actualité",
        "page": None,
        "article": None,
        "text": text,
        "score": score,
    }


class ScriptedAssistant:
    """Answers from a script and records the calls it received."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def ask(self, question: str, conversation_id: str | None = None) -> dict:
        self.calls.append(("ask", question, conversation_id))
        if question == "Combien de quartiers ?":
            return {
                "answer": "199 quartiers [1].",
                "grounded": True,
                "conversation_id": "c1",
                "citations": [passage("bilan.txt", "La région compte 199 quartiers.")],
            }
        if question.startswith("<script>"):
            raise RuntimeError("LLM indisponible <boom>")
        return {
            "answer": "Je n'ai pas trouvé.",
            "grounded": False,
            "conversation_id": "c2",
            "standalone_question": "Combien de contrats de ville en Bretagne ?",
        }

    def search(self, query: str, k: int) -> list[dict]:
        self.calls.append(("search", query, k))
        return [passage("autre.txt", "rien", score=0.2), passage("bilan.txt", "199 quartiers")][:k]


@pytest.fixture(scope="module")
def results() -> dict:
    return run_eval(QUESTIONS, ScriptedAssistant(), k=5)


def test_run_eval_replays_turns_in_one_conversation_and_searches_the_rewrite():
    assistant = ScriptedAssistant()
    run_eval(QUESTIONS[1:2], assistant, k=3)
    assert assistant.calls == [
        ("ask", "Combien de contrats ?", None),
        ("ask", "et en Bretagne ?", "c2"),
        ("search", "Combien de contrats de ville en Bretagne ?", 3),
    ]


def test_run_eval_aggregates_metrics_and_keeps_provenance(results):
    assert results["metrics"]["hit@5"] == 0.5  # q1 at rank 2; q3 failed, so it scores 0
    assert results["metrics"]["mrr@10"] == 0.25
    assert results["metrics"]["citation_precision"] == 1.0
    assert results["metrics"]["token_f1"] == pytest.approx(0.5)  # 1.0 for q1, 0 for q3
    assert results["metrics"]["abstention_accuracy"] == pytest.approx(2 / 3)
    assert results["metric_counts"]["hit@5"] == 2
    assert results["by_tag"]["followup"]["n"] == 1
    assert set(results["git"]) == {"commit", "dirty"}
    assert results["records"][0]["citations"][0]["relevant"] is True


def test_run_eval_records_errors_and_explains_failures(results):
    q1, q2, q3 = results["records"]
    assert q1["failures"] == [] and q2["failures"] == []
    assert q3["error"] == "RuntimeError: LLM indisponible <boom>"
    assert q3["failures"] == ["erreur : RuntimeError: LLM indisponible <boom>"]


def test_save_and_load_results_round_trip(results, tmp_path):
    first = save_results(results, tmp_path)
    second = save_results(results, tmp_path)
    assert first != second and second.name.endswith("-2.json")
    assert load_results(first)["metrics"] == results["metrics"]


def test_report_is_self_contained_and_escapes_user_text(results):
    html = render_report(results)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Titre&lt;/b&gt;" in html
    assert html.count("<svg") == 3 and "http://" not in html.replace("http://www.w3.org", "")
    assert "Questions en échec (1)" in html


def test_http_assistant_speaks_the_api():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/search":
            assert request.url.params["k"] == "4"
            return httpx.Response(200, json={"results": [passage("a.txt", "x")]})
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "answer": body["question"],
                "grounded": True,
                "conversation_id": body["conversation_id"] or "new",
            },
        )

    client = httpx.Client(base_url="http://test", transport=httpx.MockTransport(handler))
    assistant = HttpAssistant("http://test", client=client)
    assert assistant.search("q", 4)[0]["document_id"] == "a.txt"
    assert assistant.ask("bonjour", "c9") == {
        "answer": "bonjour",
        "grounded": True,
        "conversation_id": "c9",
    }
    assert assistant.health() is None  # the mock transport has no /readyz (see test_api)


def test_compare_classifies_each_question(results):
    before = json.loads(json.dumps(results))
    before["records"][2]["scores"]["recall@5"] = 1.0
    after = json.loads(json.dumps(results))
    after["created_at"] = "2030-01-01T00:00:00"
    after["records"][0]["scores"]["mrr@10"] = 1.0
    after["records"][2]["scores"]["token_f1"] = 1.0
    after["records"][2]["scores"]["recall@5"] = 0.0
    after["records"].append({**after["records"][1], "id": "q4"})
    comparison = compare_results(before, after)
    statuses = {q.id: q.status for q in comparison.questions}
    assert statuses == {"q1": "improved", "q2": "unchanged", "q3": "mixed"}
    assert comparison.only_new == ["q4"]
    text = render_comparison(comparison)
    assert "| q1 — Combien de quartiers ? | amélioré | mrr@10 0.500 → 1.000 |" in text
    assert "q2" not in text.split("Questions :")[1].split("Seulement")[0]


def test_settings_are_recorded_without_secrets(tmp_path):
    settings = {"llm_api_key": "sk-123", "admin_api_key": None, "top_k": 5, "data_dir": tmp_path}
    assert public_settings(settings) == {
        "llm_api_key": "***",
        "admin_api_key": None,
        "top_k": 5,
        "data_dir": str(tmp_path),
    }


def test_corpus_fingerprint_changes_with_content(tmp_path):
    (tmp_path / "a.txt").write_text("un", encoding="utf-8")
    before = corpus_fingerprint([tmp_path])
    (tmp_path / "a.txt").write_text("deux", encoding="utf-8")
    after = corpus_fingerprint([tmp_path])
    assert before["files"] == after["files"] == 1 and before["sha256"] != after["sha256"]


def test_relevance_is_judged_on_full_passages_before_truncation():
    """Regression: hits were judged on the 600-character excerpt kept in the results file."""

    class LongPassages(ScriptedAssistant):
        def search(self, query: str, k: int) -> list[dict]:
            return [passage("bilan.txt", "x" * 900 + " 199 quartiers")]

    results = run_eval(QUESTIONS[:1], LongPassages(), k=5)
    assert results["metrics"]["hit@5"] == 1.0
    assert len(results["records"][0]["hits"][0]["text"]) == 600
