"""The shipped cross-encoder on a fixed case, its decision rule, and its training script end to
end on a tiny sample."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.reranker import DEFAULT_RERANKER, Combination, Reranker
from ingest.e5_bundle import DEFAULT_MODEL_NAME
from ingest.embedding import resolve_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reranker(models_dir, embedder):  # the embedder fixture builds the adapted model
    return Reranker(resolve_model(DEFAULT_MODEL_NAME, models_dir))


def test_the_shipped_cross_encoder_is_small():
    assert DEFAULT_RERANKER.stat().st_size < 3_000_000


def test_the_sentence_that_answers_reads_highest(reranker):
    question = "Combien de logements neufs seront construits dans le quartier Argentine ?"
    sentences = [
        "Le quartier Argentine est situé au nord-ouest de Beauvais.",
        "Le projet prévoit la construction de 320 logements neufs dans le quartier Argentine.",
        "Les habitants du quartier ont été associés à la concertation dès 2016.",
    ]
    logits = reranker.logits(question, sentences)
    assert logits.shape == (3,)
    assert int(np.argmax(logits)) == 1, logits


def test_a_sentence_on_another_subject_reads_lower_than_the_answer(reranker):
    question = "Qui préside le conseil national des villes ?"
    answer, other = reranker.logits(question, [
        "Le conseil national des villes est présidé par le Premier ministre.",
        "Le conseil national des villes publie un rapport annuel sur les quartiers.",
    ])
    assert answer > other


def test_the_decision_abstains_below_the_threshold_and_reorders_above():
    rule = Combination(weight=1.0, gate=1.0, best=1.0, bias=0.0, threshold=0.5, top=2,
                       ratio=0.9, most=1)
    logits = np.array([2.0, 1.5])
    assert rule.decide(logits, gate_logit=-3.0, cross=np.array([-2.0, -1.0]))[0] == []
    chosen, confidence = rule.decide(logits, gate_logit=1.0, cross=np.array([-1.0, 1.0]))
    assert chosen == [1] and confidence > 0.5


def test_the_decision_rule_survives_a_round_trip():
    rule = Combination(weight=0.5, gate=0.8, best=0.3, bias=-0.2, threshold=0.4, top=3,
                       ratio=0.6, most=2)
    assert Combination.from_arrays(rule.to_arrays()) == rule


@pytest.mark.slow
def test_training_script_runs_end_to_end_on_a_tiny_sample(tmp_path, tiny_training_dir,
                                                          built_data_dir):
    output = tmp_path / "reranker.npz"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "eval.reranker", "--tiny", "--output", str(output),
         "--data-dir", str(tiny_training_dir), "--models-dir",
         str(built_data_dir / "models")], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    trained = Reranker(resolve_model(DEFAULT_MODEL_NAME, built_data_dir / "models"), output)
    assert 1 <= trained.combination.top <= 4
    assert "with cross-encoder" in done.stderr
