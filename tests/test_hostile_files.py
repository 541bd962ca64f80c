"""One real `irev ingest` over 150+ broken and hostile files (tests/hostile.py) and a dozen good
ones: the run ends in bounded time and memory, every bad file is named with a French reason,
every good file is indexed, and no script text reaches the index. Plus focused regression tests,
one per failure mode found, that fail fast and in-process."""

import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import hostile
import pytest
from conftest import ROOT, SHARED
from hostile import ABSENT, DUPLICATE, FRENCH, IGNORED, INDEXED, SKIPPED

from ingest.e5_bundle import DEFAULT_MODEL_NAME
from ingest.index import read_snapshot
from ingest.loaders import LoadError, load_file
from ingest.pipeline import run

REAL_PDFS = sorted((SHARED / "corpus/pdf").glob("*.pdf"))
# CPU time, not wall time, is the budget: a shared, overloaded machine stretches wall time several
# fold, while a pathological input (10 000 chunks of base64) costs ten times more CPU anywhere.
# The run uses about 70 CPU-seconds (2 threads), model loading included.
CPU_LIMIT = 240  # CPU-seconds of the ingesting process (RLIMIT_CPU kills it past this)
HARD_LIMIT = 900.0  # wall-clock seconds: the test stays bounded even on a loaded machine
# peak RSS of the ingesting process; ingest now also loads spaCy fr_core_news_md (~0.3 GB) to
# tag sentences (measured 3.24 GB on a clean-clone CI run, 2026-12-02)
MEMORY_LIMIT = int(3.5 * 1024**3)


@dataclass
class HostileRun:
    folder: Path
    data_dir: Path
    cases: list[hostile.Case]
    returncode: int | None
    seconds: float
    cpu_seconds: float
    peak_rss: int
    stderr: str

    def refused(self) -> dict[str, str]:
        """File (relative to the folder) -> reason, from the report's « Fichiers non indexés »
        (the run is given the relative path `corpus`; a row rich wraps is joined back)."""
        rows: list[list[str]] = []
        table = self.stderr.split("Fichiers non indexés", 1)[-1]
        for line in table.splitlines():
            cells = [c.strip() for c in line.strip().strip("│").split("│")]
            if len(cells) != 2 or line.lstrip().startswith(("┏", "┃", "┡", "└")):
                continue
            if cells[0].startswith("corpus/"):
                rows.append(cells)
            elif rows:  # continuation of a wrapped row: a folded path, a wrapped reason
                rows[-1] = [rows[-1][0] + cells[0], f"{rows[-1][1]} {cells[1]}".strip()]
        return {_key(path.removeprefix("corpus/")): reason for path, reason in rows}


def _key(name: str) -> str:
    """File names as the report prints them (a non-UTF-8 name cannot be printed as is)."""
    return os.fsencode(name).decode("utf-8", "replace")


def _peak_rss_watch(pid: int, done: threading.Event, peak: list[int]) -> None:
    status = Path(f"/proc/{pid}/status")
    while not done.is_set():
        try:
            found = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
        except OSError:
            return
        if found:
            peak[0] = max(peak[0], int(found.group(1)) * 1024)
            if peak[0] > MEMORY_LIMIT:
                os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.1)


