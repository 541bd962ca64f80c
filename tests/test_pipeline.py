"""The ingest pipeline on real files: incremental runs, prune, delete, duplicates, bad input,
and an index that a crash cannot break."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import DECREE_QPV_MD, LAMY_MD, LAMY_PDF, ROOT
from test_loaders import make_pdf

from ingest.chunking import embed_text
from ingest.e5_bundle import DEFAULT_MODEL_NAME
from ingest.index import current_build, read_snapshot
from ingest.pipeline import run
from ingest.text import answer_sentences


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(ROOT / "corpus/2023-03-29_assemblee-generale-bilan-2022.txt", folder)
    shutil.copy(ROOT / "corpus/manifest.csv", folder)
    shutil.copy(DECREE_QPV_MD, folder)
    return folder


def ingest(paths, index_dir, embedder, **kwargs):
    return run(list(paths), index_dir, embedder, model_name=DEFAULT_MODEL_NAME, **kwargs)


def test_ingest_then_rerun_reembeds_nothing(corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    first = ingest([corpus], index_dir, embedder)
    assert len(first.indexed) == 2 and first.embedded == first.chunks > 0
    build = current_build(index_dir)
    started = time.perf_counter()
    second = ingest([corpus], index_dir, embedder)
    assert second.embedded == 0 and not second.indexed and len(second.unchanged) == 2
    assert first.sentences_embedded > 0 and second.sentences_embedded == 0
    assert second.build is None and current_build(index_dir) == build  # nothing rewritten
    assert time.perf_counter() - started < 10


def test_an_unchanged_rerun_never_loads_the_model_and_a_new_title_reindexes(corpus, tmp_path,
                                                                           embedder):
    index_dir = tmp_path / "index"
    first = ingest([corpus], index_dir, embedder)

    def refuse():
        raise AssertionError("the model was loaded although nothing changed")

    again = run([corpus], index_dir, refuse, model_name=DEFAULT_MODEL_NAME)
    assert sorted(again.unchanged) == sorted(first.indexed) and again.build is None
    assert again.chunks == first.chunks
    manifest = corpus / "manifest.csv"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        "L'assemblée générale de l'IREV adopte le bilan 2022",
        "Bilan 2022 adopté par l'assemblée générale"), encoding="utf-8")
    renamed = ingest([corpus], index_dir, lambda: embedder)
    assert renamed.indexed == ["2023-03-29_assemblee-generale-bilan-2022.txt"]
    assert read_snapshot(index_dir).documents[renamed.indexed[0]]["title"] == \
        "Bilan 2022 adopté par l'assemblée générale"


def test_quotable_sentences_are_embedded_once_at_ingest(corpus, tmp_path, embedder):
    """The extractive answerer quotes `answer_sentences` of the chunks: ingest stores exactly
    those with the vectors the embedder gives them, and a changed file embeds only its new ones."""
    index_dir = tmp_path / "index"
    ingest([corpus], index_dir, embedder)
    snapshot = read_snapshot(index_dir)
    wanted = {s for n in snapshot.nodes for s in answer_sentences(n.get_content())}
    assert set(snapshot.sentences) == wanted and len(wanted) > 20
    sample = sorted(wanted)[::7]
    fresh = np.asarray(embedder.get_text_embedding_batch(sample), np.float32)
    stored = np.stack([snapshot.sentences[s] for s in sample])
    assert np.min(np.sum(fresh * stored, axis=1)) > 0.9999
    note = corpus / "2023-03-29_assemblee-generale-bilan-2022.txt"
    note.write_text(note.read_text(encoding="utf-8") + "\nLe GIP compte désormais douze agents "
                    "à temps plein.\n", encoding="utf-8")
    report = ingest([corpus], index_dir, embedder)
    assert 1 <= report.sentences_embedded < 10
    assert any("douze agents à temps plein" in s for s in read_snapshot(index_dir).sentences)


def test_chunk_vectors_are_the_mean_of_their_sentences_and_a_rechunk_reuses_them(
        corpus, tmp_path, embedder):
    """A chunk's vector is the normalised mean of its quotable sentences' vectors (no second
    forward pass); a chunk with no quotable sentence is embedded whole; a build made with other
    chunk settings is re-chunked on the next run without embedding its sentences again."""
    (corpus / "liste.txt").write_text("Sigles\n\nQPV\n\nNPNRU\n\nCGCT\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    first = ingest([corpus], index_dir, embedder)
    snapshot = read_snapshot(index_dir)
    assert snapshot.meta["chunk_vectors"] == "sentence-mean"
    whole = 0
    for node, vector in zip(snapshot.nodes, snapshot.vectors, strict=True):
        own = [snapshot.sentences[s] for s in answer_sentences(node.get_content())]
        if own:
            mean = np.mean(own, axis=0)
            assert np.allclose(vector, mean / np.linalg.norm(mean), atol=1e-5)
        else:
            whole += 1
            fresh = np.asarray(embedder.get_text_embedding_batch([embed_text(node)])[0])
            assert float(fresh @ vector) > 0.9999
    assert whole >= 1  # the list of acronyms
    rechunked = ingest([corpus], index_dir, embedder, chunk_size=150)
    assert rechunked.chunks > first.chunks and rechunked.embedded == rechunked.chunks
    assert rechunked.sentences_embedded < first.sentences_embedded / 4


def test_manifest_metadata_flows_into_every_chunk(corpus, tmp_path, embedder):
    ingest([corpus], tmp_path / "index", embedder)
    nodes = [n for n in read_snapshot(tmp_path / "index").nodes
             if n.metadata["document_id"] == "2023-03-29_assemblee-generale-bilan-2022.txt"]
    assert nodes
    for node in nodes:
        assert node.metadata["title"] == "L'assemblée générale de l'IREV adopte le bilan 2022"
        assert node.metadata["type"] == "actualité"
        assert node.metadata["published"] == "2023-03-29"
        assert node.metadata["url"].startswith("https://www.irev.fr/")


def test_a_changed_file_is_reindexed_alone(corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    ingest([corpus], index_dir, embedder)
    note = corpus / "2023-03-29_assemblee-generale-bilan-2022.txt"
    note.write_text(note.read_text(encoding="utf-8") + "\nLe GIP compte désormais 12 agents.\n",
                    encoding="utf-8")
    report = ingest([corpus], index_dir, embedder)
    assert report.indexed == ["2023-03-29_assemblee-generale-bilan-2022.txt"]
    assert 0 < report.embedded < report.chunks
    texts = " ".join(n.text for n in read_snapshot(index_dir).nodes)
    assert "12 agents" in texts


def test_prune_removes_deleted_files_and_delete_removes_one_document(corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    ingest([corpus], index_dir, embedder)
    (corpus / DECREE_QPV_MD.name).unlink()
    kept = ingest([corpus], index_dir, embedder)
    assert not kept.removed  # without --prune, documents stay
    pruned = ingest([corpus], index_dir, embedder, prune=True)
    assert pruned.removed == ["03_decret-2014-767-qpv-criteres-metropole.md"]
    note = "2023-03-29_assemblee-generale-bilan-2022.txt"
    deleted = ingest([], index_dir, embedder, delete=(note,))
    assert deleted.removed == ["2023-03-29_assemblee-generale-bilan-2022.txt"]
    snapshot = read_snapshot(index_dir)
    assert snapshot.documents == {} and snapshot.nodes == []


def test_the_same_text_as_markdown_and_pdf_is_indexed_once(tmp_path, embedder):
    report = ingest([LAMY_PDF, LAMY_MD], tmp_path / "index", embedder)
    assert [Path(f).name for f, _ in report.duplicates] == [LAMY_MD.name]
    assert report.duplicates[0][1] == LAMY_PDF.name.lower()
    documents = read_snapshot(tmp_path / "index").documents
    assert list(documents) == [LAMY_PDF.name.lower()]
    assert documents[LAMY_PDF.name.lower()]["pages"] == 9
    # and in a later run, against the index
    again = ingest([LAMY_MD], tmp_path / "index", embedder)
    assert again.duplicates and not again.indexed


def test_bad_files_are_reported_by_name_and_the_run_goes_on(tmp_path, embedder):
    folder = tmp_path / "mixte"
    folder.mkdir()
    shutil.copy(DECREE_QPV_MD, folder)
    (folder / "vide.pdf").write_bytes(b"")
    (folder / "casse.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\n1 0 obj << /Pages 2 0 R")
    (folder / "latin1.txt").write_bytes("Écart de développement".encode("latin-1"))
    (folder / "gros.txt").write_text("quartier " * 200_000, encoding="utf-8")
    (folder / "tableur.xlsx").write_bytes(b"PK\x03\x04")
    outside = tmp_path / "secret.txt"
    outside.write_text("Hors du corpus.", encoding="utf-8")
    (folder / "lien.txt").symlink_to(outside)
    make_pdf(folder / "rapport.pdf", ["Rapport : 12 conseils citoyens installés en 2016."])
    report = ingest([folder], tmp_path / "index", embedder, max_bytes=1_000_000)
    reasons = {Path(f).name: r for f, r in report.skipped}
    assert reasons["vide.pdf"] == "fichier vide"
    assert "PDF" in reasons["casse.pdf"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "trop volumineux" in reasons["gros.txt"]
    assert "lien symbolique" in reasons["lien.txt"]
    assert [Path(f).name for f, _ in report.ignored] == ["tableur.xlsx"]
    assert sorted(report.indexed) == ["03_decret-2014-767-qpv-criteres-metropole.md", "rapport.pdf"]
    assert report.failed


def test_a_reader_library_that_crashes_skips_its_file_only(tmp_path, models_dir):
    """The defect of a plain install with lxml 6: justext (through trafilatura) imports
    `lxml.html.clean`, which is missing. Reproduced by blocking that import in a real run."""
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(ROOT / "tests/data/rapport-activites-exemple.html", folder)
    shutil.copy(ROOT / "corpus/2023-03-29_assemblee-generale-bilan-2022.txt", folder)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['lxml.html.clean'] = None\n")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "models").symlink_to(models_dir)
    env = {**os.environ, "IREV_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": f"{site}{os.pathsep}{ROOT}", "COLUMNS": "200"}
    result = subprocess.run(_ingest_command(data_dir, folder), env=env, cwd=ROOT, text=True,
                            capture_output=True, timeout=600)
    assert result.returncode == 1, result.stderr[-2000:]  # a file was skipped: said in the code
    printed = result.stdout + result.stderr
    assert "rapport-activites-exemple.html" in printed
    assert "lecture impossible" in printed
    assert "Lecture des fichiers : 2/2 (100 %)" in printed  # not a terminal: plain lines
    assert "Traceback" not in result.stdout
    documents = read_snapshot(data_dir / "index").documents
    assert list(documents) == ["2023-03-29_assemblee-generale-bilan-2022.txt"]


def _indexed_data_dir(tmp_path: Path, corpus: Path, embedder, models_dir: Path) -> Path:
    """A data dir (sharing the converted model) whose index holds `corpus`."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "models").symlink_to(models_dir)
    ingest([corpus], data_dir / "index", embedder)
    return data_dir


