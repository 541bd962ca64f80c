"""A cross-encoder that reads the question and a candidate sentence together, for the few
sentences the selector ranks first: does this sentence answer this question?

The selector scores each sentence from features and the two texts' separate e5 vectors; it cannot
see that « combien de logements neufs… à Argentine » asks for a figure the sentence does not
give. The cross-encoder is the embedder's own transformer (its first `layers` layers), with a
LoRA adapter and a linear head over the mean of its last hidden states, trained by
`python -m eval.reranker` on train-split questions only. Shipped as one small file
(`assistant/models/reranker.npz`: the adapter's matrices, the head, and how its logit combines
with the selector's, fitted on validation questions)."""

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from assistant.selector import Selector, pick

DEFAULT_RERANKER = Path(__file__).parent / "models" / "reranker.npz"
MAX_TOKENS = 128


@dataclass
class Combination:
    """How the cross-encoder's logits enter the decision (fitted on validation questions):
    a candidate's order score is `selector logit + weight · cross logit`; the confidence that
    the question is answered is `sigmoid(gate · gate logit + best · best cross logit + bias)`."""

    weight: float = 1.0
    gate: float = 1.0
    best: float = 0.0
    bias: float = 0.0
    threshold: float = 0.5
    top: int = 3  # how many of the selector's best candidates are re-read
    ratio: float = 0.8  # a further sentence needs this share of the best one's probability
    most: int = 2  # sentences quoted at most

    def confidence(self, gate_logit: float, cross: np.ndarray) -> float:
        return float(1 / (1 + np.exp(-(self.gate * gate_logit + self.best * cross.max() +
                                       self.bias))))

    def decide(self, logits: np.ndarray, gate_logit: float, cross: np.ndarray,
               overlaps=lambda i, j: 0.0) -> tuple[list[int], float]:
        """Of the re-read candidates (selector logits `logits`, best first, and their cross
        logits), the ones to quote (empty: abstain), and the confidence."""
        confidence = self.confidence(gate_logit, cross)
        if confidence < self.threshold:
            return [], confidence
        return pick(logits + self.weight * cross, overlaps, self.ratio, self.most), confidence

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {f"combine.{f.name}": np.array(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_arrays(cls, data) -> "Combination":
        return cls(**{f.name: f.type(data[f"combine.{f.name}"]) for f in fields(cls)})


class Reranker:
    def __init__(self, model_dir: Path | str, weights: Path = DEFAULT_RERANKER):
        import torch
        from transformers import AutoModel, AutoTokenizer

        data = np.load(weights)
        self.layers = int(data["layers"])
        self.combination = Combination.from_arrays(data)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModel.from_pretrained(str(model_dir))
        model.encoder.layer = model.encoder.layer[:self.layers]
        parameters = dict(model.named_parameters())
        scale = float(data["scale"])
        with torch.no_grad():
            for key in data.files:
                if key.endswith(".A"):
                    module = key.removesuffix(".A")
                    a = torch.from_numpy(data[key].astype(np.float32))
                    b = torch.from_numpy(data[f"{module}.B"].astype(np.float32))
                    parameters[f"{module}.weight"] += scale * (b @ a)
        self.model = model.eval()
        self.head = data["head"].astype(np.float32)  # hidden weights, then the bias

    def logits(self, question: str, sentences: list[str]) -> np.ndarray:
        """The logit that each sentence answers the question."""
        import torch

        if not sentences:
            return np.zeros(0)
        batch = self.tokenizer([f"query: {question}"] * len(sentences),
                               [f"passage: {s}" for s in sentences], padding=True,
                               truncation="longest_first", max_length=MAX_TOKENS,
                               return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
        pooled = mean_pool(hidden, batch["attention_mask"]).numpy()
        return pooled @ self.head[:-1] + self.head[-1]


    def choose(self, question: str, sentences: list[str], selector: Selector, rows: np.ndarray,
               pairs: np.ndarray | None, overlaps) -> tuple[list[int], float]:
        """As `Selector.choose`, the selector's best candidates re-read with the question."""
        if len(rows) == 0:
            return [], 0.0
        logits = selector.ranker.logits(rows, pairs)
        top = [int(i) for i in np.argsort(-logits)[:self.combination.top]]
        cross = self.logits(question, [sentences[i] for i in top])
        chosen, confidence = self.combination.decide(
            logits[top], gate_logit(selector, rows, pairs), cross,
            lambda i, j: overlaps(top[i], top[j]))
        return [top[i] for i in chosen], confidence


def gate_logit(selector: Selector, rows: np.ndarray, pairs: np.ndarray | None) -> float:
    """The selector's confidence, as a logit."""
    p = min(max(selector.confidence(rows, pairs), 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def mean_pool(hidden, mask):
    """The mean of the token vectors where `mask` is 1 (torch tensors)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
