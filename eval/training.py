"""Train the sentence selector (`assistant/models/selector.json`), reproducibly.

    python -m eval.training                      # full run (indexes cached under data/training)
    python -m eval.training --tiny --output /tmp/selector.json   # a few questions, for CI

Data (splits in `eval.splits`; nothing of a test split is read here):
- PIAF questions over an index of the PIAF paragraphs: the sentence holding the answer span is
  the positive, every other candidate sentence of the top passages a negative; the same with the
  service-public.fr questions (`piaf-ml-spf/filtered_spf_qr_test.json`) over their fiches;
- the web-article questions (train split) over an index of the 56 articles, and `irev.jsonl`'s
  dev part over the shipped corpus: sentences holding all the expected facts are positives;
  the follow-up conversations' dev third (rewritten) only for choosing the threshold;
- « not in the documents »: questions asked against an index that lacks their context (PIAF
  and service-public.fr over the shipped corpus, web questions over the shipped corpus when no
  retrieved passage holds their facts), the unanswerable web and irev questions, and the
  out-of-scope set: every candidate is a negative.
The threshold (answer or abstain) and the second-sentence ratio are chosen on the validation
split; the model is fitted on the train split."""

import argparse
import copy
import logging
import pickle
import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.extractive import candidates as find_candidates
from assistant.features import FEATURES, Candidate, analyse_question, features, products
from assistant.live_index import LiveIndex
from assistant.rewrite import rewrite, standalone_turns
from assistant.selector import (
    DEFAULT_MODEL,
    GATE_FEATURES,
    PAIR_SCALE,
    Logistic,
    Model,
    Networks,
    Selector,
    Trees,
    gate_row,
)
from eval.datasets import load_dataset, load_squad
from eval.facts import holds, normalise_fact
from eval.splits import (
    followup_split,
    irev_split,
    out_of_scope_split,
    piaf_split,
    spf_split,
    web_document_split,
    web_split,
)
from ingest.index import current_build

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATASETS = Path(__file__).parent / "datasets"
TOP_K = 8
DOMAIN_WEIGHT = 3.0  # a practitioner's question counts as much as three PIAF questions

Labeler = Callable[[Candidate], bool]


@dataclass
class Item:
    """One question to collect: where it is asked, which split, how candidates are labelled."""

    qid: str
    question: str
    turns: list[str]
    split: str
    source: str  # piaf | spf | web | irev | followup | oos | piaf_elsewhere | spf_elsewhere |
    # web_elsewhere
    labeler: Labeler | None  # None: nothing retrieved can answer it
    facts: list[str] | None = None


@dataclass
class Group:
    """One collected question: a row of features per candidate sentence, and its labels."""

    qid: str
    source: str
    split: str
    answerable: bool
    rows: np.ndarray
    labels: np.ndarray
    cosine: np.ndarray
    products: np.ndarray  # u ∘ v per candidate (float16), for the learned similarity


# -- indexes -----------------------------------------------------------------------------------

def build_index(paths: list[Path], index_dir: Path, embedder, model_name: str) -> Path:
    from ingest.pipeline import run

    report = run(paths, index_dir, embedder, model_name=model_name, chunk_size=300,
                 chunk_overlap=40, max_bytes=50_000_000)
    logger.info("index %s: %d chunks (%d embedded)", index_dir, report.chunks, report.embedded)
    return index_dir


