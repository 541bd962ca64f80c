"""Train the cross-encoder that re-reads the selector's best sentences (`assistant.reranker`).

    python -m eval.reranker [--tiny] [--output FILE] [--layers N] [--epochs N]

Data: the questions of `eval.training.prepare` (nothing of a test split), asked as the product
asks them (rewritten, retrieved, scored by the shipped selector). For each, the selector's
`TOP` best sentences, labelled as in `eval.training`. The adapter and head are fitted on the
train split (a pair a sentence, binary cross-entropy); how the cross-encoder's logit combines
with the selector's (order weight, gate, threshold, further-sentence ratio) is fitted on the
validation split, the threshold allowing at most `MAX_FALSE_ABSTENTIONS` of its answerable
questions refused. The validation figures printed are cross-fitted (two folds) so that the
combination is never scored on the questions it was fitted on."""

import argparse
import logging
import pickle
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eval.training import MAX_FALSE_ABSTENTIONS, ROOT, SHARED, hash_fold

logger = logging.getLogger(__name__)
TOP = 4  # sentences collected per question (the runtime re-reads `Combination.top` ≤ TOP)
RANK, ALPHA = 8, 16
TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense",
           "output.dense")
PIAF_TRAIN = 800  # PIAF train questions beside the domain ones
DOMAIN_WEIGHT = 3.0


@dataclass
class Example:
    qid: str
    source: str
    split: str
    answerable: bool
    question: str
    sentences: list[str]  # the selector's best first
    labels: list[bool]
    logits: list[float]  # the selector's ranker logits
    gate: float  # the selector's gate logit
    extra: list[str] = field(default_factory=list)  # answering sentences it ranked lower
    cross: np.ndarray | None = None  # filled on validation


def collect(index, items, selector) -> list[Example]:
    from assistant.extractive import score
    from assistant.reranker import gate_logit
    from assistant.rewrite import rewrite, standalone_turns
    from eval.facts import holds
    from eval.training import TOP_K

    examples = []
    for item in items:
        question = rewrite(item.question, standalone_turns(item.turns))
        hits = index.search(question, TOP_K)
        if item.labeler is None and item.facts and any(holds(h.text, item.facts) for h in hits):
            continue  # asked elsewhere, yet a passage holds it: not a negative
        found, rows, pairs = score(question, hits, index, selector.similarity)
        if not found:
            continue
        logits = selector.ranker.logits(rows, pairs)
        order = np.argsort(-logits)
        labels = [bool(item.labeler and item.labeler(c)) for c in found]
        top = [int(i) for i in order[:TOP]]
        examples.append(Example(
            item.qid, item.source, item.split, item.labeler is not None, question,
            [found[i].sentence for i in top], [labels[i] for i in top],
            [float(logits[i]) for i in top], gate_logit(selector, rows, pairs),
            [found[i].sentence for i in order[TOP:TOP + 8] if labels[i]][:1]))
    return examples


def _weight(example: Example) -> float:
    return 1.0 if example.source.startswith("piaf") else DOMAIN_WEIGHT


