"""What the answer pipeline produces, in order, for every consumer (JSON, SSE, OpenAI-compatible
stream, CLI):

1. `Sources`: the passages the [n] of the text refer to (before any text);
2. `TextDelta`…: pieces of the answer; in LLM mode each is a whole sentence whose citations were
   already checked, so no consumer ever shows text that the check later removes;
3. `Reset` (LLM mode only, before any text): the model failed; what follows is the extractive
   answer, with its own `Sources`;
4. `Done`: the final answer, whose text is exactly the concatenation of the deltas since the last
   `Sources`."""

from dataclasses import dataclass

from assistant.schema import Answer, Citation


@dataclass(frozen=True)
class Sources:
    citations: list[Citation]


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Reset:
    notice: str


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Sources | TextDelta | Reset | Done
