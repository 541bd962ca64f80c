"""Query latency over HTTP: our app against a plain llama-index query engine, same index.

    python bench/query.py [--quick] [--json PATH] [--models-dir /tmp/bench-models]
                          [--work-dir /tmp/bench-query]

Both apps run on real uvicorn servers on 127.0.0.1 (threads of this process, sharing one
embedder instance). Requests are sequential and interleaved (ours, then llama-index, order
alternating per question) so that load from other jobs hits both alike. Measured: /api/search,
/api/chat (extractive, no LLM) and the first SSE event of /api/chat/stream (stream then drained).
"""

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from common import (
    CHUNK_OVERLAP,
    CHUNK_SIZE,
    DEFAULT_MODELS_DIR,
    ROOT,
    SHARED,
    Served,
    console,
    load_model,
    machine_note,
    make_table,
    model_name,
    no_text_engine,
    percentile,
    ratio,
    save_json,
)
from fastapi import FastAPI
from llama_index.core.base.embeddings.base import BaseEmbedding

QUESTIONS = (ROOT / "eval/datasets/irev.jsonl", ROOT / "eval/datasets/web.jsonl")
FULL = {"corpus": [ROOT / "corpus", SHARED / "corpus/pdf", SHARED / "corpus/legal"],
        "synthetic": 10_000, "questions": 50, "warmup": 3}
QUICK = {"corpus": [ROOT / "corpus"], "synthetic": 1_000, "questions": 5, "warmup": 1}
NOISE = 0.015  # per-dimension sigma: cosine to the source vector ~0.96 at 384 dimensions
SYSTEMS = ("ours", "llama-index")
ENDPOINTS = ("/api/search", "/api/chat", "/api/chat/stream 1st event")


# -- indexes -------------------------------------------------------------------------------------