def fit_cross_encoder(model_dir: str, examples: list[Example], layers: int, epochs: int = 1,
                      lr: float = 2e-4, batch: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """The adapter's matrices (`<module>.A`, `.B`), `scale`, `layers` and the `head`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    from assistant.reranker import MAX_TOKENS, mean_pool

    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModel.from_pretrained(model_dir)
    base.encoder.layer = base.encoder.layer[:layers]
    model = get_peft_model(base, LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.1,
                                            target_modules=list(TARGETS)))
    head = torch.nn.Linear(base.config.hidden_size, 1)
    torch.nn.init.zeros_(head.weight)
    optimiser = torch.optim.AdamW([{"params": [p for p in model.parameters()
                                               if p.requires_grad], "lr": lr},
                                   {"params": head.parameters(), "lr": 1e-3}])
    pairs = [(e.question, s, float(y), _weight(e))
             for e in examples for s, y in zip(e.sentences, e.labels, strict=True)]
    pairs += [(e.question, s, 1.0, _weight(e)) for e in examples for s in e.extra]
    positives = sum(p[2] for p in pairs)
    logger.info("%d pairs, %d positive", len(pairs), positives)
    # positives are rarer than negatives: they weigh as much in total
    balance = (len(pairs) - positives) / max(positives, 1.0)
    model.train()
    started = time.perf_counter()
    for epoch in range(epochs):
        rng.shuffle(pairs)
        total = 0.0
        for step, start in enumerate(range(0, len(pairs), batch), start=1):
            chunk = pairs[start:start + batch]
            encoded = tokenizer([f"query: {q}" for q, *_ in chunk],
                                [f"passage: {s}" for _, s, *_ in chunk], padding=True,
                                truncation="longest_first", max_length=MAX_TOKENS,
                                return_tensors="pt")
            hidden = model(**encoded).last_hidden_state
            logits = head(mean_pool(hidden, encoded["attention_mask"])).squeeze(-1)
            target = torch.tensor([c[2] for c in chunk])
            weight = torch.tensor([c[3] for c in chunk]) * (1 + (balance - 1) * target)
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(
                logits, target, reduction="none") * weight).sum() / weight.sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item()
            if step % 50 == 0:
                logger.info("epoch %d, %d/%d pairs, loss %.3f, %.0f s", epoch, start + batch,
                            len(pairs), total / 50, time.perf_counter() - started)
                total = 0.0
    out = {"scale": np.array(ALPHA / RANK, dtype=np.float32),
           "layers": np.array(layers), "head": np.concatenate(
               [head.weight.detach().numpy()[0], head.bias.detach().numpy()]).astype(np.float32)}
    for name, tensor in model.state_dict().items():
        for part in ("A", "B"):
            marker = f".lora_{part}.default.weight"
            if name.endswith(marker):
                module = name.removeprefix("base_model.model.").removesuffix(marker)
                out[f"{module}.{part}"] = tensor.detach().numpy().astype(np.float16)
    return out


# -- combining with the selector ---------------------------------------------------------------

def gate_inputs(examples: list[Example], top: int) -> np.ndarray:
    return np.array([[e.gate, float(e.cross[:top].max())] for e in examples])


def fit_gate(examples: list[Example], top: int):
    """Logistic gate over (selector gate logit, best cross logit): does one of the `top`
    re-read sentences answer?"""
    from sklearn.linear_model import LogisticRegression

    y = np.array([any(e.labels[:top]) for e in examples])
    w = np.array([_weight(e) for e in examples])
    return LogisticRegression(C=1.0).fit(gate_inputs(examples, top), y, sample_weight=w)


def outcome(examples: list[Example], combination) -> dict[str, float]:
    """Fact held (one of the quoted sentences answers), false abstentions, refusals, and
    sentences quoted per answer."""
    held = abstained = refused = sentences = 0
    for e in examples:
        top = combination.top
        chosen, _ = combination.decide(np.asarray(e.logits[:top]), e.gate, e.cross[:top])
        if e.answerable:
            abstained += not chosen
            held += any(e.labels[i] for i in chosen)
            sentences += len(chosen)
        else:
            refused += not chosen
    answerable = sum(e.answerable for e in examples)
    return {"fact": held / max(1, answerable), "false_abstention": abstained / max(1, answerable),
            "refused": refused / max(1, len(examples) - answerable),
            "sentences": sentences / max(1, answerable - abstained)}


def choose(validation: list[Example]):
    """Order weight and re-read count by top-1 on the answerable validation questions; the gate
    (fitted on all of validation); its threshold: as many refusals as possible with at most
    `MAX_FALSE_ABSTENTIONS` of the answerable refused; then the further-sentence rule, as
    `eval.training.choose_threshold` does."""
    from assistant.reranker import Combination

    usable = [e for e in validation if e.answerable and any(e.labels)]
    best = None
    for top in (2, 3, 4):
        for weight in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0):
            hit = np.mean([e.labels[int(np.argmax(np.asarray(e.logits[:top]) +
                                                  weight * e.cross[:top]))] for e in usable])
            if best is None or hit > best[0] + 1e-9:
                best = (hit, weight, top)
    _, weight, top = best
    gate = fit_gate(validation, top)
    c = Combination(weight=weight, top=top, gate=float(gate.coef_[0][0]),
                    best=float(gate.coef_[0][1]), bias=float(gate.intercept_[0]), most=1)
    answerable = [c.confidence(e.gate, e.cross[:top]) for e in validation if e.answerable]
    c.threshold = 0.02
    for threshold in np.linspace(0.02, 0.95, 94):
        if np.mean(np.asarray(answerable) < threshold) <= MAX_FALSE_ABSTENTIONS:
            c.threshold = float(threshold)
    best = None
    for most in (1, 2, 3):
        for ratio in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            c.ratio, c.most = ratio, most
            result = outcome(validation, c)
            value = result["fact"] - 0.05 * (result["sentences"] - 1)
            if best is None or value > best[0] + 1e-9:
                best = (value, ratio, most)
    c.ratio, c.most = best[1], best[2]
    return c


def cross_fitted(validation: list[Example]) -> list[tuple[Example, list[int]]]:
    """Each validation question and the sentences quoted for it (empty: refused), decided by
    the combination fitted on the other fold."""
    folds = {f: choose([e for e in validation if hash_fold(e.qid) != f]) for f in (0, 1)}
    decided = []
    for e in validation:
        c = folds[hash_fold(e.qid)]
        decided.append((e, c.decide(np.asarray(e.logits[:c.top]), e.gate, e.cross[:c.top])[0]))
    return decided


def selector_alone(validation: list[Example], threshold: float) -> list[tuple[Example, list[int]]]:
    """The shipped selector's decisions (its first sentence, or a refusal)."""
    return [(e, [0] if 1 / (1 + np.exp(-e.gate)) >= threshold else []) for e in validation]


def summarise(decided: list[tuple[Example, list[int]]]) -> dict[str, float]:
    answerable = [(e, chosen) for e, chosen in decided if e.answerable]
    unanswerable = [chosen for e, chosen in decided if not e.answerable]
    return {"questions": len(decided),
            "fact": sum(any(e.labels[i] for i in c) for e, c in answerable) /
            max(1, len(answerable)),
            "false_abstention": sum(not c for _, c in answerable) / max(1, len(answerable)),
            "refused": sum(not c for c in unanswerable) / max(1, len(unanswerable))}


def score_cross(reranker, examples: list[Example]) -> None:
    for e in examples:
        e.cross = reranker.logits(e.question, e.sentences)


# -- main --------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> Path:
    from assistant.live_index import LiveIndex
    from assistant.reranker import DEFAULT_RERANKER, Combination, Reranker
    from assistant.selector import Selector
    from eval.training import prepare
    from ingest.embedding import DEFAULT_MODEL_NAME, load_embedder, resolve_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "training")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "data" / "models")
    parser.add_argument("--output", type=Path, default=DEFAULT_RERANKER)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--tiny", action="store_true", help="a few questions (CI)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    embedder = load_embedder(DEFAULT_MODEL_NAME, args.models_dir)
    model_dir = resolve_model(DEFAULT_MODEL_NAME, args.models_dir)
    selector = Selector.load()
    indexes, plan = prepare(args.shared, args.data_dir, embedder, args.tiny)
    suffix = "-tiny" if args.tiny else ""
    cache = args.data_dir / f"rerank{suffix}.pkl"
    key = [(name, [i.qid for i in items]) for name, items in plan]
    examples = None
    if cache.exists():
        stored = pickle.loads(cache.read_bytes())
        if stored[0] == (key, Path(model_dir).name):
            examples = [Example(**fields) for fields in stored[1]]
    if examples is None:
        examples, live = [], {}
        for name, items in plan:
            live.setdefault(name, LiveIndex(indexes[name], embedder))
            examples += collect(live[name], items, selector)
            logger.info("%s: %d examples so far", name, len(examples))
        # plain fields: `python -m` would pickle the objects as `__main__.Example`
        cache.write_bytes(pickle.dumps(((key, Path(model_dir).name),
                                        [vars(e) for e in examples])))
    for e in examples:  # as eval.training: irev dev alternates, follow-ups only validate
        if e.source == "irev":
            e.split = "train" if int(e.qid.split("-")[-1]) % 2 else "validation"
        elif e.source == "followup":
            e.split = "validation"
    train = [e for e in examples if e.split == "train"]
    piaf = [e for e in train if e.source == "piaf"]
    random.Random(0).shuffle(piaf)
    train = [e for e in train if e.source != "piaf"] + piaf[:PIAF_TRAIN]
    validation = [e for e in examples if e.split == "validation" and e.source != "piaf"]
    logger.info("%d training questions, %d validation", len(train), len(validation))
    matrices = fit_cross_encoder(model_dir, train, args.layers, args.epochs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    staging = args.output.with_suffix(".partial.npz")
    np.savez(staging, **matrices, **Combination(top=TOP).to_arrays())
    score_cross(Reranker(model_dir, staging), validation)
    combination = choose(validation)
    np.savez(args.output, **matrices, **combination.to_arrays())
    staging.unlink()
    logger.info("combination %s", combination)
    ours, theirs = cross_fitted(validation), selector_alone(validation, selector.threshold)
    for name in ("all", "web", "irev", "followup", "spf", "oos", "unanswerable"):
        wanted = [name == "all" or e.source == name or (name == "unanswerable" and not
                                                        e.answerable) for e in validation]
        if any(wanted):
            logger.info("%-12s selector %s | with cross-encoder %s", name,
                        _fmt(summarise([d for d, w in zip(theirs, wanted, strict=True) if w])),
                        _fmt(summarise([d for d, w in zip(ours, wanted, strict=True) if w])))
    logger.info("written %s (%d bytes)", args.output, args.output.stat().st_size)
    return args.output


def _fmt(result: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in result.items())


if __name__ == "__main__":
    main()
