"""Fine-tune e5-small so that a question lies nearer the sentence that answers it.

A LoRA adapter (rank 8 on the attention's query and value projections, 147k weights) is trained
on the web-article *train* questions and PIAF *train* questions: for each, the sentences of the
passages that the base model retrieves, the ones that hold the answer as positives, the others as
hard negatives (InfoNCE, one positive and up to seven negatives a step). Validation and test
questions are never read here. Only the adapter's two small matrices per projection are written
(`ingest/models/e5-irev-lora.npz`, ~0.3 MB); `ingest.e5_bundle.ensure_adapted_model` merges them
into the bundled weights.

    python -m eval.adapter [--tiny] [--output FILE]

On the validation questions (web validation articles, PIAF validation titles), the cosine of
question and sentence picks an answering sentence first for 0.529 → 0.725 (web) and
0.487 → 0.567 (PIAF) after one epoch (session 12).
"""

import argparse
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.splits import piaf_split, web_document_split, web_split

logger = logging.getLogger(__name__)
RANK, ALPHA, TARGETS = 8, 16, ("query", "value")
NEGATIVES, ACCUMULATE, TEMPERATURE = 7, 4, 0.05
PIAF_QUESTIONS = 600  # PIAF train questions beside every web train question


@dataclass
class Example:
    question: str
    sentences: list[str]
    labels: list[bool]


def collect_examples(index, items) -> list[Example]:
    """The candidate sentences of each question's retrieved passages, labelled; questions with
    no answering sentence among them are left out (nothing to pull towards)."""
    from eval.training import TOP_K, find_candidates

    examples = []
    for item in items:
        found = find_candidates(index.search(item.question, TOP_K), index)
        labels = [bool(item.labeler(c)) for c in found]
        if any(labels) and not all(labels):
            examples.append(Example(item.question, [c.sentence for c in found], labels))
    return examples


def fit_adapter(model_dir: str, examples: list[Example], epochs: int = 1, lr: float = 1e-4,
                seed: int = 0) -> dict[str, np.ndarray]:
    """Train the adapter; return its matrices by name (`<module>.A`, `<module>.B`, and
    `scale`)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = SentenceTransformer(model_dir, device="cpu")
    model[0].auto_model = get_peft_model(model[0].auto_model, LoraConfig(
        r=RANK, lora_alpha=ALPHA, target_modules=list(TARGETS), lora_dropout=0.1))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=lr)

    def encode(texts: list[str], prefix: str):
        out = model(model.tokenize([prefix + t for t in texts]))["sentence_embedding"]
        return torch.nn.functional.normalize(out, dim=-1)

    model.train()
    started, order = time.perf_counter(), list(examples)
    for epoch in range(epochs):
        rng.shuffle(order)
        total = 0.0
        for step, ex in enumerate(order, start=1):
            positives = [s for s, good in zip(ex.sentences, ex.labels, strict=True) if good]
            negatives = [s for s, good in zip(ex.sentences, ex.labels, strict=True) if not good]
            sample = [rng.choice(positives)] + rng.sample(negatives, min(NEGATIVES, len(negatives)))
            logits = (encode(sample, "passage: ") @ encode([ex.question], "query: ").T)[:, 0]
            loss = torch.nn.functional.cross_entropy(logits[None] / TEMPERATURE,
                                                     torch.tensor([0]))
            (loss / ACCUMULATE).backward()
            total += loss.item()
            if step % ACCUMULATE == 0 or step == len(order):
                optimiser.step()
                optimiser.zero_grad()
            if step % 200 == 0:
                logger.info("epoch %d, %d/%d questions, loss %.3f, %.0f s", epoch, step,
                            len(order), total / 200, time.perf_counter() - started)
                total = 0.0
    return adapter_matrices(model[0].auto_model)


def adapter_matrices(peft_model) -> dict[str, np.ndarray]:
    """`encoder.layer.N.attention.self.query.A` (rank × in) and `.B` (out × rank), float16."""
    out = {"scale": np.array(ALPHA / RANK, dtype=np.float32)}
    for name, tensor in peft_model.state_dict().items():
        for part in ("A", "B"):
            marker = f".lora_{part}.default.weight"
            if name.endswith(marker):
                module = name.removeprefix("base_model.model.").removesuffix(marker)
                out[f"{module}.{part}"] = tensor.detach().numpy().astype(np.float16)
    return out


def main(argv: list[str] | None = None) -> Path:
    from assistant.live_index import LiveIndex
    from eval.datasets import load_squad
    from eval.training import (
        DATASETS,
        ROOT,
        SHARED,
        build_index,
        dataset_items,
        squad_items,
        write_squad,
    )
    from ingest.e5_bundle import ADAPTER_FILE, BASE_MODEL_NAME
    from ingest.embedding import load_embedder, resolve_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "training")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "data" / "models")
    parser.add_argument("--output", type=Path, default=ADAPTER_FILE)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--tiny", action="store_true", help="a few questions (CI)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = random.Random(0)
    suffix = "-tiny" if args.tiny else ""
    embedder = load_embedder(BASE_MODEL_NAME, args.models_dir)

    web_docs = sorted(p for p in (args.shared / "corpus/web").iterdir()
                      if p.suffix in {".txt", ".html"} and web_document_split(p.name) == "train")
    web_items = [i for i in dataset_items(DATASETS / "web.jsonl", "web", web_split, {"train"})
                 if i.labeler is not None]
    piaf = load_squad(args.shared / "benchmarks/piaf/piaf-v1.0.json")
    piaf_items, _ = squad_items(piaf, "piaf", piaf_split, None, rng, 0.0)
    piaf_items = [i for i in piaf_items if i.split == "train"][:PIAF_QUESTIONS]
    if args.tiny:
        web_docs = web_docs[:1]
        web_items = [i for i in web_items if i.qid.startswith(f"web-{web_docs[0].name[:2]}-")][:8]
        piaf_items = piaf_items[:8]
    wanted = {q.context_id for q in piaf.questions if q.id in {i.qid for i in piaf_items}}
    folder = args.data_dir / "piaf-docs" / ("adapter-tiny" if args.tiny else "all")
    piaf_folder = write_squad(folder, [d for d in piaf.documents
                                       if d.id in wanted or not args.tiny])
    examples = []
    for name, paths, items in (("web", web_docs, web_items), ("piaf", [piaf_folder], piaf_items)):
        index_dir = build_index(paths, args.data_dir / f"adapter-{name}{suffix}", embedder,
                                BASE_MODEL_NAME)
        examples += collect_examples(LiveIndex(index_dir, embedder), items)
    logger.info("%d training questions", len(examples))
    matrices = fit_adapter(resolve_model(BASE_MODEL_NAME, args.models_dir), examples,
                           epochs=args.epochs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.output, **matrices)
    logger.info("adapter written to %s (%d bytes)", args.output, args.output.stat().st_size)
    return args.output


if __name__ == "__main__":
    main()