def _limit_cpu() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT, CPU_LIMIT + 5))


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, models_dir, embedder) -> HostileRun:
    base = tmp_path_factory.mktemp("hostile")
    folder = base / "corpus"
    cases = hostile.generate(folder, REAL_PDFS)
    data_dir = base / "data"
    data_dir.mkdir()
    (data_dir / "models").symlink_to(models_dir)
    env = {**os.environ, "IREV_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
           "IREV_MAX_FILE_MB": str(hostile.MAX_BYTES / 1e6), "COLUMNS": "1000",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    stderr_path = base / "stderr.txt"
    with open(stderr_path, "wb") as stderr:
        started = time.monotonic()
        # A relative path keeps the report's rows short: rich wraps tables past 160 columns.
        process = subprocess.Popen([sys.executable, "-m", "cli.main", "ingest", "corpus"],
                                   env=env, cwd=base, stdout=subprocess.DEVNULL, stderr=stderr,
                                   preexec_fn=_limit_cpu)
        done, peak, ended = threading.Event(), [0], []
        watcher = threading.Thread(target=_peak_rss_watch, args=(process.pid, done, peak),
                                   daemon=True)
        reaper = threading.Thread(target=lambda: ended.append(os.wait4(process.pid, 0)),
                                  daemon=True)
        watcher.start()
        reaper.start()
        reaper.join(timeout=HARD_LIMIT)
        if reaper.is_alive():
            os.kill(process.pid, signal.SIGKILL)
            reaper.join()
        done.set()
        seconds = time.monotonic() - started
        _, status, usage = ended[0]
        process.returncode = os.waitstatus_to_exitcode(status)
    text = stderr_path.read_text(encoding="utf-8", errors="replace")
    return HostileRun(folder, data_dir, cases, process.returncode, seconds,
                      usage.ru_utime + usage.ru_stime, max(peak[0], usage.ru_maxrss * 1024), text)


def _tail(run: HostileRun) -> str:
    lines = [line.strip(" │─╭╮╰╯")[:300] for line in run.stderr.splitlines()
             if "Multiple definitions" not in line]
    return "\n".join(line for line in lines[-60:] if line)


def test_the_run_ends_in_bounded_time_and_memory_with_a_report(hostile_run):
    assert len([c for c in hostile_run.cases if c.expect != {INDEXED}]) >= 100
    assert hostile_run.peak_rss < MEMORY_LIMIT, f"{hostile_run.peak_rss / 1e9:.1f} Go"
    assert hostile_run.returncode != -signal.SIGXCPU, f"> {CPU_LIMIT} CPU-s\n{_tail(hostile_run)}"
    assert hostile_run.cpu_seconds < CPU_LIMIT, _tail(hostile_run)
    assert hostile_run.seconds < HARD_LIMIT, _tail(hostile_run)
    assert "Traceback" not in hostile_run.stderr, _tail(hostile_run)
    assert hostile_run.returncode == 1, _tail(hostile_run)  # files failed: exit code 1, by design
    assert "Bilan de l'indexation" in hostile_run.stderr


def test_every_file_is_indexed_or_named_with_a_french_reason(hostile_run):
    refused = hostile_run.refused()
    snapshot = read_snapshot(hostile_run.data_dir / "index")
    root = hostile_run.folder.resolve()
    indexed = {_key(str(Path(d["source_path"]).relative_to(root))): doc_id
               for doc_id, d in snapshot.documents.items()}
    problems = []
    for case in hostile_run.cases:
        key = _key(case.name)
        reason = refused.get(key)
        if key in indexed:
            outcome = INDEXED
        elif reason is None:
            outcome = ABSENT
        elif reason.startswith("doublon de"):
            outcome = DUPLICATE
        elif reason.startswith("format non pris en charge"):
            outcome = IGNORED
        else:
            outcome = SKIPPED
        if outcome not in case.expect:
            problems.append(f"{case.name} ({case.kind}): {outcome} {reason or ''}, "
                            f"attendu {sorted(case.expect)}")
        elif outcome in (SKIPPED, IGNORED) and not (re.search(case.reason, reason)
                                                    and FRENCH.search(reason)):
            problems.append(f"{case.name} ({case.kind}): raison « {reason} »")
    assert not problems, "\n".join(problems) + "\n" + _tail(hostile_run)


def test_good_files_are_indexed_and_no_script_or_outside_text_is(hostile_run):
    snapshot = read_snapshot(hostile_run.data_dir / "index")
    assert snapshot.nodes, _tail(hostile_run)
    texts = {}
    for node in snapshot.nodes:
        texts.setdefault(node.metadata["file_name"], []).append(node.get_content())
    everything = "\n".join("\n".join(t) for t in texts.values())
    titles = " ".join(str(d.get("title")) for d in snapshot.documents.values())
    for case in hostile_run.cases:
        if case.marker:
            assert case.marker in "\n".join(texts.get(Path(case.name).name, [])), case.name
        for forbidden in case.forbidden:
            assert forbidden not in everything and forbidden not in titles, (case.name, forbidden)
    rows = snapshot.vectors.shape[0]
    assert rows == len(snapshot.nodes) == len({n.node_id for n in snapshot.nodes})


def test_the_index_built_from_a_hostile_folder_answers(hostile_run, embedder):
    from assistant.answer import build_assistant
    from assistant.store import Store

    data_dir = hostile_run.data_dir
    assistant = build_assistant(data_dir / "index", embedder,
                                Store(f"sqlite:///{data_dir / 'a.db'}"))
    answer = assistant.ask("Combien de composteurs partagés le bailleur de Lens a-t-il installés ?")
    assert answer.grounded, answer
    assert answer.citations[0].document_id == "page-lens.html"
    assert "vingt-deux" in answer.answer


# -- focused regressions: each failure mode on its own, fast, in-process ---------------------

@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory) -> tuple[Path, dict[str, hostile.Case]]:
    folder = tmp_path_factory.mktemp("hostile-unitaire") / "corpus"
    cases = hostile.generate(folder, REAL_PDFS)
    return folder, {c.name: c for c in cases}


