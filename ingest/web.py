"""Web pages and sites into the corpus: a page, a sitemap.xml or an RSS/Atom feed is fetched
into a local mirror folder that ingest then reads like any other.

Polite: robots.txt is obeyed, one request at a time with a delay between two requests to a host,
and a re-crawl asks with `If-None-Match` / `If-Modified-Since`, so that unchanged pages cost a
304 and nothing is re-embedded. Pages that left the sitemap or feed leave the mirror, and their
documents the index. The mirror's `manifest.csv` gives each page its title, date and URL
(the canonical one when the page names it), which become the citation's link."""

import csv
import hashlib
import json
import logging
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlparse
from urllib.robotparser import RobotFileParser

import httpx

logger = logging.getLogger(__name__)

USER_AGENT = "irev-assistant/1.0 (+centre de ressources politique de la ville)"
MAX_BYTES = 10_000_000
MAX_PAGES = 2_000
STATE_NAME = ".crawl.json"  # hidden: ingest does not list it as an unsupported file


class CrawlError(Exception):
    """The start URL could not be read (the message is French)."""


@dataclass
class CrawlReport:
    fetched: list[str] = field(default_factory=list)  # new or changed pages
    unchanged: list[str] = field(default_factory=list)  # answered 304, or the same bytes
    removed: list[str] = field(default_factory=list)  # file names that left the mirror
    refused: list[tuple[str, str]] = field(default_factory=list)  # (url, French reason)
    folder: Path | None = None


def mirror_folder(root: Path, url: str) -> Path:
    return root / re.sub(r"[^A-Za-z0-9.-]+", "-", urlparse(url).netloc).strip("-")


def crawl(start: str, root: Path, delay: float = 1.0, timeout: float = 20.0,
          transport: httpx.BaseTransport | None = None) -> CrawlReport:
    """Fetch `start` (a page, a sitemap or a feed) into `root/<host>/`; see the module doc."""
    folder = mirror_folder(root, start)
    folder.mkdir(parents=True, exist_ok=True)
    state_path = folder / STATE_NAME
    state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.is_file() else {}
    report = CrawlReport(folder=folder)
    with httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=timeout,
                      follow_redirects=True, transport=transport) as client:
        fetcher = _Fetcher(client, delay)
        try:  # conditional when the start URL was a page last time
            first = fetcher.get(start, _conditional(state.get(start), folder))
        except httpx.HTTPError as exc:
            raise CrawlError(f"adresse injoignable : {start} ({type(exc).__name__})") from exc
        if first.status_code >= 400:
            raise CrawlError(f"adresse refusée par le serveur : {start} (HTTP "
                             f"{first.status_code})")
        listed = [] if first.status_code == 304 else _listed_pages(first)
        kept = {}
        if not listed and not fetcher.allowed(start):
            report.refused.append((start, "interdit par robots.txt"))
        elif not listed:  # the start URL is a page: this response is it, not fetched again
            if record := _store(start, first, state.get(start), folder, report):
                kept[start] = record
        for url in list(dict.fromkeys(listed))[:MAX_PAGES]:
            if not fetcher.allowed(url):
                report.refused.append((url, "interdit par robots.txt"))
                continue
            if record := _fetch_page(fetcher, url, state.get(url), folder, report):
                kept[url] = record
    for url, record in state.items():
        if url not in kept and (folder / record["file"]).exists():
            (folder / record["file"]).unlink()
            report.removed.append(record["file"])
    _write_manifest(folder, kept)
    state_path.write_text(json.dumps(kept, ensure_ascii=False, indent=1), encoding="utf-8")
    return report


class _Fetcher:
    """One client, robots.txt per host, at least `delay` seconds between two requests."""

    def __init__(self, client: httpx.Client, delay: float):
        self.client, self.delay = client, delay
        self._last = 0.0
        self._robots: dict[str, RobotFileParser] = {}

    def get(self, url: str, headers: dict | None = None) -> httpx.Response:
        wait = self._last + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            return self.client.get(url, headers=headers or {})
        finally:
            self._last = time.monotonic()

    def allowed(self, url: str) -> bool:
        parts = urlparse(url)
        host = f"{parts.scheme}://{parts.netloc}"
        if host not in self._robots:
            robots = RobotFileParser()
            try:
                response = self.get(urljoin(host, "/robots.txt"))
                robots.parse(response.text.splitlines() if response.status_code == 200 else [])
            except httpx.HTTPError:
                robots.parse([])
            self._robots[host] = robots
        return self._robots[host].can_fetch(USER_AGENT, url)


