"""Document metadata: the corpus manifest, provenance sidecars, and what can be inferred."""

import csv
import re
from functools import cache
from pathlib import Path

from ingest.text import ascii_fold

MANIFEST_NAME = "manifest.csv"
SIDECAR_SUFFIX = ".source.txt"
FIELDS = ("title", "type", "published", "publisher", "url")

_TYPE_PATTERNS = [
    (r"\bcirculaire\b", "circulaire"),
    (r"\bd[ée]cret\b", "décret"),
    (r"\barr[êe]t[ée]\b", "arrêté"),
    (r"\bloi\b", "loi"),
    (r"\bordonnance\b", "ordonnance"),
    (r"\bcodes?\b", "code"),
    (r"rapport[-_ ]d[-_ ']?activit", "rapport d'activités"),
    (r"\bguide\b", "guide"),
    (r"\bdossier\b", "dossier"),
    (r"\bactualit", "actualité"),
]


def is_metadata_file(path: Path) -> bool:
    """Manifests and provenance sidecars describe documents; they are not documents."""
    return path.name == MANIFEST_NAME or path.name.endswith(SIDECAR_SUFFIX)


def document_id(path: Path) -> str:
    """A stable, URL-safe id built from the file name (`Loi Lamy.pdf` -> `loi-lamy.pdf`)."""
    folded = ascii_fold(path.name)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", folded).strip("-.").lower()
    return slug or "document"


def describe(path: Path, twins: tuple[Path, ...] = ()) -> dict:
    """Metadata for one file: manifest row first, then its `.source.txt` sidecar, then those of
    its twins (the same document in another format, e.g. `loi.pdf` beside `legal/loi.md`),
    then inference."""
    row: dict = {}
    for source in (path, *twins):
        for fields in (_read_manifest(source.parent).get(source.name, {}), _read_sidecar(source)):
            for key, value in fields.items():
                if value:
                    row.setdefault(key, value)
    meta = {key: (row.get(key) or None) for key in FIELDS}
    meta["type"] = meta["type"] or infer_type(path.name, meta["title"] or "")
    meta["file_name"] = path.name
    return meta


def infer_type(file_name: str, title: str) -> str:
    haystack = f"{file_name} {title}".lower().replace("_", " ")
    for pattern, kind in _TYPE_PATTERNS:
        if re.search(pattern, haystack):
            return kind
    return "document"


@cache
def _read_manifest(folder: Path) -> dict[str, dict]:
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        return {}
    with manifest.open(encoding="utf-8-sig", newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle) if row.get("file")}


def _read_sidecar(path: Path) -> dict:
    sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {}
    fields = {}
    for line in sidecar.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition(" : ")
        fields[key.strip().lower()] = value.strip()
    url = re.search(r"https?://\S+", fields.get("référence officielle", ""))
    date = _iso_date(fields.get("date du texte", ""))
    return {
        "title": fields.get("titre"),
        "url": url.group(0) if url else None,
        "published": date,
        "publisher": "Légifrance (DILA)" if "legifrance" in fields.get("référence officielle", "")
        else None,
    }


_MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"]


def _iso_date(text: str) -> str | None:
    """`21 février 2014 (JORF…)` -> `2014-02-21`; a bare year stays a year."""
    found = re.search(r"(\d{1,2})(?:er)? (\w+) (\d{4})", text)
    if found and found.group(2).lower() in _MONTHS:
        month = _MONTHS.index(found.group(2).lower()) + 1
        return f"{found.group(3)}-{month:02d}-{int(found.group(1)):02d}"
    year = re.search(r"\b(19|20)\d{2}\b", text)
    return year.group(0) if year else None


def clear_cache() -> None:
    """Forget manifests read so far (they may change between two runs in one process)."""
    _read_manifest.cache_clear()
