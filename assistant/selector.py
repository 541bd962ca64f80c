"""The learned sentence selector: the probability that a candidate sentence answers the question,
and the decisions made with it (answer or abstain, one sentence or more).

The model is a logistic regression over `assistant.features.FEATURES`, trained by
`python -m eval.training` and shipped as a small JSON file (`assistant/models/selector.json`):
coefficients, feature scaling, the abstention threshold and the second-sentence ratio chosen on
validation data, and where they came from."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.features import FEATURES

DEFAULT_MODEL = Path(__file__).parent / "models" / "selector.json"


@dataclass
class Selector:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 0.5  # below this the best sentence is not an answer: abstain
    second_ratio: float = 0.8  # a further sentence needs this share of the best probability
    max_sentences: int = 2
    provenance: dict | None = None

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> "Selector":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if list(data["features"]) != list(FEATURES):
            missing = sorted(set(FEATURES) ^ set(data["features"]))
            raise ValueError(f"{path}: features differ from assistant.features ({missing}); "
                             "retrain with `python -m eval.training`")
        return cls(mean=np.asarray(data["mean"], np.float64),
                   scale=np.asarray(data["scale"], np.float64),
                   coef=np.asarray(data["coef"], np.float64),
                   intercept=float(data["intercept"]), threshold=float(data["threshold"]),
                   second_ratio=float(data["second_ratio"]),
                   max_sentences=int(data.get("max_sentences", 2)),
                   provenance=data.get("provenance"))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"features": list(FEATURES), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept, "threshold": self.threshold,
                "second_ratio": self.second_ratio, "max_sentences": self.max_sentences,
                "provenance": self.provenance or {}}
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0)
        z = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def choose(self, probabilities: np.ndarray, overlaps) -> list[int]:
        """Indices of the sentences to quote, best first; empty to abstain.

        `overlaps(i, j)` tells how much two candidates say the same thing (0..1)."""
        if len(probabilities) == 0:
            return []
        order = [int(i) for i in np.argsort(-probabilities)]
        best = order[0]
        if probabilities[best] < self.threshold:
            return []
        chosen = [best]
        for i in order[1:]:
            if len(chosen) >= self.max_sentences or \
                    probabilities[i] < self.second_ratio * probabilities[best]:
                break
            if all(overlaps(i, j) < 0.5 for j in chosen):
                chosen.append(i)
        return chosen
