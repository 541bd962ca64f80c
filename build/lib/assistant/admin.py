"""Admin operations behind the API key: upload and ingest, delete, reindex; then hot reload."""

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import DocumentNotFound, InvalidInput, StorageError
from assistant.live_index import LiveIndex
from ingest.loaders import SUPPORTED_SUFFIXES
from ingest.pipeline import IngestReport, run
from ingest.text import ascii_fold


@dataclass
class IngestOptions:
    model_name: str
    chunk_size: int
    chunk_overlap: int
    max_bytes: int


def summarize(report: IngestReport) -> dict:
    return {
        "indexed": report.indexed, "unchanged": len(report.unchanged), "removed": report.removed,
        "skipped": [{"file": Path(f).name, "reason": r} for f, r in report.skipped],
        "duplicates": [{"file": Path(f).name, "duplicate_of": d} for f, d in report.duplicates],
        "chunks": report.chunks, "seconds": round(report.seconds, 2), "index": report.build,
    }


class DocumentAdmin:
    def __init__(self, index: LiveIndex, uploads_dir: Path, options: IngestOptions):
        self.index = index
        self.uploads_dir = uploads_dir
        self.options = options

    def _run(self, paths: list[Path], **kwargs) -> IngestReport:
        o = self.options
        report = run(paths, self.index.index_dir, self.index.embedder,
                     model_name=o.model_name, chunk_size=o.chunk_size,
                     chunk_overlap=o.chunk_overlap, max_bytes=o.max_bytes, **kwargs)
        self.index.reload()
        return report

    def upload(self, filename: str, content: bytes) -> IngestReport:
        name = safe_filename(filename)
        if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            raise InvalidInput(
                f"Format non pris en charge : {Path(name).suffix or 'sans extension'} "
                f"(acceptés : {', '.join(sorted(SUPPORTED_SUFFIXES))})."
            )
        target = self.uploads_dir / name
        try:
            self.uploads_dir.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        except OSError as exc:
            with contextlib.suppress(OSError):
                target.unlink(missing_ok=True)  # a partial file
            raise StorageError(
                f"Impossible d'enregistrer le fichier sur le serveur ({exc.strerror}) : disque "
                "plein ou dossier non inscriptible ; l'index précédent reste en service."
            ) from exc
        report = self._run([target])
        if report.skipped or report.duplicates:
            target.unlink(missing_ok=True)
        return report

    def delete(self, document_id: str) -> IngestReport:
        documents = self.index.current.documents if self.index.ready else {}
        if document_id not in documents:
            raise DocumentNotFound(f"Document inconnu : {document_id}")
        report = self._run([], delete=(document_id,))
        source = Path(documents[document_id].get("source_path", ""))
        if source.is_relative_to(self.uploads_dir.resolve()):
            source.unlink(missing_ok=True)
        return report

    def reindex(self) -> IngestReport:
        """Re-read every indexed source file; documents whose file is gone are removed."""
        documents = self.index.current.documents if self.index.ready else {}
        paths = [Path(d["source_path"]) for d in documents.values()
                 if Path(d["source_path"]).is_file()]
        return self._run(paths, prune=True)


def safe_filename(filename: str) -> str:
    """`../../etc/passwd` -> `passwd`; accents folded; nothing but [A-Za-z0-9._-]."""
    base = Path(filename.replace("\\", "/")).name
    folded = ascii_fold(base)
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", folded).strip(".-")
    if not cleaned:
        raise InvalidInput("Nom de fichier invalide.")
    return cleaned[:120]
