"""Where a result came from: git commit, corpus fingerprint, settings without secrets."""

import hashlib
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

_SECRET_WORDS = ("key", "secret", "password", "token")
_REPO = Path(__file__).resolve().parents[1]


def git_commit(repo: Path = _REPO) -> dict[str, Any]:
    """HEAD's SHA and whether the work tree has uncommitted changes (None outside git)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": sha, "dirty": bool(status.strip())}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def corpus_fingerprint(folders: Iterable[Path]) -> dict[str, Any]:
    """SHA-256 over every file's name and bytes, so two runs on one corpus compare."""
    digest = hashlib.sha256()
    count = 0
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
            count += 1
    return {"sha256": digest.hexdigest() if count else None, "files": count}


def public_settings(settings: BaseModel | Mapping[str, Any] | None) -> dict[str, Any]:
    """Settings as JSON, with anything that looks like a secret masked."""
    if settings is None:
        return {}
    raw = settings.model_dump(mode="json") if isinstance(settings, BaseModel) else dict(settings)
    return {
        key: ("***" if value and any(w in key.lower() for w in _SECRET_WORDS) else _jsonable(value))
        for key, value in raw.items()
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
