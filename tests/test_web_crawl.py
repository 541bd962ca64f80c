"""Web sites into the corpus, against a local HTTP server serving real articles of
`../shared/corpus/web` with a sitemap, an RSS feed and a robots.txt generated from its manifest:
answered with the page URL as the link; a second crawl asks with conditional requests and
re-embeds nothing; a page that left the sitemap leaves the index; robots.txt is obeyed."""

import csv
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT, SHARED, make_assistant, make_settings

from ingest.e5_bundle import DEFAULT_MODEL_NAME
from ingest.index import read_snapshot
from ingest.manifest import document_id
from ingest.pipeline import run
from ingest.web import crawl

WEB = SHARED / "corpus/web"
PAGES = ["02_irev-quartiers-2030-contrats-signes-hdf.html",
         "03_localtis-gouvernance-contrats-de-ville-instruction.txt",
         "05_icpc-conseils-citoyens-levier-participation.txt"]
PRIVATE = "04_irev-circulaire-7-novembre-2024-pilotage.txt"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Python's file server (Last-Modified, 304 on If-Modified-Since), recording requests."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self):  # noqa: N802 - the stdlib's name
        type(self).seen.append((self.path, self.headers.get("If-Modified-Since")))
        super().do_GET()

    def log_message(self, *_args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    for name in [*PAGES, PRIVATE]:
        shutil.copy(WEB / name, root / name)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: _Handler(*a, directory=str(root), **k))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    titles = {row["file"]: row["title"] for row in csv.DictReader(
        (WEB / "manifest.csv").open(encoding="utf-8"))}
    write_sitemap(root, base, [*PAGES, PRIVATE])
    items = "".join(f"<item><title>{titles[n]}</title><link>{base}/{n}</link></item>"
                    for n in PAGES)
    (root / "flux.xml").write_text(f'<?xml version="1.0"?><rss version="2.0"><channel>'
                                   f"<title>IREV</title><link>{base}/</link>{items}"
                                   "</channel></rss>", "utf-8")
    (root / "robots.txt").write_text(f"User-agent: *\nDisallow: /{PRIVATE}\n", "utf-8")
    yield root, base
    server.shutdown()


def write_sitemap(root: Path, base: str, names: list[str]) -> None:
    urls = "".join(f"<url><loc>{base}/{n}</loc></url>" for n in names)
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><urlset '
        f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>', "utf-8")


def test_a_site_is_crawled_through_its_sitemap_answered_and_kept_up_to_date(
        site, tmp_path, embedder, models_dir):
    root, base = site
    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to(models_dir)
    env = {**os.environ, "IREV_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1",
           "IREV_CRAWL_DELAY": "0", "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "cli.main", "ingest", f"{base}/sitemap.xml"],
                            env=env, cwd=ROOT, text=True, capture_output=True, timeout=900)
    printed = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 0, printed[-2000:]
    assert "3 pages nouvelles ou modifiées" in printed
    assert PRIVATE in printed and "robots.txt" in printed  # refused, and said so
    index_dir = data / "index"
    documents = read_snapshot(index_dir).documents
    assert len(documents) == 3
    by_url = {d["url"]: d for d in documents.values()}
    assert set(by_url) == {f"{base}/{n}" for n in PAGES}  # no canonical link: the URL fetched
    html = by_url[f"{base}/{PAGES[0]}"]  # the page's own title and date
    assert html["title"] == "Quartiers 2030 : la plupart des contrats signés en Hauts-de-France"
    assert html["published"] == "2023-10-27"

    settings = make_settings(data)
    assistant = make_assistant(settings, embedder)
    answer = assistant.ask("De quels collèges les conseils citoyens sont-ils composés ?")
    assert answer.grounded and "collège" in answer.answer, answer
    assert answer.citations[0].url == f"{base}/{PAGES[2]}"

    # A second crawl: conditional requests only, nothing fetched, nothing re-embedded.
    _Handler.seen.clear()
    found = crawl(f"{base}/sitemap.xml", data / "web", delay=0)
    asked = {path: since for path, since in _Handler.seen}
    assert all(asked[f"/{n}"] for n in PAGES)  # If-Modified-Since on every page
    assert found.fetched == [] and len(found.unchanged) == 3
    again = run([found.folder], index_dir, lambda: pytest.fail("model loaded"),
                model_name=DEFAULT_MODEL_NAME)
    assert again.build is None and len(again.unchanged) == 3

    # A page that leaves the sitemap leaves the mirror and the index.
    write_sitemap(root, base, PAGES[:2])
    found = crawl(f"{base}/sitemap.xml", data / "web", delay=0)
    assert len(found.removed) == 1
    gone = [document_id(found.folder / name) for name in found.removed]
    after = run([found.folder], index_dir, embedder, model_name=DEFAULT_MODEL_NAME,
                delete=tuple(gone))
    assert after.removed == gone and after.embedded == 0
    assert len(read_snapshot(index_dir).documents) == 2


def test_a_single_page_is_cited_by_its_canonical_url(site, tmp_path):
    root, base = site
    (root / "lens.html").write_text(
        '<html><head><title>Le conseil citoyen de Lens</title><link rel="canonical" '
        'href="https://www.irev.fr/actualites/conseil-citoyen-lens"><meta '
        'property="article:published_time" content="2024-05-02"></head><body><article><h1>Le '
        "conseil citoyen de Lens</h1><p>Le conseil citoyen de Lens s'est réuni pour la "
        "première fois le 2 mai 2024 à la maison de quartier, avec vingt habitants tirés au "
        "sort.</p></article></body></html>", "utf-8")
    found = crawl(f"{base}/lens.html", tmp_path / "web", delay=0)
    assert len(found.fetched) == 1
    row = next(csv.DictReader((found.folder / "manifest.csv").open(encoding="utf-8")))
    assert row["url"] == "https://www.irev.fr/actualites/conseil-citoyen-lens"
    assert row["published"] == "2024-05-02" and row["title"] == "Le conseil citoyen de Lens"


def test_a_feed_lists_the_pages_to_fetch(site, tmp_path):
    _root, base = site
    found = crawl(f"{base}/flux.xml", tmp_path / "web", delay=0)
    assert len(found.fetched) == 3 and not found.refused
    assert (found.folder / "manifest.csv").is_file()