def _listed_pages(response: httpx.Response) -> list[str]:
    """The page URLs of a sitemap (index sitemaps are not followed) or an RSS/Atom feed."""
    kind = response.headers.get("content-type", "")
    if "xml" not in kind and not response.text.lstrip().startswith("<?xml"):
        return []
    try:
        tree = ET.fromstring(response.content)
    except ET.ParseError:
        return []
    tag = tree.tag.rsplit("}", 1)[-1]
    if tag == "urlset":
        return [e.text.strip() for e in tree.iter() if e.tag.endswith("}loc") and e.text]
    if tag == "rss":  # the items' links, not the channel's (the site's home page)
        return [link.text.strip() for item in tree.iter("item")
                if (link := item.find("link")) is not None and link.text]
    if tag == "feed":  # Atom: each entry's alternate link
        return [link.get("href") for entry in tree if entry.tag.endswith("}entry")
                for link in entry if link.tag.endswith("}link") and link.get("href")
                and link.get("rel", "alternate") == "alternate"]
    return []


def _conditional(old: dict | None, folder: Path) -> dict:
    """The validators of the copy we hold, if we still hold it."""
    headers = {}
    if old and (folder / old["file"]).exists():
        if old.get("etag"):
            headers["If-None-Match"] = old["etag"]
        if old.get("last_modified"):
            headers["If-Modified-Since"] = old["last_modified"]
    return headers


def _fetch_page(fetcher: _Fetcher, url: str, old: dict | None, folder: Path,
                report: CrawlReport) -> dict | None:
    try:
        response = fetcher.get(url, _conditional(old, folder))
    except httpx.HTTPError as exc:
        report.refused.append((url, f"injoignable ({type(exc).__name__})"))
        return old  # a network hiccup does not remove a page
    return _store(url, response, old, folder, report)


def _store(url: str, response: httpx.Response, old: dict | None, folder: Path,
           report: CrawlReport) -> dict | None:
    """Keep a page's response in the mirror; its record for the crawl state and manifest."""
    if response.status_code == 304 and old:
        report.unchanged.append(url)
        return old
    if response.status_code >= 400:
        report.refused.append((url, f"HTTP {response.status_code}"))
        return None
    if len(response.content) > MAX_BYTES:
        report.refused.append((url, "page trop volumineuse"))
        return None
    kind = response.headers.get("content-type", "")
    suffix = ".txt" if kind.startswith("text/plain") else ".html"
    name = _file_name(url, suffix)
    path = folder / name
    if path.is_file() and path.read_bytes() == response.content:
        report.unchanged.append(url)
    else:
        path.write_bytes(response.content)
        report.fetched.append(url)
    return {"file": name, "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            **_described(url, response, suffix)}


def _file_name(url: str, suffix: str) -> str:
    parts = urlparse(url)
    stem = re.sub(r"[^A-Za-z0-9]+", "-", parts.path + ("-" + parts.query if parts.query else ""))
    stem = stem.strip("-")[:80] or "index"
    return f"{stem}-{hashlib.sha256(url.encode()).hexdigest()[:8]}{suffix}"


def _described(url: str, response: httpx.Response, suffix: str) -> dict:
    """Title, date and canonical URL, from the page itself when it says them."""
    found = {"url": url, "title": None, "published": None}
    if suffix == ".html":
        import trafilatura

        meta = trafilatura.extract_metadata(response.text)
        if meta:
            canonical = meta.url if meta.url and meta.url.startswith("http") else None
            found.update(title=meta.title, published=meta.date, url=canonical or url)
    return found


def _write_manifest(folder: Path, kept: dict[str, dict]) -> None:
    with (folder / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "title", "type", "published", "publisher", "url"])
        for record in kept.values():
            writer.writerow([record["file"], record.get("title") or "", "page web",
                             record.get("published") or "", "", record.get("url") or ""])
