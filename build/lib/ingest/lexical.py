"""French keyword index over `ingest.text.tokenize` tokens (Snowball stems, no stop words or
accents, legal references kept whole).

bm25s is used directly (the llama-index BM25 retriever pins an old PyStemmer and stems in English).
"""

import json
from pathlib import Path

import bm25s

from ingest.text import tokenize


class LexicalIndex:
    """A bm25s index over chunk texts, with the node id of each row."""

    def __init__(self, retriever: bm25s.BM25, node_ids: list[str]):
        self.retriever = retriever
        self.node_ids = node_ids

    @classmethod
    def build(cls, texts: list[str], node_ids: list[str]) -> "LexicalIndex":
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        # bm25s cannot index nothing: an empty index holds one placeholder row, never returned
        retriever.index([tokenize(t) or ["∅"] for t in texts] or [["∅"]], show_progress=False)
        return cls(retriever, node_ids)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        tokens = [t for t in tokenize(query) if t in self.retriever.vocab_dict]
        if not tokens or not self.node_ids:
            return []
        k = min(k, len(self.node_ids))
        rows, scores = self.retriever.retrieve([tokens], k=k, show_progress=False,
                                               n_threads=1)
        return [(self.node_ids[int(r)], float(s)) for r, s in zip(rows[0], scores[0], strict=True)
                if s > 0]

    def save(self, directory: Path) -> None:
        self.retriever.save(str(directory))
        (directory / "node_ids.json").write_text(json.dumps(self.node_ids), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        retriever = bm25s.BM25.load(str(directory), load_corpus=False)
        node_ids = json.loads((directory / "node_ids.json").read_text(encoding="utf-8"))
        return cls(retriever, node_ids)


def idf_table(index: LexicalIndex) -> dict[str, float]:
    """BM25 idf of every indexed token, read from bm25s's sparse score matrix (one column per
    token, one non-zero per document containing it)."""
    import math

    import numpy as np

    retriever = index.retriever
    document_frequency = np.diff(retriever.scores["indptr"])
    total = retriever.scores["num_docs"]
    return {
        token: math.log(1 + (total - df + 0.5) / (df + 0.5))
        for token, column in retriever.vocab_dict.items()
        if column < len(document_frequency)  # bm25s appends an empty token with no column
        for df in [int(document_frequency[column])]
    }