def write_squad(folder: Path, documents) -> Path:
    """One text file per SQuAD paragraph (PIAF, service-public.fr), its title as first line."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc in documents:
        path = folder / f"{doc.id}.txt"
        if not path.exists():
            path.write_text(f"{doc.title}\n\n{doc.text}\n", encoding="utf-8")
    return folder


# -- items -------------------------------------------------------------------------------------

def _span_labeler(document_id: str, answers: list[str]) -> Labeler:
    wanted = [normalise_fact(a) for a in answers if a.strip()]
    return lambda c: c.hit.document_id == document_id and any(
        w in normalise_fact(c.sentence) for w in wanted)


def _facts_labeler(facts: list[str]) -> Labeler:
    return lambda c: holds(c.sentence, facts)


def squad_items(squad, source: str, split_of: Callable[[str], str], limit: int | None,
                rng: random.Random, elsewhere_share: float) -> tuple[list[Item], list[Item]]:
    """SQuAD-style questions (PIAF, service-public.fr) over their own index, and a share of them
    over the shipped corpus (where nothing answers them). The test split is never read here:
    `bench/answers.py` reports PIAF test."""
    documents = {d.id: d for d in squad.documents}
    questions = [q for q in squad.questions if q.answers]
    rng.shuffle(questions)
    questions = questions[:limit] if limit else questions
    own, elsewhere = [], []
    for q in questions:
        split = split_of(documents[q.context_id].title)
        if split == "test":
            continue
        if len(elsewhere) < len(questions) * elsewhere_share:
            elsewhere.append(Item(q.id, q.question, [], split, f"{source}_elsewhere", None))
        own.append(Item(q.id, q.question, [], split, source,
                        _span_labeler(f"{q.context_id}.txt", q.answers)))
    return own, elsewhere


def dataset_items(path: Path, source: str, split_of: Callable[[str], str],
                  keep: set[str]) -> list[Item]:
    items = []
    for q in load_dataset(path):
        split = split_of(q.id)
        if split not in keep or q.answerable is None:
            continue
        if q.answerable and not q.facts:
            continue
        labeler = _facts_labeler(q.facts) if q.answerable else None
        items.append(Item(q.id, q.question, q.turns, split, source, labeler, q.facts))
    return items


# -- collection --------------------------------------------------------------------------------

def collect(index: LiveIndex, items: list[Item], progress: Callable[[], None] | None = None
            ) -> list[Group]:
    groups = []
    idf = index.idf
    for item in items:
        history = standalone_turns(item.turns)
        question = rewrite(item.question, history)
        hits = index.search(question, TOP_K)
        found = find_candidates(hits, index)
        labeler = item.labeler
        if labeler is None and item.facts:  # asked elsewhere: a negative only if no passage has it
            if any(holds(h.text, item.facts) for h in hits):
                continue
        analysed = analyse_question(question, idf, index.embed_query(question))
        rows = features(analysed, found)
        labels = np.array([bool(labeler and labeler(c)) for c in found], dtype=bool)
        cosine = np.array([float(c.vector @ analysed.vector) for c in found])
        pairs = products(analysed, found).astype(np.float16) if found else np.zeros((0, 0))
        groups.append(Group(item.qid, item.source, item.split, labeler is not None, rows,
                            labels, cosine, pairs))
        if progress:
            progress()
    return groups


# -- fitting and choosing ----------------------------------------------------------------------

def _stack(groups: list[Group]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, labels and weights: each question weighs the same (a practitioner's question
    `DOMAIN_WEIGHT` times a PIAF one), whatever its number of candidates."""
    used = [g for g in groups if len(g.rows)]
    x = np.concatenate([g.rows for g in used])
    y = np.concatenate([g.labels for g in used])
    w = np.concatenate([np.full(len(g.rows), _weight(g) / len(g.rows)) for g in used])
    return x, y, w * len(w) / w.sum()


def _weight(group: Group) -> float:
    return 1.0 if group.source.startswith("piaf") else DOMAIN_WEIGHT


def _standardisation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (1 where a column is constant)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    return mean, scale


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float = 1.0) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    mean, scale = _standardisation(x)
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit((x - mean) / scale, y, sample_weight=w)
    return Logistic(mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]))