def _ingest_command(data_dir: Path, *paths: Path) -> list[str]:
    return [sys.executable, "-m", "cli.main", "ingest", *map(str, paths)]


def test_kill_during_ingest_leaves_the_previous_index_complete(corpus, tmp_path, embedder,
                                                               models_dir):
    """`kill -9` at several moments of a run: the previous build stays current and loadable."""
    from ingest.index import load_index

    data_dir = _indexed_data_dir(tmp_path, corpus, embedder, models_dir)
    index_dir = data_dir / "index"
    before = current_build(index_dir)
    chunks_before = len(read_snapshot(index_dir).nodes)
    shutil.copy(LAMY_MD, corpus)
    env = {**os.environ, "IREV_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    for delay in (0.5, 3.0, 6.0):
        process = subprocess.Popen(_ingest_command(data_dir, corpus), env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        build = current_build(index_dir)
        if build != before:  # the run finished before the kill: a complete new build
            break
        assert len(load_index(index_dir, embedder).nodes) == chunks_before
    report = ingest([corpus], index_dir, embedder)
    snapshot = read_snapshot(index_dir)
    ids = [n.node_id for n in snapshot.nodes]
    assert len(ids) == len(set(ids))  # nothing duplicated
    assert set(snapshot.documents) == {"2023-03-29_assemblee-generale-bilan-2022.txt",
                                       "03_decret-2014-767-qpv-criteres-metropole.md",
                                       LAMY_MD.name.lower()}
    assert report.chunks == len(ids) == snapshot.vectors.shape[0]
    leftovers = [b for b in (index_dir / "builds").iterdir() if not (b / "COMPLETE").exists()]
    assert leftovers == []


def test_full_disk_during_ingest_gives_a_clear_error_and_keeps_the_index(corpus, tmp_path,
                                                                        embedder, models_dir):
    """A file-size limit makes every write past 64 kB fail, as a full disk would."""
    import resource

    data_dir = _indexed_data_dir(tmp_path, corpus, embedder, models_dir)
    index_dir = data_dir / "index"
    before = current_build(index_dir)
    shutil.copy(LAMY_MD, corpus)

    def limit_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    env = {**os.environ, "IREV_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(_ingest_command(data_dir, corpus), env=env, cwd=ROOT,
                            preexec_fn=limit_writes, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    assert "l'index précédent reste en service" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert current_build(index_dir) == before
    assert [b for b in (index_dir / "builds").iterdir()] == [before]
