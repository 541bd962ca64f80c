"""The live index alone, over a small real build (the test corpus): what is served, search,
term statistics, stored sentence vectors and tags, and reload."""

import numpy as np
import pytest

from assistant.errors import IndexNotReady
from assistant.live_index import LiveIndex
from ingest.text import answer_sentences


@pytest.fixture(scope="module")
def live(built_data_dir, embedder):
    return LiveIndex(built_data_dir / "index", embedder)


def test_serves_the_current_build(live):
    assert live.ready
    assert live.current.name == live.current.build.name
    assert live.reload() is False  # nothing new: the same build stays served


def test_search_fuses_dense_and_lexical(live):
    hits = live.search("Qu'est-ce qu'un conseil citoyen ?", 5)
    assert 1 <= len(hits) <= 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert any("conseil" in h.text.lower() and "citoyen" in h.text.lower() for h in hits)
    assert any(h.dense_score is not None for h in hits)
    assert any(h.lexical_score is not None for h in hits)


def test_term_statistics_rank_rare_words_higher(live):
    idf = live.idf
    assert idf["citoyen"] > idf["vill"]  # « ville » is everywhere in this corpus


def test_stored_sentence_vectors_and_tags(live):
    hit = live.search("conseils citoyens", 1)[0]
    sentences = answer_sentences(hit.text)
    vectors = live.sentence_vectors(sentences)
    assert vectors.shape == (len(sentences), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    again = np.asarray(live.embedder.get_text_embedding_batch(sentences[:1]), np.float32)
    assert float(again[0] @ vectors[0]) > 0.999  # the stored vector is the model's vector
    tags = live.sentence_tags(sentences)
    assert len(tags) == len(sentences)
    assert live.passage_vector(hit.node_id).shape == (384,)


def test_a_question_and_its_spelled_out_form_are_embedded_in_one_pass(live):
    question = "Combien de QPV compte la ville de Roubaix ?"  # search spells « QPV » out
    passes = live.query_passes
    live.search(question, 3)
    vector = live.embed_query(question)  # the answer step's: kept from the search
    assert live.query_passes == passes + 1
    alone = np.asarray(live.embedder.get_query_embedding(question), np.float32)
    assert float(alone @ vector) > 0.9999
    batch = live.embed_queries(["contrat de ville", "conseil citoyen", "contrat de ville"])
    assert live.query_passes == passes + 2 and batch[0] is batch[2]
    assert float(batch[1] @ np.asarray(live.embedder.get_query_embedding("conseil citoyen"))) \
        > 0.9999


def test_an_empty_data_dir_is_not_ready_and_says_so_in_french(tmp_path, embedder):
    empty = LiveIndex(tmp_path / "index", embedder)
    assert not empty.ready
    with pytest.raises(IndexNotReady, match="Aucun document"):
        empty.search("contrat de ville", 3)
