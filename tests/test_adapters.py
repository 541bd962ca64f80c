"""The wire adapters alone, on a fixed event sequence: SSE, and OpenAI chat completions whole and
streamed (no server, no model: these functions only translate events)."""

import asyncio
import json

import pytest

from assistant.adapters import completion, completion_chunks, sse_event, with_sources
from assistant.events import Done, Reset, Sources, TextDelta
from assistant.schema import Answer, Citation

CITATION = Citation(n=1, document_id="lamy.md", title="Loi Lamy", type="loi", page=3,
                    text="Un conseil citoyen est mis en place dans chaque quartier.", score=0.5)
ANSWER = Answer(answer="Un conseil citoyen est mis en place [1]. Il réunit des habitants [1].",
                citations=[CITATION], grounded=True)
# An LLM failure before any text: a reset, then the extractive answer with its own sources.
EVENTS = [Sources([CITATION, CITATION.model_copy(update={"n": 2})]), Reset("Bascule."),
          Sources([CITATION]), TextDelta("Un conseil citoyen est mis en place [1]."),
          TextDelta(" Il réunit des habitants [1]."), Done(ANSWER)]


async def replay(events):
    for event in events:
        yield event


def run(coroutine):
    return asyncio.run(coroutine)


def test_sse_names_and_payloads():
    sent = [sse_event(e) for e in EVENTS]
    assert [s["event"] for s in sent] == ["citations", "reset", "citations", "token", "token",
                                          "done"]
    assert json.loads(sent[0]["data"])[1]["n"] == 2
    assert json.loads(sent[3]["data"]) == "Un conseil citoyen est mis en place [1]."
    assert Answer.model_validate_json(sent[-1]["data"]) == ANSWER
    with pytest.raises(TypeError):
        sse_event(("token", "x"))


def test_openai_completion_is_the_answer_with_its_sources():
    body = run(completion(replay(EVENTS), "chatcmpl-1", 0))
    content = body["choices"][0]["message"]["content"]
    assert content == with_sources(ANSWER)
    assert content.endswith("Sources :\n[1] Loi Lamy, page 3")
    assert body["citations"][0]["n"] == 1 and body["grounded"] is True


def test_openai_stream_concatenates_to_the_whole_completion():
    async def collect():
        return [line async for line in completion_chunks(replay(EVENTS), "chatcmpl-1", 0)]

    lines = run(collect())
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == run(completion(replay(EVENTS), "x", 0))["choices"][0]["message"]["content"]
    assert "Bascule" not in text  # a reset is not text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["citations"][0]["document_id"] == "lamy.md"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_an_ungrounded_answer_carries_no_sources_in_its_text():
    refused = Answer(answer="Je n'ai pas trouvé la réponse dans les documents.",
                     suggestions=[CITATION])
    body = run(completion(replay([Sources([]), TextDelta(refused.answer), Done(refused)]),
                          "x", 0))
    assert body["choices"][0]["message"]["content"] == refused.answer
    assert body["grounded"] is False