@pytest.mark.parametrize("name", [
    "bombes/flate-1go.pdf",  # pypdf stops at 75 MB with LimitReachedError
    "corrompus/length-geante.pdf",  # LimitReachedError: declared /Length of 1 TB
    "bon/rapport-boulogne-aes.pdf",  # DependencyError without `cryptography`
])
def test_pdfs_pypdf_gives_up_on_are_refused_with_a_reason_not_fatal(hostile_folder, name):
    """Regression: pypdf's LimitReachedError and DependencyError escaped load_pdf, and one such file
    stopped the whole `irev ingest` run with a traceback."""
    folder, cases = hostile_folder
    started = time.monotonic()
    try:
        documents = load_file(folder / name, {"document_id": "x"}, 50_000_000)
    except LoadError as exc:
        assert re.search(cases[name].reason, str(exc)) and FRENCH.search(str(exc)), str(exc)
    else:
        assert INDEXED in cases[name].expect and documents
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("name", ["lignes/3mo-sans-espace.txt", "lignes/3mo-base64.md"])
def test_data_without_spaces_is_refused_not_cut_into_thousands_of_chunks(hostile_folder, name):
    """Regression: 3 MB without a space was loaded as text and cut into ~10 000 chunks (about ten
    minutes of embedding on two cores, and an index full of noise)."""
    folder, cases = hostile_folder
    with pytest.raises(LoadError) as refused:
        load_file(folder / name, {"document_id": "x"}, 50_000_000)
    assert re.search(cases[name].reason, str(refused.value))


LOAD_ONE = """
import sys
from pathlib import Path
from ingest.loaders import LoadError, load_file
try:
    documents = load_file(Path(sys.argv[1]), {"document_id": "x"}, 50_000_000)
    print("indexé", sum(len(d.text) for d in documents))
except LoadError as exc:
    print("refusé", exc)
"""


@pytest.mark.parametrize("pdf_bytes", [
    pytest.param(lambda: hostile.page_bombs(3, 12_000_000), id="3 pages of 12 MB"),
    pytest.param(lambda: hostile.form_bomb(12_000_000), id="a 12 MB form XObject"),
])
def test_pages_just_under_pypdf_limits_are_not_parsed_for_minutes(tmp_path, pdf_bytes):
    """Regression: 3 pages of 12 MB of text operators (a 120 kB file) stay under pypdf's limits
    (75 MB inflated, 2 M tokens per stream), so pypdf parsed each in full: about a minute of CPU
    per page, without bound on the page count (10 pages: 10 minutes). The same hides in a form
    XObject that a page draws. The loader must skip or refuse such pages; the 10 CPU-seconds
    given here are ample for a real 3-page PDF."""
    pdf = tmp_path / "plan-piege.pdf"
    pdf.write_bytes(pdf_bytes())
    budget = 10

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (budget, budget + 5))

    result = subprocess.run([sys.executable, "-c", LOAD_ONE, str(pdf)], capture_output=True,
                            text=True, cwd=ROOT, preexec_fn=limit, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, f"over {budget} CPU-seconds ({result.returncode})"
    assert result.stdout.startswith(("refusé", "indexé")), result.stderr[-2000:]
    if result.stdout.startswith("refusé"):
        assert FRENCH.search(result.stdout), result.stdout


def test_a_blank_page_without_content_stream_does_not_refuse_the_pdf(tmp_path):
    """Regression: the content-size check read a page without /Contents (a blank page, valid
    PDF) as broken, and the whole file was refused as « corrompu »."""
    pdf = tmp_path / "avec-page-blanche.pdf"
    pdf.write_bytes(hostile.build_pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
           b"/Resources << /Font << /F1 5 0 R >> >> >>",
        4: hostile.stream(b"BT /F1 12 Tf 72 712 Td (Le contrat de ville de Lens est signe.) Tj ET"),
        5: hostile.FONT,
        6: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    }))
    (page,) = load_file(pdf, {"document_id": "x"}, 50_000_000)
    assert "contrat de ville de Lens" in page.text and page.metadata["page"] == 1


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def test_an_html_page_carrying_3_mb_of_base64_does_not_become_10_000_chunks(tmp_path):
    """A page whose main content holds encoded data (a pasted image, a minified script shown as
    text): trafilatura keeps it, so the loader must drop it, or refuse the page, like text."""
    blob = "".join(random.Random(3).choices(hostile.INLINE_IMAGE, k=3_000_000))
    page = tmp_path / "plan.html"
    page.write_text("<html><body><article><h1>Plan du quartier</h1><p>Le plan de renouvellement "
                    "du quartier des Provinces à Lens est présenté aux habitants le 3 mai.</p>"
                    f"<p>{blob}</p></article></body></html>", encoding="utf-8")
    try:
        documents = load_file(page, {"document_id": "plan.html"}, 50_000_000)
    except LoadError as exc:
        assert FRENCH.search(str(exc))
    else:
        assert all(_longest_word(d.text) < 1000 for d in documents)
        assert "quartier des Provinces" in documents[0].text