def build_corpus_index(paths: list[Path], index_dir: Path, embedder: BaseEmbedding) -> int:
    """Our pipeline, incremental: a second run of the bench re-embeds nothing."""
    from ingest import pipeline

    report = pipeline.run(paths, index_dir, embedder, model_name=model_name(),
                          chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    return report.chunks


def build_synthetic_index(source: Path, index_dir: Path, size: int, embedder) -> str:
    """`size` French chunks recombined from the real chunks' sentences, 10 per document. Each
    reuses the real vector of the chunk it is mostly made of, perturbed and renormalised. Like
    ingest, the build stores the vectors and tags of every quotable sentence: those of the real
    index are reused, the few that recombination creates are embedded and tagged here."""
    from llama_index.core.schema import TextNode

    from ingest.index import Snapshot, current_build, read_snapshot, write_build, write_lock
    from ingest.sentence_tags import tag_sentences
    from ingest.text import answer_sentences, split_sentences

    real = read_snapshot(source)
    rng, np_rng = random.Random(0), np.random.default_rng(0)
    own = [split_sentences(n.get_content()) or [n.get_content()] for n in real.nodes]
    pool = [s for sentences in own for s in sentences]
    nodes, vectors, documents = [], [], {}
    for i in range(size):
        j = rng.randrange(len(real.nodes))
        sentences = rng.sample(own[j], max(1, round(len(own[j]) * 0.7))) + rng.sample(pool, 2)
        doc_id = f"synthese-{i // 10:04d}.txt"
        base = real.nodes[j]
        title = f"{base.metadata.get('title') or 'Document'} — synthèse {i // 10}"
        metadata = {**base.metadata, "document_id": doc_id, "file_name": doc_id, "title": title,
                    "chunk_index": i % 10, "page_start": None, "page_end": None}
        node = TextNode(id_=f"{doc_id}::{i % 10:04d}", text=" ".join(sentences),
                        metadata=metadata, metadata_template=base.metadata_template,
                        excluded_embed_metadata_keys=base.excluded_embed_metadata_keys,
                        excluded_llm_metadata_keys=base.excluded_llm_metadata_keys)
        nodes.append(node)
        vector = real.vectors[j] + np_rng.normal(0, NOISE, real.vectors.shape[1])
        vectors.append(vector / np.linalg.norm(vector))
        documents[doc_id] = {"document_id": doc_id, "title": title, "type": "document",
                             "file_name": doc_id, "chunks": 10}
    meta = {**{k: real.meta[k] for k in ("embed_model", "chunk_size", "chunk_overlap")},
            "embedding_dim": real.vectors.shape[1], "documents": documents}
    previous = read_snapshot(index_dir) if current_build(index_dir) else None
    known = {**real.sentences, **(previous.sentences if previous else {})}
    tags = {**real.sentence_tags, **(previous.sentence_tags if previous else {})}
    wanted = list(dict.fromkeys(s for n in nodes for s in answer_sentences(n.get_content())))
    missing = [s for s in wanted if s not in known or s not in tags]
    if missing:
        fresh = np.asarray(embedder.get_text_embedding_batch(missing), np.float32)
        known.update(zip(missing, fresh, strict=True))
        tags.update(zip(missing, tag_sentences(missing), strict=True))
    with write_lock(index_dir):
        write_build(index_dir, Snapshot(meta, nodes, np.asarray(vectors, np.float32),
                                        sentences={s: known[s] for s in wanted},
                                        sentence_tags={s: tags[s] for s in wanted}))
    return (f"synthetic: {size} chunks recombined from the sentences of {len(real.nodes)} real "
            f"chunks; vectors = those chunks' real embeddings + N(0, {NOISE}²) noise, "
            "renormalised; the quotable sentences that recombination creates are embedded and "
            "tagged once, as ingest would")


# -- the two apps ------------------------------------------------------------------------------

def top_k() -> int:
    """Passages per answer: Settings' default, used by both apps."""
    from assistant.settings import Settings

    return Settings(_env_file=None).top_k


def our_app(data_dir: Path, embedder: BaseEmbedding) -> FastAPI:
    from assistant.answer import build_assistant
    from assistant.api import create_app
    from assistant.settings import Settings
    from assistant.store import Store

    settings = Settings(_env_file=None, data_dir=data_dir, rate_limit="1000000/minute")
    assistant = build_assistant(settings.index_dir, embedder,
                                Store(settings.resolved_database_url), top_k=settings.top_k,
                                fusion=settings.fusion, rrf_k=settings.rrf_k)
    return create_app(settings, assistant)


def baseline_app(index_dir: Path, embedder: BaseEmbedding, k: int) -> FastAPI:
    """The same FAISS storage loaded by llama-index; `/api/chat` = RetrieverQueryEngine
    (no_text) + a trivial composition: the first sentence of the best passage, cited [1]."""
    from llama_index.core import StorageContext, load_index_from_storage
    from llama_index.vector_stores.faiss import FaissVectorStore
    from sse_starlette.sse import EventSourceResponse
    from starlette.concurrency import run_in_threadpool

    from assistant.schema import ChatRequest
    from ingest.index import current_build
    from ingest.text import split_sentences

    storage_dir = str(current_build(index_dir) / "storage")
    storage = StorageContext.from_defaults(
        vector_store=FaissVectorStore.from_persist_dir(storage_dir), persist_dir=storage_dir)
    index = load_index_from_storage(storage, embed_model=embedder)
    engine = no_text_engine(index.as_retriever(similarity_top_k=k))
    app = FastAPI()

    def answer(question: str) -> dict[str, Any]:
        sources = engine.query(question).source_nodes
        first = split_sentences(sources[0].node.get_content())[:1] if sources else []
        return {"answer": " ".join(first) + " [1]" if first else "",
                "citations": [{"n": n, "node_id": s.node.node_id, "text": s.node.get_content(),
                               "score": s.score} for n, s in enumerate(sources, start=1)]}

    @app.get("/api/search")
    def search(q: str, k: int = 5) -> dict[str, Any]:
        hits = index.as_retriever(similarity_top_k=k).retrieve(q)
        return {"results": [{"node_id": h.node.node_id, "text": h.node.get_content(),
                             "score": h.score} for h in hits]}

    @app.post("/api/chat")
    def chat(body: ChatRequest) -> dict[str, Any]:
        return answer(body.question)

    @app.post("/api/chat/stream")
    async def stream(body: ChatRequest) -> EventSourceResponse:
        async def events():
            result = await run_in_threadpool(answer, body.question)
            yield {"event": "citations", "data": json.dumps(result["citations"])}
            for word in result["answer"].split(" "):
                yield {"event": "token", "data": json.dumps(word + " ")}
            yield {"event": "done", "data": json.dumps(result)}

        return EventSourceResponse(events())

    return app


# -- measurements --------------------------------------------------------------------------------

def timed(client: httpx.Client, url: str, endpoint: str, question: str) -> float:
    """Seconds to the full response, or to the first SSE event (the rest is drained untimed)."""
    started = time.perf_counter()
    if endpoint == "/api/search":
        client.get(f"{url}/api/search", params={"q": question, "k": 5}).raise_for_status()
    elif endpoint == "/api/chat":
        client.post(f"{url}/api/chat", json={"question": question}).raise_for_status()
    else:
        first = None
        with client.stream("POST", f"{url}/api/chat/stream", json={"question": question}) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if first is None and line.startswith(("event:", "data:")):
                    first = time.perf_counter() - started
        assert first is not None, "no SSE event"
        return first
    return time.perf_counter() - started


def per_endpoint(questions: list[str], warmup: int) -> int:
    """How many timed questions each endpoint gets: the rest after the warm-up, shared out."""
    return (len(questions) - warmup) // len(ENDPOINTS)


def measure(urls: dict[str, str], questions: list[str], warmup: int) -> dict[str, dict]:
    """Each endpoint is asked its own questions (and the warm-up others still): ours keeps
    recent query vectors, so a question asked twice would be timed without its embedding."""
    timings: dict[str, dict[str, list[float]]] = {s: {e: [] for e in ENDPOINTS} for s in SYSTEMS}
    n = per_endpoint(questions, warmup)
    asked = {e: questions[k * n:(k + 1) * n] for k, e in enumerate(ENDPOINTS)}
    with httpx.Client(timeout=300) as client:
        for question in questions[len(ENDPOINTS) * n:][:warmup]:
            for system in SYSTEMS:
                for endpoint in ENDPOINTS:
                    timed(client, urls[system], endpoint, question)
        for i in range(n):
            for system in SYSTEMS if i % 2 == 0 else SYSTEMS[::-1]:
                for endpoint in ENDPOINTS:
                    timings[system][endpoint].append(
                        timed(client, urls[system], endpoint, asked[endpoint][i]))
    return {s: {e: {"p50_ms": percentile(v, 50) * 1000, "p95_ms": percentile(v, 95) * 1000}
                for e, v in by_endpoint.items()} for s, by_endpoint in timings.items()}


def bench_index(data_dir: Path, embedder: BaseEmbedding, questions: list[str],
                warmup: int) -> dict[str, dict]:
    with Served(our_app(data_dir, embedder)) as ours, \
            Served(baseline_app(data_dir / "index", embedder, top_k())) as base:
        return measure({"ours": ours.url, "llama-index": base.url}, questions, warmup)


def print_latency(results: dict[str, dict], notes: list[str], count: int) -> None:
    table = make_table(f"Query latency, sequential, {count} questions (ms)",
                       ["index", "endpoint", "ours p50", "ours p95", "llama-index p50",
                        "llama-index p95", "p50 ours/li", "p95 ours/li"],
                       caption="\n".join(notes))
    for label, result in results.items():
        for n, endpoint in enumerate(ENDPOINTS):
            ours, base = result["ours"][endpoint], result["llama-index"][endpoint]
            table.add_row(label if n == 0 else "", endpoint, f"{ours['p50_ms']:.0f}",
                          f"{ours['p95_ms']:.0f}", f"{base['p50_ms']:.0f}",
                          f"{base['p95_ms']:.0f}", ratio(ours["p50_ms"], base["p50_ms"]),
                          ratio(ours["p95_ms"], base["p95_ms"]),
                          end_section=n == len(ENDPOINTS) - 1)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--json", type=Path, help="also save the table as JSON")
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/bench-query"),
                        help="indexes kept here (the corpus index is updated incrementally)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    console.print(f"[bold]bench/query.py[/bold] {'--quick ' if args.quick else ''}· "
                  f"{machine_note()}")
    work = args.work_dir / ("quick" if args.quick else "full")
    embedder = load_model(args.models_dir)
    with console.status("indexing the corpus (incremental)…"):
        chunks = build_corpus_index(sizes["corpus"], work / "corpus/index", embedder)
        synthetic = build_synthetic_index(work / "corpus/index", work / "synthetic/index",
                                          sizes["synthetic"], embedder)
    lines = [line for path in QUESTIONS for line in path.read_text(encoding="utf-8").splitlines()]
    questions = list(dict.fromkeys(json.loads(line)["question"] for line in lines if line.strip()))
    questions = questions[:sizes["questions"] * len(ENDPOINTS) + sizes["warmup"]]
    labels = {"corpus": f"corpus ({chunks} chunks)",
              "synthetic": f"synthetic ({sizes['synthetic']})"}
    results = {}
    for folder, label in labels.items():
        with console.status(f"querying {label}…"):
            results[label] = bench_index(work / folder, embedder, questions, sizes["warmup"])
    notes = [f"corpus: {' '.join(os.path.relpath(p, ROOT) for p in sizes['corpus'])}",
             synthetic,
             "ours: hybrid retrieval + extractive answer + citation check + SQLite history; "
             f"llama-index: same FAISS storage, as_retriever(top {top_k()}) via "
             "RetrieverQueryEngine(response_mode='no_text', MockLLM never called) + first "
             "sentence of the best passage; stream = citations, then tokens",
             f"{sizes['warmup']} warm-up question(s) per endpoint; requests interleaved; "
             f"total {time.perf_counter() - started:.0f} s · {machine_note()}"]
    print_latency(results, notes, per_endpoint(questions, sizes["warmup"]))
    save_json(args.json, {"machine": machine_note(), "notes": notes, "latency": results})


if __name__ == "__main__":
    main()