def fit_trees(x: np.ndarray, y: np.ndarray, w: np.ndarray, leaves: int = 15) -> Trees:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05,
                                           max_leaf_nodes=leaves,
                                           min_samples_leaf=40, l2_regularization=1.0,
                                           random_state=0)
    model.fit(x, y, sample_weight=w)
    trees = []
    for (predictor,) in model._predictors:  # noqa: SLF001 - the fitted trees, to export
        nodes = predictor.nodes
        trees.append({"feature": nodes["feature_idx"].astype(np.int64),
                      "threshold": nodes["num_threshold"].astype(np.float64),
                      "left": nodes["left"].astype(np.int64),
                      "right": nodes["right"].astype(np.int64),
                      "value": nodes["value"].astype(np.float64),
                      "leaf": nodes["is_leaf"].astype(bool)})
    return Trees(float(np.ravel(model._baseline_prediction)[0]), trees)  # noqa: SLF001


def fit_similarity(groups: list[Group]) -> np.ndarray:
    """Logistic weights over u ∘ v (and a bias): which coordinates of e5 matter for answering."""
    from sklearn.linear_model import LogisticRegression

    used = [g for g in groups if len(g.rows)]
    x = np.concatenate([g.products for g in used]).astype(np.float32)
    y = np.concatenate([g.labels for g in used])
    _, _, w = _stack(used)
    model = LogisticRegression(C=10.0, max_iter=3000)
    model.fit(x * 100.0, y, sample_weight=w)  # u ∘ v coordinates are ~1e-3: rescaled
    return np.concatenate([model.coef_[0] * 100.0, model.intercept_]).astype(np.float64)


def add_similarity(train: list[Group], others: list[Group]) -> np.ndarray:
    """Fill the learned-similarity column: out of fold for the training questions (so that the
    ranker does not learn from a score fitted on the same questions), from the model fitted on
    all of them for the others. Returns that model."""
    column = FEATURES.index("learned_similarity")
    for fold in (0, 1):
        weights = fit_similarity([g for g in train if hash_fold(g.qid) != fold])
        for g in train:
            if hash_fold(g.qid) == fold and len(g.rows):
                g.rows[:, column] = g.products.astype(np.float32) @ weights[:-1] + weights[-1]
    weights = fit_similarity(train)
    for g in others:
        if len(g.rows):
            g.rows[:, column] = g.products.astype(np.float32) @ weights[:-1] + weights[-1]
    return weights


NETWORKS, HIDDEN, EPOCHS = 3, 64, 20


def fit_networks(groups: list[Group], seeds: int = NETWORKS, hidden: int = HIDDEN,
                 epochs: int = EPOCHS) -> Networks:
    """Small networks over the features and u ∘ v, trained listwise: for each question, the
    softmax over its candidates should put its answering sentences first (questions with only
    positives or only negatives teach nothing here). Averaged over `seeds`, then calibrated into
    a probability per sentence by a one-variable logistic regression on all the rows."""
    import torch

    x_all, y_all, w_all = _stack(groups)
    mean, scale = _standardisation(x_all)
    used = [g for g in groups if len(g.rows) and g.labels.any() and not g.labels.all()]
    width = max(len(g.rows) for g in used)
    inputs = len(FEATURES) + used[0].products.shape[1]
    x = np.zeros((len(used), width, inputs), np.float32)
    mask = np.zeros((len(used), width), bool)
    y = np.zeros((len(used), width), bool)
    for i, g in enumerate(used):
        x[i, :len(g.rows)] = np.hstack([(g.rows - mean) / scale,
                                        g.products.astype(np.float32) * PAIR_SCALE])
        mask[i, :len(g.rows)], y[i, :len(g.rows)] = True, g.labels
    x, mask, y = torch.from_numpy(x), torch.from_numpy(mask), torch.from_numpy(y)
    weights = torch.tensor([_weight(g) for g in used], dtype=torch.float32)
    nets = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(inputs, hidden), torch.nn.ReLU(),
                                  torch.nn.Dropout(0.1), torch.nn.Linear(hidden, 1))
        optimiser = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
        for _ in range(epochs):
            net.train()
            for batch in torch.randperm(len(used)).split(64):
                out = net(x[batch]).squeeze(-1).masked_fill(~mask[batch], -1e9)
                lost = torch.logsumexp(out, 1) - \
                    torch.logsumexp(out.masked_fill(~y[batch], -1e9), 1)
                loss = (lost * weights[batch]).sum() / weights[batch].sum()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        first, last = net[0], net[-1]
        nets.append({"hidden": first.weight.detach().numpy().T.astype(np.float64),
                     "hidden_bias": first.bias.detach().numpy().astype(np.float64),
                     "out": last.weight.detach().numpy()[0].astype(np.float64),
                     "out_bias": last.bias.detach().numpy().astype(np.float64)})
    model = Networks(mean, scale, nets)
    pairs = np.concatenate([g.products for g in groups if len(g.rows)])
    calibration = fit_logistic(model.scores(x_all, pairs)[:, None], y_all, w_all, c=100.0)
    model.slope = float(calibration.coef[0] / calibration.scale[0])
    model.bias = float(calibration.intercept - calibration.coef[0] * calibration.mean[0]
                       / calibration.scale[0])
    return model


