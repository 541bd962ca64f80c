"""Hybrid retrieval: exact legal references first, then dense + French BM25, fused."""

from collections.abc import Callable

import numpy as np
from llama_index.core.schema import TextNode

from assistant.references import matching_documents, parse_reference
from assistant.schema import SearchHit
from assistant.vocabulary import expand
from ingest.index import HybridIndex


def reciprocal_rank_fusion(rankings: list[list[str]], k: int) -> dict[str, float]:
    """RRF: sum of 1 / (k + rank) over the rankings (rank starts at 1)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, node_id in enumerate(ranking, start=1):
            fused[node_id] = fused.get(node_id, 0.0) + 1.0 / (k + rank)
    return fused


class Retriever:
    """`search(query, k)`: the k best passages for a question."""

    def __init__(self, index: HybridIndex, fusion: str = "rrf", rrf_k: int = 10, depth: int = 50,
                 embed: Callable[[list[str]], list[np.ndarray]] | None = None):
        self.index = index
        self.fusion = fusion
        self.rrf_k = rrf_k
        self.depth = depth
        # vectors of queries, shared with the answer step (None: the index embeds the query)
        self.embed = embed

    def search(self, query: str, k: int) -> list[SearchHit]:
        index = self.index  # one snapshot for the whole query, even if a reload swaps it
        depth = max(self.depth, k)
        expanded = expand(query)
        dense = []
        if self.fusion != "bm25":
            # the answer step reads the question as asked: both vectors in one forward pass
            vector = self.embed([expanded, query] if expanded != query else [query])[0] \
                if self.embed else None
            dense = index.dense_search(expanded, depth, vector)
        lexical = index.lexical_search(expanded, depth) if self.fusion != "dense" else []
        rankings = [[n.node_id for n, _ in hits] for hits in (dense, lexical) if hits]
        fused = reciprocal_rank_fusion(rankings, self.rrf_k)
        dense_scores = {n.node_id: s for n, s in dense}
        lexical_scores = {n.node_id: s for n, s in lexical}
        order = sorted(fused, key=lambda i: (-fused[i], -dense_scores.get(i, 0.0)))
        order = _pin_references(query, order, index)
        return [
            as_hit(index.nodes[i], fused.get(i, 0.0), dense_scores.get(i), lexical_scores.get(i))
            for i in order[:k]
        ]


def _pin_references(query: str, order: list[str], index: HybridIndex) -> list[str]:
    """Passages of the article or text the question names go first, when they are indexed."""
    reference = parse_reference(query)
    if reference.is_empty:
        return order
    documents = matching_documents(reference, index.documents)
    if reference.text_keys and not documents:
        return order
    pinned = [
        node.node_id for node in index.nodes.values()
        if (not documents or node.metadata.get("document_id") in documents)
        and (not reference.article or node.metadata.get("article") == reference.article)
    ]
    if not reference.article:  # a whole text: keep its passages in relevance order
        pinned = [i for i in order if i in set(pinned)] or pinned
    elif len({index.nodes[i].metadata["document_id"] for i in pinned}) > 1 and not documents:
        # « article 7 » alone is ambiguous: rank the candidates, don't force them all first
        pinned = [i for i in order if i in set(pinned)][:2]
    rank = {node_id: position for position, node_id in enumerate(order)}
    pinned.sort(key=lambda i: rank.get(i, len(rank) + _chunk_index(index.nodes[i])))
    chosen = set(pinned)
    return pinned + [i for i in order if i not in chosen]


def _chunk_index(node: TextNode) -> int:
    return int(node.metadata.get("chunk_index", 0))


def as_hit(node: TextNode, score: float = 0.0, dense: float | None = None,
           lexical: float | None = None) -> SearchHit:
    """A stored chunk as retrieval returns it."""
    meta = node.metadata
    return SearchHit(
        node_id=node.node_id, document_id=meta["document_id"], title=meta.get("title") or "",
        type=meta.get("type") or "document", published=meta.get("published"),
        page=meta.get("page_start"), page_end=meta.get("page_end"),
        page_unit=meta.get("page_unit") or "page",
        page_breaks=[tuple(b) for b in meta["page_breaks"]] if meta.get("page_breaks") else None,
        section=meta.get("section"),
        article=meta.get("article"), url=_link(meta), text=node.get_content(),
        score=round(score, 6), dense_score=dense, lexical_score=lexical,
    )


def _link(meta: dict) -> str | None:
    """PDFs are served by the app and open at the cited page; others link to their source."""
    if str(meta.get("file_name", "")).lower().endswith(".pdf"):
        return f"/api/documents/{meta['document_id']}/file#page={meta.get('page_start') or 1}"
    return meta.get("url")
