"""Does a text hold the expected facts? The measure behind « the answer holds the fact » and the
training labels of the sentence selector.

Compared after folding case, accents, apostrophes and punctuation, and writing numbers one way:
« 1 500 » = « 1500 », « 50 % » = « 50% », « six ans » = « 6 ans »; a footnote call glued to a
word (« 114 708 emplois¹ ») is not part of it."""

import re

from eval.relevance import normalise_space, strip_accents

_NUMBERS = {"deux": "2", "trois": "3", "quatre": "4", "cinq": "5", "six": "6", "sept": "7",
            "huit": "8", "neuf": "9", "dix": "10", "onze": "11", "douze": "12", "treize": "13",
            "quatorze": "14", "quinze": "15", "seize": "16", "vingt": "20", "trente": "30",
            "quarante": "40", "cinquante": "50", "soixante": "60", "cent": "100"}
_MARKER = re.compile(r"\[\d+\]|(?<=\w)[¹²³⁰⁴-⁹]+")


def normalise_fact(text: str) -> str:
    text = strip_accents(normalise_space(_MARKER.sub(" ", text))).lower()
    text = text.replace("œ", "oe")
    text = re.sub(r"(?<=\d)[\s.](?=\d{3}\b)", "", text)  # 1 500 / 1.500 → 1500
    text = re.sub(r"(?<=\d),(?=\d)", ".", text)  # 1,88 → 1.88
    text = re.sub(r"[^\w%€.]+", " ", text)
    text = re.sub(r"\.(?!\d)", " ", text)
    words = [_NUMBERS.get(w, w) for w in text.split()]
    return " " + " ".join(words).replace(" %", "%").replace(" €", "€") + " "


def holds(text: str, facts: list[str]) -> bool:
    """Every fact occurs in `text`, as whole words."""
    haystack = normalise_fact(text)
    return bool(facts) and all(normalise_fact(f) in haystack for f in facts)
