"""The `irev` command through typer's CliRunner, on real files and the real index."""

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, clone_data_dir
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture
def env(built_data_dir, tmp_path, monkeypatch):
    data_dir = clone_data_dir(built_data_dir, tmp_path / "data")
    monkeypatch.setenv("IREV_DATA_DIR", str(data_dir))
    monkeypatch.setenv("IREV_CORPUS_DIR", str(ROOT / "corpus"))
    return data_dir


def test_help_lists_the_four_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("ingest", "serve", "ask", "eval"):
        assert command in result.output


def test_ingest_prints_a_summary_and_fails_on_bad_files(env, tmp_path):
    folder = tmp_path / "depot"
    folder.mkdir()
    (folder / "bon.md").write_text("# Note\n\nLe conseil citoyen de Roubaix se réunit au centre "
                                   "social chaque trimestre.\n", encoding="utf-8")
    (folder / "vide.pdf").write_bytes(b"")
    result = runner.invoke(app, ["ingest", str(folder)])
    assert result.exit_code == 1  # a file failed
    assert "Bilan de l'indexation" in result.output
    assert "vide.pdf" in result.output and "fichier vide" in result.output
    (folder / "vide.pdf").unlink()
    again = runner.invoke(app, ["ingest", str(folder)])
    assert again.exit_code == 0
    assert "inchangé" in again.output


def test_ingest_delete_removes_a_document(env):
    result = runner.invoke(app, ["ingest", "--delete", "note-de-cadrage.txt"])
    assert result.exit_code == 0, result.output
    assert "Retiré de l'index : note-de-cadrage.txt" in result.output


def test_ask_prints_the_answer_with_its_sources_or_json(env):
    text = runner.invoke(app, ["ask", "Que dit l'article 7 de la loi Lamy ?"])
    assert text.exit_code == 0, text.output
    assert "Sources :" in text.output and "Article 7" in text.output
    raw = runner.invoke(app, ["ask", "--json", "Que dit l'article 7 de la loi Lamy ?"])
    body = json.loads(raw.stdout[raw.stdout.index("{"):])
    assert body["grounded"] and body["citations"][0]["article"] == "7"


def test_ask_without_an_index_says_what_to_do(tmp_path, monkeypatch, models_dir):
    data_dir = tmp_path / "vide"
    data_dir.mkdir()
    (data_dir / "models").symlink_to(models_dir)
    monkeypatch.setenv("IREV_DATA_DIR", str(data_dir))
    result = runner.invoke(app, ["ask", "Combien de quartiers ?"])
    assert result.exit_code == 1
    assert "l'administrateur doit lancer `irev ingest`" in result.output
    assert str(tmp_path) not in result.output  # no server path shown to users


def test_invalid_settings_are_refused_with_the_value(monkeypatch):
    monkeypatch.setenv("IREV_CHUNK_OVERLAP", "400")
    result = runner.invoke(app, ["ask", "x"])
    assert result.exit_code == 2
    assert "chunk_overlap (400)" in result.output


def test_eval_runs_the_shipped_dataset_and_writes_a_report(env, tmp_path):
    """A small real run: the first 12 shipped questions through the real assistant."""
    output = tmp_path / "resultats"
    result = runner.invoke(app, ["eval", "--output", str(output), "--limit", "12",
                                 "--fail-under", "hit@10=0.3"])
    assert result.exit_code == 0, result.output
    (results_file,) = output.glob("*.json")
    results = json.loads(results_file.read_text(encoding="utf-8"))
    metrics = results["metrics"]
    assert results["dataset"]["questions"] == 12
    assert 0.3 <= metrics["hit@10"] <= 1
    assert 0 <= metrics["citation_precision"] <= 1
    assert results["git"]["commit"] and results["settings"]["embed_model"]
    report = results_file.with_suffix(".html")
    assert "<table" in report.read_text(encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(report, ARTIFACTS / "eval-report.html")
    strict = runner.invoke(app, ["eval", "--output", str(output), "--limit", "3",
                                 "--fail-under", "hit@10=1.01"])
    assert strict.exit_code == 1 and "Seuil non atteint" in strict.output
    compared = runner.invoke(app, ["eval", "compare", str(results_file),
                                   str(sorted(output.glob("*.json"))[-1]), "--output",
                                   str(output)])
    assert compared.exit_code == 0, compared.output
    assert (output / "comparison.md").is_file()
    assert "<table>" in (output / "comparison.html").read_text(encoding="utf-8")


@pytest.mark.browser
def test_eval_report_renders_in_chromium(env, tmp_path):
    from playwright.sync_api import sync_playwright

    output = tmp_path / "resultats"
    result = runner.invoke(app, ["eval", "--output", str(output), "--limit", "6"])
    assert result.exit_code == 0, result.output
    (report,) = output.glob("*.html")
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(Path(report).as_uri())
        assert page.locator("table").count() >= 2
        assert page.locator("svg").count() >= 1
        page.screenshot(path=str(shots / "eval-report.png"), full_page=True)
        browser.close()
    assert errors == []
