"""Ingest progress people can follow: rich bars on a terminal, plain lines otherwise (a service
manager's journal, CI logs), where bars would print nothing until the end."""

import time
from typing import TextIO


class LineProgress:
    """The two methods of `rich.progress.Progress` that ingest calls, written as log lines:
    « Lecture des fichiers : 12/56 (21 %), 3,4/s ». A line at most every `every` seconds per
    task, and always the last one."""

    def __init__(self, stream: TextIO, every: float = 5.0):
        self.stream, self.every = stream, every
        self._tasks: dict[int, dict] = {}

    def add_task(self, description: str, total: int | None = None, **_fields) -> int:
        key = len(self._tasks)
        now = time.monotonic()
        self._tasks[key] = {"label": description, "total": total, "done": 0, "start": now,
                            "shown": now}
        self._line(self._tasks[key])
        return key

    def advance(self, task: int, advance: float = 1) -> None:
        state = self._tasks[task]
        state["done"] += advance
        now = time.monotonic()
        finished = state["total"] is not None and state["done"] >= state["total"]
        if finished or now - state["shown"] >= self.every:
            state["shown"] = now
            self._line(state)

    def _line(self, state: dict) -> None:
        done, total = int(state["done"]), state["total"]
        elapsed = time.monotonic() - state["start"]
        parts = [f"{state['label']} : {done}" + (f"/{total}" if total else "")]
        if total:
            parts.append(f"({100 * done // total} %)")
        if done and elapsed > 0:
            parts.append(f"{done / elapsed:.1f}/s".replace(".", ","))
        print(" ".join(parts), file=self.stream, flush=True)

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *_exc) -> None:
        return None
