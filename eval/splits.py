"""Which questions may be used for what: training, validation (choosing thresholds and models)
or test (reported, never looked at while tuning).

- Web articles (`datasets/web.jsonl`, ids `web-NN-KK`): split **by document** NN, drawn once with
  `random.Random(2026).shuffle(range(1, 57))`: the first 14 are test, the next 10 validation.
- PIAF: split by Wikipedia article (title), so that no paragraph of a test article was seen.
- service-public.fr questions (`filtered_spf_qr_test.json`): split by fiche, the same way.
- `irev.jsonl`: `dev` (tuning) or `test` (reporting), by a hash of the id.
- `followups.jsonl`: a third `dev`, two thirds `test`, by a hash of the id.
- `out_of_scope.jsonl`: half train, a fifth validation, the rest test, by a hash of the id.
"""

import hashlib
import re

WEB_TEST_DOCS = frozenset({2, 4, 5, 14, 20, 24, 25, 34, 44, 46, 48, 50, 52, 53})
WEB_VALIDATION_DOCS = frozenset({3, 10, 17, 18, 23, 28, 30, 31, 45, 55})


def _fraction(key: str) -> float:
    """A stable number in [0, 1) for a key."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 2**32


def web_split(question_id: str) -> str:
    match = re.match(r"web-(\d+)-", question_id)
    if not match:
        raise ValueError(f"not a web question id: {question_id!r}")
    number = int(match.group(1))
    if number in WEB_TEST_DOCS:
        return "test"
    return "validation" if number in WEB_VALIDATION_DOCS else "train"


def web_document_split(document_id: str) -> str:
    """The split of a web article, from its file name (`07_pantin-….txt`)."""
    return web_split(f"web-{document_id.split('_', 1)[0]}-")


def _by_title(corpus: str, title: str) -> str:
    """70 % train, 15 % validation, 15 % test, by a hash of the article's or fiche's title."""
    value = _fraction(f"{corpus}:{title}")
    return "train" if value < 0.7 else "validation" if value < 0.85 else "test"


def piaf_split(title: str) -> str:
    return _by_title("piaf", title)


def spf_split(title: str) -> str:
    return _by_title("spf", title)


def irev_split(question_id: str) -> str:
    return "dev" if _fraction(f"irev:{question_id}") < 0.5 else "test"


def followup_split(question_id: str) -> str:
    return "dev" if _fraction(f"followup:{question_id}") < 1 / 3 else "test"


def out_of_scope_split(question_id: str) -> str:
    value = _fraction(f"oos:{question_id}")
    return "train" if value < 0.5 else "validation" if value < 0.7 else "test"