RANKERS = ("logistic", "trees", "networks")


def fit_ranker(groups: list[Group], kind: str) -> Model:
    if kind == "networks":
        return fit_networks(groups)
    x, y, w = _stack(groups)
    return fit_trees(x, y, w) if kind == "trees" else fit_logistic(x, y, w)


GATE_TOP = 3  # an answer may quote up to three sentences


def fit_gates(groups: list[Group], kind: str) -> dict[str, Model]:
    """The gate learns from rankers that did not see the question (two folds, cross-fitted).
    Its label: one of the ranker's `GATE_TOP` best candidates answers (an answer may quote that
    many); on validation this lifted the gate's AUC from 0.891 to 0.904. (Leaving PIAF's own
    questions out of the gate gave 0.912, but a gate fitted on the ~1,500 domain questions alone
    weighed every count question down and refused « Combien de quartiers prioritaires compte la
    région ? », one of its own training questions.) Two gates, a
    logistic regression and small gradient-boosted trees: the caller keeps the one that refuses
    most on validation."""
    folds = [[g for g in groups if hash_fold(g.qid) == f] for f in (0, 1)]
    rows, labels, weights = [], [], []
    for held, other in ((folds[0], folds[1]), (folds[1], folds[0])):
        ranker = fit_ranker(other, kind)
        for g in held:
            if not len(g.rows):
                continue
            logits = ranker.logits(g.rows, g.products)
            rows.append(gate_row(g.rows, logits))
            labels.append(bool(g.labels[np.argsort(-logits)[:GATE_TOP]].any()))
            weights.append(_weight(g))
    x, y, w = np.asarray(rows), np.asarray(labels), np.asarray(weights)
    w = w * len(w) / w.sum()
    return {"logistic": fit_logistic(x, y, w),
            "trees": fit_trees(x, y, w, leaves=7)}


def hash_fold(qid: str) -> int:
    import hashlib

    return int(hashlib.sha256(qid.encode()).hexdigest()[:4], 16) % 2


def top1(groups: list[Group], scores: Callable[[Group], np.ndarray]) -> float | None:
    """Share of questions with a positive candidate whose best-scored candidate is positive."""
    usable = [g for g in groups if g.answerable and g.labels.any()]
    if not usable:
        return None
    return sum(bool(g.labels[int(np.argmax(scores(g)))]) for g in usable) / len(usable)


def _scorer(selector: Selector) -> Callable[[Group], np.ndarray]:
    return lambda g: selector.probabilities(g.rows, g.products)


def decide(groups: list[Group], selector: Selector) -> dict[str, float]:
    """Fact held, false abstentions and refusals with the selector's current threshold/ratio."""
    answerable = [g for g in groups if g.answerable]
    unanswerable = [g for g in groups if not g.answerable]
    held = refused_ok = abstained = sentences = 0
    for g in answerable:
        chosen = _choose(selector, g)
        abstained += not chosen
        held += any(g.labels[i] for i in chosen)
        sentences += len(chosen)
    for g in unanswerable:
        refused_ok += not _choose(selector, g)
    return {"fact": held / max(1, len(answerable)),
            "false_abstention": abstained / max(1, len(answerable)),
            "refused": refused_ok / max(1, len(unanswerable)),
            "sentences": sentences / max(1, len(answerable) - abstained)}