def test_markdown_with_an_inline_image_keeps_its_text(hostile_folder):
    """Regression: a Markdown export whose image is inlined as base64 (one 20 kB « word ») was
    refused whole, losing its text; the image data is what must go."""
    folder, cases = hostile_folder
    case = cases["bon/fiche-lille-image.md"]
    (document,) = load_file(folder / case.name, {"document_id": "x"}, 50_000_000)
    assert case.marker in document.text
    assert _longest_word(document.text) < 1000


def _fifo_unblocker(fifo: Path, after: float) -> threading.Timer:
    """Opens the FIFO for writing after `after` s, so that a reader stuck on it returns."""
    def release() -> None:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass
    timer = threading.Timer(after, release)
    timer.daemon = True
    timer.start()
    return timer


@pytest.mark.parametrize("kind", ["boucle", "tube", "nom-non-utf8"])
def test_links_pipes_and_odd_names_do_not_stop_or_hang_the_run(tmp_path, embedder, kind):
    """Regressions: a symlink loop made _scan raise RuntimeError; a named pipe called `.txt` made
    the run block forever on read; a file name that is not UTF-8 made write_build raise
    UnicodeEncodeError (and left a half-written build behind)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "bon.txt").write_text("Le conseil citoyen de Grande-Synthe se réunit chaque mois "
                                    "à la maison de quartier.", encoding="utf-8")
    timer = None
    if kind == "boucle":
        (folder / "a.txt").symlink_to(folder / "b.txt")
        (folder / "b.txt").symlink_to(folder / "a.txt")
    elif kind == "tube":
        os.mkfifo(folder / "tube.txt")
        timer = _fifo_unblocker(folder / "tube.txt", after=15)
    else:
        with open(os.fsencode(folder) + b"/r\xe9union.txt", "wb") as handle:
            handle.write("Compte rendu de la réunion des bailleurs de Dunkerque.".encode())
    started = time.monotonic()
    report = run([folder], tmp_path / "index", embedder, model_name=DEFAULT_MODEL_NAME)
    assert time.monotonic() - started < 15, "the run blocked on a special file"
    if timer:
        timer.cancel()
    assert "bon.txt" in report.indexed
    for file, reason in report.skipped:
        assert FRENCH.search(reason), (file, reason)
    assert len(report.indexed) + len(report.skipped) == len(list(folder.iterdir()))
    builds = list((tmp_path / "index" / "builds").iterdir())
    assert all((b / "COMPLETE").is_file() for b in builds)
    shutil.rmtree(tmp_path / "index")


def test_a_file_named_in_latin1_is_refused_or_fully_served(tmp_path, embedder):
    """A file whose name is not UTF-8 (a zip made on an old Windows) may be refused with a reason;
    if it is indexed, nothing may be lost: its source file downloads, and POST /api/reindex keeps
    it. (Regression: the index stored a « repaired » path, so the download answered 404 and the
    reindex silently removed the document.)"""
    from conftest import ADMIN_KEY, make_assistant, make_settings
    from fastapi.testclient import TestClient

    from assistant.api import create_app

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "bon.txt").write_text("Le conseil citoyen de Grande-Synthe se réunit chaque mois "
                                    "à la maison de quartier.", encoding="utf-8")
    content = "Compte rendu de la réunion des bailleurs de Dunkerque sur les halls.".encode()
    with open(os.fsencode(folder) + b"/r\xe9union-bailleurs.txt", "wb") as handle:
        handle.write(content)
    settings = make_settings(tmp_path / "data")
    report = run([folder], settings.index_dir, embedder, model_name=DEFAULT_MODEL_NAME)
    odd = [doc for doc in report.indexed if "union" in doc]
    if not odd:
        assert any("union" in file and FRENCH.search(reason) for file, reason in report.skipped)
        return
    assistant = make_assistant(settings, embedder)
    with TestClient(create_app(settings, assistant)) as client:
        download = client.get(f"/api/documents/{odd[0]}/file")
        assert download.status_code == 200 and download.content == content, download.text
        reindexed = client.post("/api/reindex", headers={"x-api-key": ADMIN_KEY}).json()
        assert reindexed["removed"] == [], reindexed
        listed = [d["document_id"] for d in client.get("/api/documents").json()["documents"]]
        assert odd[0] in listed
