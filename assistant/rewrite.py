"""Follow-up questions rewritten into stand-alone queries, without an LLM.

« Que dit la loi Lamy sur les contrats de ville ? » then « et pour les conseils citoyens ? »
becomes « Que dit la loi Lamy sur les conseils citoyens ? ».
"""

import re

_FOLLOW_UP_START = re.compile(
    r"^\s*(?:et|mais|ou|alors|puis|aussi|idem|même question)\b[\s,]*"
    r"(?P<rest>.*)$", re.I | re.S,
)
# Prepositions that introduce what a question is about, in groups that can replace each other.
_GROUPS = [
    r"sur|pour|concernant|quant à|s'agissant de|à propos de|en ce qui concerne",
    r"en|dans|à|au|aux",
]
_PRONOUNS = re.compile(r"\b(?:il|elle|ils|elles|ce dispositif|cette loi|ce texte|celui-ci|"
                       r"celle-ci|ceux-ci|celles-ci|leur|leurs|y|en)\b", re.I)
_SHORT_WORDS = 5


def is_follow_up(question: str) -> bool:
    words = question.split()
    return bool(_FOLLOW_UP_START.match(question)) or len(words) <= _SHORT_WORDS or (
        len(words) <= 2 * _SHORT_WORDS and bool(_PRONOUNS.search(question))
    )


def rewrite(question: str, history: list[str]) -> str:
    """A stand-alone version of `question` given the previous stand-alone questions."""
    if not history or not is_follow_up(question):
        return question
    previous = history[-1].strip().rstrip("?").strip()
    follow = _FOLLOW_UP_START.match(question)
    rest = (follow.group("rest") if follow else question).strip().rstrip("?").strip()
    for group in _GROUPS:
        new = re.match(rf"^(?P<prep>{group})\s+(?P<topic>.+)$", rest, re.I)
        if not (follow and new):
            continue
        # The same preposition (its last use), else the first of its group.
        same = list(re.finditer(rf"\b{re.escape(new.group('prep'))}\s+", previous, re.I))
        old = same[-1] if same else re.search(rf"\b(?:{group})\s+", previous, re.I)
        if old:
            # « et pour X ? »: the same question about a new topic.
            return f"{previous[:old.end()]}{new.group('topic')} ?"
    # Otherwise keep both: the new question first, then the context it leans on.
    return f"{rest} ? ({previous})"