def _choose(selector: Selector, g: Group) -> list[int]:
    if len(g.rows) == 0:
        return []
    return selector.choose(g.rows, lambda i, j: 0.0, g.products)[0]


MAX_FALSE_ABSTENTIONS = 0.10


def choose_threshold(groups: list[Group], selector: Selector) -> None:
    """The trade-off: refuse as many unanswerable validation questions as possible while
    refusing at most `MAX_FALSE_ABSTENTIONS` of the answerable ones (a practitioner is worse
    served by « je n'ai pas trouvé » on a question the documents answer than by a cited
    sentence that is near the answer); then the further-sentence ratio."""
    confidences = {g.qid + g.source: selector.confidence(g.rows, g.products) for g in groups}
    answerable = [confidences[g.qid + g.source] for g in groups if g.answerable]
    best = 0.02
    for threshold in np.linspace(0.02, 0.95, 94):
        refused = np.mean([c < threshold for c in answerable]) if answerable else 0.0
        if refused <= MAX_FALSE_ABSTENTIONS:
            best = float(threshold)
    selector.threshold = best
    best = None
    for most in (1, 2, 3):  # a further sentence must earn its place: 5 points of facts held
        for ratio in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            selector.second_ratio, selector.max_sentences = ratio, most
            result = decide(groups, selector)
            value = result["fact"] - 0.05 * (result["sentences"] - 1)
            if best is None or value > best[0] + 1e-9:
                best = (value, ratio, most)
    selector.second_ratio, selector.max_sentences = best[1], best[2]


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# -- plan --------------------------------------------------------------------------------------

def prepare(shared: Path, data: Path, embedder, tiny: bool = False,
            piaf_limit: int | None = None) -> tuple[dict[str, Path], list[tuple[str, list[Item]]]]:
    """The indexes (built under `data` when missing) and the plan: which questions are asked
    against which index. Nothing of a test split is in it."""
    from ingest.embedding import DEFAULT_MODEL_NAME

    rng = random.Random(2026)
    squad = load_squad(shared / "benchmarks/piaf/piaf-v1.0.json")
    limit = 40 if tiny else piaf_limit
    piaf_own, piaf_elsewhere = squad_items(squad, "piaf", piaf_split, limit, rng, 1 / 8)
    documents = {d.id for d in squad.documents}
    if tiny:  # only the paragraphs the sampled questions need, and a few others
        wanted = {q.context_id for q in squad.questions if q.id in {i.qid for i in piaf_own}}
        documents = wanted | set(sorted(documents - wanted)[:10])
    piaf_folder = write_squad(data / "piaf-docs" / ("tiny" if tiny else "all"),
                              [d for d in squad.documents if d.id in documents])
    spf = load_squad(shared / "benchmarks/piaf-ml-spf/filtered_spf_qr_test.json")
    spf_own, spf_elsewhere = squad_items(spf, "spf", spf_split, 8 if tiny else None, rng,
                                         1.0)
    spf_wanted = {q.context_id for q in spf.questions if q.id in {i.qid for i in spf_own}}
    spf_folder = write_squad(data / "spf-docs" / ("tiny" if tiny else "all"),
                             [d for d in spf.documents if d.id in spf_wanted or not tiny])
    web = sorted((shared / "corpus/web").glob("[0-9]*"))
    if tiny:
        web = [p for p in web if web_document_split(p.name) != "test"][:6]
    product = [ROOT / "corpus", shared / "corpus/legal"]
    if tiny:
        product = [ROOT / "corpus"]
    suffix = "-tiny" if tiny else ""
    indexes = {
        "piaf": build_index([piaf_folder], data / f"piaf{suffix}", embedder, DEFAULT_MODEL_NAME),
        "spf": build_index([spf_folder], data / f"spf{suffix}", embedder, DEFAULT_MODEL_NAME),
        "web": build_index(web, data / f"web{suffix}", embedder, DEFAULT_MODEL_NAME),
        "product": build_index(product, data / f"product{suffix}", embedder, DEFAULT_MODEL_NAME),
    }
    keep = {"train", "validation", "dev"}
    web_items = dataset_items(DATASETS / "web.jsonl", "web", web_split, keep)
    irev_items = dataset_items(DATASETS / "irev.jsonl", "irev", irev_split, {"dev"})
    oos_items = dataset_items(DATASETS / "out_of_scope.jsonl", "oos", out_of_scope_split, keep)
    # the follow-up conversations' dev third: validation only (thresholds), never fitted
    followup_items = dataset_items(DATASETS / "followups.jsonl", "followup", followup_split,
                                   {"dev"})
    web_elsewhere = [Item(i.qid, i.question, i.turns, i.split, "web_elsewhere", None, i.facts)
                     for i in web_items if i.labeler is not None]
    if tiny:
        web_items = [i for i in web_items if any(i.qid.startswith(f"web-{p.name[:2]}-")
                                                 for p in web)][:12]
        irev_items, oos_items, web_elsewhere = irev_items[:6], oos_items[:6], web_elsewhere[:6]
        followup_items = followup_items[:4]
    plan = [("piaf", piaf_own), ("product", piaf_elsewhere), ("spf", spf_own),
            ("product", spf_elsewhere), ("web", web_items),
            ("product", irev_items), ("product", oos_items), ("web", oos_items),
            ("product", web_elsewhere), ("product", followup_items)]
    return indexes, plan


