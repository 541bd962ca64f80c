"""The learned sentence selector: which candidate sentence answers the question, and how sure we
are that it does (answer or abstain, one sentence or two).

Two small models, trained by `python -m eval.training` and shipped as one JSON file
(`assistant/models/selector.json`, no pickle):
- a **learned similarity**: logistic weights over u ∘ v, the question's and the sentence's
  frozen e5 vectors multiplied coordinate-wise, one of the ranker's features;
- the **ranker** scores each candidate over `assistant.features.FEATURES` (a logistic
  regression, gradient-boosted trees, or small networks that also read u ∘ v and are trained to
  put an answering sentence first among the question's candidates: whichever won on validation);
- the **gate** is a logistic regression or small gradient-boosted trees (whichever refused more
  on validation) over the question's best candidates (`GATE_FEATURES`):
  its output is the probability that one of the three best sentences answers the question. Below the
  threshold chosen on validation data the assistant says it did not find the answer.
The file also records the threshold, the second-sentence ratio and where they came from."""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.features import FEATURES

DEFAULT_MODEL = Path(__file__).parent / "models" / "selector.json"
GATE_FEATURES = ("best_logit", "margin", "best_cos", "candidates",
                 *(f"best_{name}" for name in FEATURES))


@dataclass
class Logistic:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logits(self, rows: np.ndarray, pairs: np.ndarray | None = None) -> np.ndarray:
        return ((rows - self.mean) / self.scale) @ self.coef + self.intercept

    def to_dict(self) -> dict:
        return {"type": "logistic", "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept}


@dataclass
class Trees:
    """Gradient-boosted trees (exported from scikit-learn's HistGradientBoostingClassifier):
    each tree is parallel arrays of feature, threshold, left, right and leaf value."""

    baseline: float
    trees: list[dict[str, np.ndarray]]

    def logits(self, rows: np.ndarray, pairs: np.ndarray | None = None) -> np.ndarray:
        total = np.full(len(rows), self.baseline)
        index = np.arange(len(rows))
        for tree in self.trees:
            node = np.zeros(len(rows), dtype=np.int64)
            leaf = tree["leaf"]
            while not leaf[node].all():
                inner = ~leaf[node]
                go_left = rows[index, tree["feature"][node]] <= tree["threshold"][node]
                nxt = np.where(go_left, tree["left"][node], tree["right"][node])
                node = np.where(inner, nxt, node)
            total += tree["value"][node]
        return total

    def to_dict(self) -> dict:
        return {"type": "trees", "baseline": self.baseline,
                "trees": [{k: v.tolist() for k, v in t.items()} for t in self.trees]}


PAIR_SCALE = 30.0  # u ∘ v coordinates are ~1e-3 to 1e-2: brought near unit scale


@dataclass
class Networks:
    """Small feed-forward rankers, averaged. Each reads the standardised features and u ∘ v (the
    question's and the sentence's e5 vectors multiplied coordinate-wise), has one ReLU hidden
    layer and gives a score; `slope` and `bias` turn the mean score into a calibrated logit."""

    mean: np.ndarray
    scale: np.ndarray
    nets: list[dict[str, np.ndarray]]  # hidden (inputs × units), hidden_bias, out, out_bias
    slope: float = 1.0
    bias: float = 0.0

    def scores(self, rows: np.ndarray, pairs: np.ndarray | None) -> np.ndarray:
        if pairs is None:  # no vectors given: u ∘ v reads as zeros
            pairs = np.zeros((len(rows), self.nets[0]["hidden"].shape[0] - rows.shape[1]))
        x = np.hstack([(rows - self.mean) / self.scale, pairs.astype(np.float64) * PAIR_SCALE])
        return sum(np.maximum(x @ n["hidden"] + n["hidden_bias"], 0.0) @ n["out"] +
                   float(n["out_bias"][0]) for n in self.nets) / len(self.nets)

    def logits(self, rows: np.ndarray, pairs: np.ndarray | None = None) -> np.ndarray:
        return self.slope * self.scores(rows, pairs) + self.bias

    def to_dict(self) -> dict:
        return {"type": "networks", "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "slope": self.slope, "bias": self.bias,
                "nets": [{k: np.round(v.astype(np.float64), 5).tolist() for k, v in n.items()}
                         for n in self.nets]}


Model = Logistic | Trees | Networks


def _model(data: dict) -> Model:
    if data["type"] == "networks":
        return Networks(np.asarray(data["mean"]), np.asarray(data["scale"]),
                        [{k: np.asarray(v) for k, v in n.items()} for n in data["nets"]],
                        float(data["slope"]), float(data["bias"]))
    if data["type"] == "trees":
        dtypes = {"feature": np.int64, "threshold": np.float64, "left": np.int64,
                  "right": np.int64, "value": np.float64, "leaf": bool}
        return Trees(float(data["baseline"]), [{k: np.asarray(t[k], dtypes[k]) for k in dtypes}
                                               for t in data["trees"]])
    return Logistic(np.asarray(data["mean"]), np.asarray(data["scale"]),
                    np.asarray(data["coef"]), float(data["intercept"]))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def gate_row(rows: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """The question-level features the gate reads, from the candidates and their scores."""
    order = np.argsort(-logits)
    second = logits[order[1]] if len(order) > 1 else logits[order[0]] - 5.0
    return np.array([logits[order[0]], logits[order[0]] - second,
                     float(rows[:, FEATURES.index("cos_sentence")].max()), np.log1p(len(rows)),
                     *rows[order[0]]])


@dataclass
class Selector:
    ranker: Model
    gate: Logistic | Trees | None = None
    threshold: float = 0.5  # below this probability the best sentence is not an answer
    second_ratio: float = 0.8  # a further sentence needs this share of the best one's score
    max_sentences: int = 2
    similarity: np.ndarray | None = None  # weights over u ∘ v (e5 vectors), then a bias
    provenance: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> "Selector":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if list(data["features"]) != list(FEATURES) or \
                list(data.get("gate_features", GATE_FEATURES)) != list(GATE_FEATURES):
            raise ValueError(f"{path}: features differ from assistant.features; retrain with "
                             "`python -m eval.training`")
        return cls(ranker=_model(data["ranker"]),
                   gate=_model(data["gate"]) if data.get("gate") else None,
                   threshold=float(data["threshold"]), second_ratio=float(data["second_ratio"]),
                   max_sentences=int(data.get("max_sentences", 2)),
                   similarity=np.asarray(data["similarity"]) if data.get("similarity")
                   else None,
                   provenance=data.get("provenance") or {})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"features": list(FEATURES), "gate_features": list(GATE_FEATURES),
                "ranker": self.ranker.to_dict(),
                "gate": self.gate.to_dict() if self.gate else None,
                "threshold": self.threshold, "second_ratio": self.second_ratio,
                "max_sentences": self.max_sentences,
                "similarity": None if self.similarity is None else
                [round(float(w), 6) for w in self.similarity],
                "provenance": self.provenance}
        path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n",
                        encoding="utf-8")

    def probabilities(self, rows: np.ndarray, pairs: np.ndarray | None = None) -> np.ndarray:
        """The ranker's probability that each candidate answers (comparable within a question).
        `pairs`: u ∘ v of each candidate (`assistant.features.products`), for the networks."""
        if len(rows) == 0:
            return np.zeros(0)
        return _sigmoid(self.ranker.logits(rows, pairs))

    def confidence(self, rows: np.ndarray, pairs: np.ndarray | None = None) -> float:
        """The probability that the best candidate answers the question."""
        if len(rows) == 0:
            return 0.0
        return self._confidence(rows, self.ranker.logits(rows, pairs))

    def _confidence(self, rows: np.ndarray, logits: np.ndarray) -> float:
        if self.gate is None:
            return float(_sigmoid(logits.max()))
        return float(_sigmoid(self.gate.logits(gate_row(rows, logits)[None, :]))[0])

    def choose(self, rows: np.ndarray, overlaps, pairs: np.ndarray | None = None
               ) -> tuple[list[int], float]:
        """Indices of the sentences to quote, best first (empty: abstain), and the confidence.

        `overlaps(i, j)` tells how much two candidates say the same thing (0..1)."""
        if len(rows) == 0:
            return [], 0.0
        logits = self.ranker.logits(rows, pairs)
        confidence = self._confidence(rows, logits)
        if confidence < self.threshold:
            return [], confidence
        probabilities = _sigmoid(logits)
        order = [int(i) for i in np.argsort(-probabilities)]
        best = order[0]
        chosen = [best]
        for i in order[1:]:
            if len(chosen) >= self.max_sentences or \
                    probabilities[i] < self.second_ratio * probabilities[best]:
                break
            if all(overlaps(i, j) < 0.5 for j in chosen):
                chosen.append(i)
        return chosen, confidence
