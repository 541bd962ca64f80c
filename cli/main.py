"""`irev`: ingest, serve, ask, eval. Thin: parse, call one library function, print."""

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from assistant.settings import Settings

app = typer.Typer(help="Assistant documentaire — politique de la ville.", no_args_is_help=True)
# Logs and CI are not terminals: give tables room rather than rich's 80 columns.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        console.print(f"[red]Configuration invalide :[/red] {exc}")
        raise typer.Exit(code=2) from exc


@app.command()
def ingest(
    paths: Annotated[list[str] | None, typer.Argument(
        help="Fichiers ou dossiers à indexer, ou adresses web (une page, un sitemap.xml, un "
             "flux RSS/Atom).")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Retire de l'index les documents absents de ces chemins.")] = False,  # noqa: E501
    delete: Annotated[list[str] | None, typer.Option("--delete", help="Retire ce document (identifiant) de l'index.")] = None,  # noqa: E501
) -> None:
    """Indexe des documents (PDF, Word, OpenDocument, PowerPoint, HTML, Markdown, texte, pages
    web), de façon incrémentale."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from cli.progress import LineProgress
    from ingest.embedding import load_embedder
    from ingest.index import IndexFailure
    from ingest.pipeline import run

    settings = _settings()
    given = paths if paths is not None else ([] if delete else [str(settings.corpus_dir)])
    urls = [p for p in given if p.startswith(("http://", "https://"))]
    targets = [Path(p) for p in given if p not in urls]
    removed: list[str] = []
    for url in urls:
        folder, gone = _crawl(url, settings)
        targets.append(folder)
        removed += gone

    def load() -> object:  # called by ingest only when something must be chunked or embedded
        return load_embedder(settings.embed_model, settings.models_dir, settings.embed_dtype)

    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    shown = Progress(*columns, console=console, transient=True) if console.is_terminal \
        else LineProgress(sys.stderr)
    try:
        with shown as progress:
            report = run(
                targets, settings.index_dir, load, model_name=settings.embed_model,
                chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap,
                max_bytes=int(settings.max_file_mb * 1e6), prune=prune,
                delete=(*(delete or ()), *removed), progress=progress,
            )
    except IndexFailure as exc:
        console.print(f"[red]Erreur :[/red] {exc}")
        raise typer.Exit(code=1) from exc
    _print_report(report)
    if report.failed or not (report.indexed or report.unchanged or delete):
        raise typer.Exit(code=1)


def _crawl(url: str, settings: Settings) -> tuple[Path, list[str]]:
    """Fetch a page, sitemap or feed into the web mirror; the ids of pages that left it."""
    from ingest.manifest import document_id
    from ingest.web import CrawlError, crawl

    try:
        found = crawl(url, settings.data_dir / "web", delay=settings.crawl_delay)
    except CrawlError as exc:
        console.print(f"[red]Erreur :[/red] {exc}")
        raise typer.Exit(code=1) from exc
    console.print(f"Web : {len(found.fetched)} pages nouvelles ou modifiées, "
                  f"{len(found.unchanged)} inchangées, {len(found.removed)} retirées")
    for page, reason in found.refused:
        console.print(f"[yellow]Page non récupérée :[/yellow] {page} ({reason})")
    return found.folder, [document_id(found.folder / name) for name in found.removed]


def _print_report(report) -> None:
    table = Table(title="Bilan de l'indexation", show_header=False)
    for label, value in [
        ("Documents indexés (nouveaux ou modifiés)", len(report.indexed)),
        ("Documents inchangés", len(report.unchanged)),
        ("Documents retirés", len(report.removed)),
        ("Doublons écartés", len(report.duplicates)),
        ("Fichiers en échec", len(report.skipped)),
        ("Fichiers ignorés (format)", len(report.ignored)),
        ("Pages (PDF)", report.pages),
        ("Passages dans l'index", report.chunks),
        ("Passages vectorisés", report.embedded),
        ("Phrases vectorisées", report.sentences_embedded),
        ("Durée", f"{report.seconds:.1f} s"),
        ("Index", report.build or "inchangé"),
    ]:
        table.add_row(label, str(value))
    console.print(table)
    problems = [(f, r, "red") for f, r in report.skipped]
    problems += [(f, f"doublon de « {kept} », non indexé", "yellow")
                 for f, kept in report.duplicates]
    problems += [(f, r, "dim") for f, r in report.ignored]
    if problems:
        detail = Table(title="Fichiers non indexés", show_lines=False)
        detail.add_column("Fichier", overflow="fold")  # a name is never cut: it is the point
        detail.add_column("Raison", overflow="fold")
        for file, reason, style in problems:
            detail.add_row(file, reason, style=style)
        console.print(detail)
    for doc_id in report.removed:
        console.print(f"Retiré de l'index : {doc_id}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Adresse d'écoute.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port d'écoute.")] = 8000,
) -> None:
    """Sert l'API, la page de discussion et le widget sur l'index de IREV_DATA_DIR."""
    import uvicorn

    from assistant.api import create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = _settings()
    console.print(f"Assistant disponible sur http://{host}:{port}/ (API : /docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@app.command()
def ask(
    question: str,
    json_output: Annotated[bool, typer.Option("--json", help="Affiche le JSON de l'API.")] = False,
) -> None:
    """Répond à une question, avec ses sources."""
    from assistant.answer import Assistant
    from assistant.errors import AssistantError

    try:
        answer = Assistant.from_settings(_settings()).ask(question)
    except AssistantError as exc:
        console.print(f"[red]Erreur :[/red] {exc}")
        raise typer.Exit(code=1) from exc
    typer.echo(answer.model_dump_json(indent=2) if json_output else answer.render())


@app.command("eval")
def eval_(
    target: Annotated[list[str] | None, typer.Argument(
        help="Jeu de questions JSONL (défaut : eval/datasets/irev.jsonl), "
             "ou « compare RUN_A.json RUN_B.json ».")] = None,
    output: Annotated[Path, typer.Option(help="Dossier des résultats.")] = Path("eval/results"),
    url: Annotated[str | None, typer.Option(help="Évalue un serveur en marche (ex. "
                                                 "http://127.0.0.1:8000) au lieu du processus.")] = None,  # noqa: E501
    k: Annotated[int, typer.Option(help="Profondeur de recherche évaluée.")] = 10,
    limit: Annotated[int | None, typer.Option(help="Seulement les N premières questions.")] = None,
    split: Annotated[str | None, typer.Option(
        help="Seulement une partie du jeu irev.jsonl : dev (réglages) ou test (résultats "
             "publiés), voir eval/splits.py.")] = None,
    fail_under: Annotated[list[str] | None, typer.Option(
        "--fail-under", help="metrique=valeur : code de sortie 1 si la métrique est en dessous "
                             "(au-dessus pour false_abstention_rate et les latences).")] = None,
) -> None:
    """Évalue la qualité des réponses et écrit un rapport HTML ; ou compare deux évaluations."""
    from eval.run import load_results

    if target and target[0] == "compare":
        if len(target) != 3:
            console.print("Usage : irev eval compare RUN_A.json RUN_B.json")
            raise typer.Exit(code=2)
        _compare(load_results(target[1]), load_results(target[2]), output)
        return
    dataset = Path(target[0]) if target else Path(__file__).parents[1] / "eval/datasets/irev.jsonl"
    if split not in (None, "dev", "test"):
        raise typer.BadParameter(f"--split : dev ou test, pas {split!r}")
    results = _run_eval(dataset, url, k, limit, split)
    _print_metrics(results)
    failed = _failures(results["metrics"], fail_under or [])
    for line in failed:
        console.print(f"[red]Seuil non atteint :[/red] {line}")
    from eval.report import write_report
    from eval.run import save_results

    path = save_results(results, output)
    report = write_report(results, path.with_suffix(".html"))
    console.print(f"Résultats : {path}\nRapport : {report}")
    if failed:
        raise typer.Exit(code=1)


def _run_eval(dataset: Path, url: str | None, k: int, limit: int | None,
              split: str | None = None) -> dict:
    from rich.progress import Progress

    from eval.datasets import load_dataset
    from eval.run import run_eval
    from eval.splits import irev_split

    settings = _settings()
    questions = [q for q in load_dataset(dataset) if split is None or irev_split(q.id) == split]
    questions = questions[:limit]
    if url:
        target, extra = url, {}
    else:
        from assistant.answer import Assistant
        from assistant.citations import supports

        assistant = Assistant.from_settings(settings)
        target = assistant
        vectors = assistant.index.sentence_vectors
        extra = {"embed": vectors, "supports": lambda s, p: supports(s, p, vectors)}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Évaluation", total=len(questions))
        results = run_eval(questions, target, k, lambda *_: progress.advance(task),
                           settings=settings, corpus_dirs=[settings.corpus_dir], **extra)
    results["dataset"]["path"] = str(dataset)
    return results


LOWER_IS_BETTER = ("false_abstention_rate", "latency_p50", "latency_p95")


def _failures(values: dict, thresholds: list[str]) -> list[str]:
    failed = []
    for item in thresholds:
        name, _, raw = item.partition("=")
        if name not in values or not raw:
            raise typer.BadParameter(f"{item!r} : attendu metrique=valeur, métriques : "
                                     f"{', '.join(values)}")
        value, bound = values[name], float(raw)
        worse = value is None or (value > bound if name in LOWER_IS_BETTER else value < bound)
        if worse:
            failed.append(f"{name} = {value} (seuil {bound})")
    return failed


def _print_metrics(results: dict) -> None:
    table = Table(title=f"Évaluation — {results['dataset']['questions']} questions")
    table.add_column("Métrique")
    table.add_column("Valeur", justify="right")
    for name, value in results["metrics"].items():
        table.add_row(name, "—" if value is None else f"{value:.3f}")
    console.print(table)


def _compare(before: dict, after: dict, output: Path) -> None:
    from eval.compare import compare_results, render_comparison, render_comparison_html

    comparison = compare_results(before, after)
    text = render_comparison(comparison)
    output.mkdir(parents=True, exist_ok=True)
    (output / "comparison.md").write_text(text, encoding="utf-8")
    (output / "comparison.html").write_text(render_comparison_html(comparison), encoding="utf-8")
    typer.echo(text)
    console.print(f"Comparaison : {output / 'comparison.html'}")


if __name__ == "__main__":
    app()