# -- main --------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "training")
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--piaf-limit", type=int, default=None)
    parser.add_argument("--tiny", action="store_true", help="a few questions of each kind")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the features collected by the previous run for the same "
                             "questions and columns (same feature code only)")
    parser.add_argument("--ranker", choices=RANKERS, default=None,
                        help="fit this ranker only (default: the best on domain validation)")
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "data" / "models",
                        help="where the converted embedding model is (made if missing)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from rich.console import Console
    from rich.table import Table

    from ingest.embedding import DEFAULT_MODEL_NAME, load_embedder, resolve_model

    console = Console(stderr=True, width=140)
    embedder = load_embedder(DEFAULT_MODEL_NAME, args.models_dir)
    model_id = Path(resolve_model(DEFAULT_MODEL_NAME, args.models_dir)).name
    indexes, plan = prepare(args.shared, args.data_dir, embedder, args.tiny, args.piaf_limit)
    suffix = "-tiny" if args.tiny else ""
    data = args.data_dir
    groups, live = [], {}
    for name, items in plan:
        source = items[0].source if items else "—"
        cache = data / f"groups{suffix}-{name}-{source}.pkl"
        # same questions, columns, model and index build (a rebuilt index retrieves otherwise)
        key = (FEATURES, [i.qid for i in items], model_id, current_build(indexes[name]).name)
        cached = pickle.loads(cache.read_bytes()) if args.reuse and cache.exists() else None
        if cached and cached[0] == key:
            groups += [Group(**fields) for fields in cached[1]]
            continue
        console.print(f"{name}: {len(items)} questions ({source})")
        if name not in live:  # each index is loaded once, whatever the number of item sets
            live[name] = LiveIndex(indexes[name], embedder)
        collected = collect(live[name], items)
        # plain fields, not Group objects: `python -m` would pickle them as `__main__.Group`
        cache.write_bytes(pickle.dumps((key, [vars(g) for g in collected])))
        groups += collected
    for g in groups:  # irev dev questions: alternate between fitting and choosing
        if g.source == "irev":
            g.split = "train" if int(g.qid.split("-")[-1]) % 2 else "validation"
        elif g.source == "followup":
            g.split = "validation"
    train = [g for g in groups if g.split == "train"]
    validation = [g for g in groups if g.split == "validation"]
    similarity = add_similarity(train, validation)
    domain = [g for g in validation if not g.source.startswith("piaf")]
    piaf = [g for g in validation if g.source == "piaf"]
    candidates_by_kind = {}
    for kind in ([args.ranker] if args.ranker else RANKERS):
        selector = Selector(ranker=fit_ranker(train, kind))
        scores = _scorer(selector)
        candidates_by_kind[kind] = (top1(domain, scores) or 0.0, selector)
        console.print(f"ranker {kind}: top-1 on domain validation "
                      f"{candidates_by_kind[kind][0]:.3f}, on PIAF validation "
                      f"{top1(piaf, scores) or 0.0:.3f}")
    kind = max(candidates_by_kind, key=lambda k: candidates_by_kind[k][0])
    selector = candidates_by_kind[kind][1]
    selector.similarity = similarity
    # the trade-off is chosen on the product's kind of questions: the web-article and irev
    # validation questions and the unanswerable ones (PIAF's Wikipedia questions are not)
    product_validation = [g for g in validation if not g.source == "piaf"]
    gates = {}  # kind → (refused, the selector with that gate and its threshold and ratio)
    for gate_kind, gate in fit_gates(train, kind).items():
        gated = copy.copy(selector)
        gated.gate = gate
        choose_threshold(product_validation, gated)
        refused = decide([g for g in product_validation if not g.answerable], gated)["refused"]
        gates[gate_kind] = (refused, gated)
        console.print(f"gate {gate_kind}: threshold {gated.threshold:.2f}, unanswerable "
                      f"validation questions refused {refused:.3f}")
    gate_kind = max(gates, key=lambda k: gates[k][0])
    selector = gates[gate_kind][1]

    table = Table(title="Sentence selector — validation")
    table.add_column("set")
    for column in ("questions", "top-1 cosine", "top-1 model", "fact held", "false abst.",
                   "refused"):
        table.add_column(column, justify="right")
    summary = {}
    for source in ("piaf", "spf", "web", "irev", "followup", "unanswerable"):
        subset = [g for g in validation if (g.source == source if source != "unanswerable"
                                            else not g.answerable)]
        if not subset:
            continue
        cos = top1(subset, lambda g: g.cosine)
        model = top1(subset, _scorer(selector))
        result = decide(subset, selector)
        summary[source] = {"questions": len(subset), "top1_cosine": cos, "top1_model": model,
                           **result}
        table.add_row(source, str(len(subset)), _fmt(cos), _fmt(model),
                      _fmt(result["fact"]) if source != "unanswerable" else "—",
                      _fmt(result["false_abstention"]) if source != "unanswerable" else "—",
                      _fmt(result["refused"]) if source == "unanswerable" else "—")
    console.print(table)
    console.print(f"threshold {selector.threshold:.2f}, further sentences at "
                  f"{selector.second_ratio:.2f} of the best one's probability, at most "
                  f"{selector.max_sentences}")
    if isinstance(selector.ranker, Logistic):
        weights = sorted(zip(FEATURES, selector.ranker.coef, strict=True),
                         key=lambda p: -abs(p[1]))
        console.print("strongest features: " + ", ".join(f"{n} {w:+.2f}"
                                                         for n, w in weights[:12]))
    if isinstance(selector.gate, Logistic):
        gate = sorted(zip(GATE_FEATURES, selector.gate.coef, strict=True),
                      key=lambda p: -abs(p[1]))
        console.print("gate: " + ", ".join(f"{n} {w:+.2f}" for n, w in gate))
    selector.provenance = {
        "commit": _git_commit(), "tiny": args.tiny, "ranker": kind, "gate": gate_kind,
        "train_questions": {s: sum(g.source == s for g in train)
                            for s in sorted({g.source for g in train})},
        "validation": summary,
    }
    selector.save(args.output)
    console.print(f"model written to {args.output}")
    return summary


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
