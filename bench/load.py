"""Load test: simulated users asking questions to a real `irev serve` on loopback.

Usage:
    HF_HUB_OFFLINE=1 python bench/load.py [--users 50] [--duration 300] [--llm]
                                          [--data-dir DIR] [--think 0] [--seed 1]

Serves the index in IREV_DATA_DIR (or --data-dir); when there is none, builds it first from
corpus/ with `irev ingest`. Each user sends the questions of eval/datasets/irev.jsonl (random
order, seeded) to POST /api/chat, one after the other (closed loop, `--think` seconds apart).
Prints throughput, latency percentiles, errors (there must be none: the rate limit is lifted for
the run) and the server's resident memory sampled every 5 s, with a growth verdict.

`--llm` starts tests/fake_llm.py's OpenAI-compatible fake in this process, with realistic
timings (first token after 0.5-1.5 s, then 30 ms per token), and points the server at it: the
numbers then measure our side of an LLM deployment (streaming, citation checking), not a model.
Exit code 1 when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import ROOT, Served, free_port

QUESTIONS = ROOT / "eval/datasets/irev.jsonl"
LLM_REPLY = ("D'après les extraits fournis, le contrat de ville associe l'État, les communes et "
             "les intercommunalités, et les conseils citoyens participent à son pilotage [1]. "
             "Les quartiers prioritaires sont définis par un critère de revenu [2].")


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds, bytes)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def _ensure_index(data_dir: Path, env: dict) -> None:
    from ingest.index import current_build

    if current_build(data_dir / "index") is not None:
        return
    sys.stderr.write(f"Aucun index dans {data_dir} : indexation de corpus/…\n")
    subprocess.run([sys.executable, "-m", "cli.main", "ingest", str(ROOT / "corpus")],
                   env=env, cwd=ROOT, check=False)
    if current_build(data_dir / "index") is None:
        sys.exit("L'indexation a échoué.")


class FakeLLMServer:
    """tests/fake_llm.py on a uvicorn thread, its queue kept full of slow, realistic replies."""

    def __init__(self, seed: int):
        sys.path.insert(0, str(ROOT / "tests"))
        from fake_llm import FakeLLM

        self.fake, self.rng = FakeLLM(), random.Random(seed)
        self.served = Served(self.fake.app)
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"{self.served.url}/v1"

    def _refill(self) -> None:
        while not self.stop.is_set():
            while len(self.fake.replies) < 500:
                self.fake.enqueue(LLM_REPLY, delay=self.rng.uniform(0.5, 1.5), token_delay=0.03)
            self.fake.requests.clear()  # the fake keeps every request: not our memory to measure
            time.sleep(0.2)

    def __enter__(self) -> FakeLLMServer:
        threading.Thread(target=self._refill, daemon=True).start()
        self.served.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.served.__exit__(*exc)


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def _sample_rss(pid: int, results: Results, started: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        results.rss.append((time.monotonic() - started, _rss(pid)))
        try:
            await asyncio.wait_for(stop.wait(), timeout=5)
        except TimeoutError:
            pass


async def _user(client: httpx.AsyncClient, questions: list[str], rng: random.Random,
                deadline: float, think: float, results: Results) -> None:
    while time.monotonic() < deadline:
        question = rng.choice(questions)
        sent = time.monotonic()
        try:
            response = await client.post("/api/chat", json={"question": question})
        except httpx.HTTPError as exc:
            results.error(type(exc).__name__)
            continue
        if response.status_code != 200:
            results.error(f"HTTP {response.status_code}")
            continue
        results.latencies.append(time.monotonic() - sent)
        mode = response.json().get("mode", "?")
        results.modes[mode] = results.modes.get(mode, 0) + 1
        if think:
            await asyncio.sleep(rng.uniform(0, 2 * think))


async def _load(url: str, pid: int, users: int, duration: float, think: float,
                seed: int) -> tuple[Results, float]:
    questions = [json.loads(line)["question"]
                 for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    results, stop = Results(), asyncio.Event()
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        started = time.monotonic()
        sampler = asyncio.create_task(_sample_rss(pid, results, started, stop))
        deadline = started + duration
        await asyncio.gather(*(_user(client, questions, random.Random(seed * 1000 + n),
                                     deadline, think, results) for n in range(users)))
        elapsed = time.monotonic() - started
        stop.set()
        await sampler
    results.rss.append((elapsed, _rss(pid)))
    return results, elapsed


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _verdict(rss: list[tuple[float, int]]) -> str:
    """Compare the last third of the run with the second (the first is warm-up)."""
    values = [r for _, r in rss]
    if len(values) < 6:
        return "trop peu d'échantillons"
    third = len(values) // 3
    middle, last = statistics.median(values[third:2 * third]), statistics.median(values[-third:])
    growth = (last - middle) / middle
    tail = values[-third:]
    rising = all(b >= a for a, b in zip(tail, tail[1:], strict=False))
    if growth > 0.10 and rising:
        return f"croissance suspecte (+{growth:.0%} sur le dernier tiers, continue)"
    return f"stable ({growth:+.1%} entre le 2e et le dernier tiers)"


def report(mode: str, users: int, results: Results, elapsed: float) -> str:
    lat = results.latencies
    errors = sum(results.errors.values())
    mb = [r / 2**20 for _, r in results.rss]
    rows = [
        ("mode", mode),
        ("utilisateurs simultanés", users),
        ("durée", f"{elapsed:.0f} s"),
        ("réponses", len(lat)),
        ("erreurs", errors if not errors else f"{errors} {results.errors}"),
        ("débit", f"{len(lat) / elapsed:.2f} réponses/s"),
        ("latence p50", f"{_percentile(lat, 0.50):.2f} s"),
        ("latence p95", f"{_percentile(lat, 0.95):.2f} s"),
        ("latence p99", f"{_percentile(lat, 0.99):.2f} s"),
        ("latence max", f"{max(lat, default=float('nan')):.2f} s"),
        ("modes de réponse", ", ".join(f"{k} {v}" for k, v in sorted(results.modes.items()))),
        ("RSS serveur min / max / fin", f"{min(mb):.0f} / {max(mb):.0f} / {mb[-1]:.0f} Mo"),
        ("RSS serveur (échantillons / 5 s)", " ".join(f"{m:.0f}" for m in mb)),
        ("mémoire", _verdict(results.rss)),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'mesure'.ljust(width)} | valeur |", f"|{'-' * (width + 2)}|--------|"]
    lines += [f"| {k.ljust(width)} | {v} |" for k, v in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=300.0, help="secondes")
    parser.add_argument("--llm", action="store_true", help="avec un LLM simulé (tests/fake_llm.py)")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("IREV_DATA_DIR", ROOT / "data")))
    parser.add_argument("--think", type=float, default=0.0,
                        help="pause moyenne entre deux questions d'un utilisateur (s)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    data_dir = args.data_dir.resolve()
    env = {**os.environ, "IREV_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
           "IREV_RATE_LIMIT": "1000000/minute", "TOKENIZERS_PARALLELISM": "false"}
    _ensure_index(data_dir, env)
    port = free_port()
    with FakeLLMServer(args.seed) if args.llm else contextlib.nullcontext() as fake:
        if fake:
            env.update(IREV_LLM_BASE_URL=fake.url, IREV_LLM_MODEL="fake", IREV_LLM_TIMEOUT="60")
        server = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--host",
                                   "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, server)
            results, elapsed = asyncio.run(_load(url, server.pid, args.users, args.duration,
                                                 args.think, args.seed))
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    sys.stdout.write(report("LLM simulé" if args.llm else "extractif", args.users, results,
                            elapsed) + "\n")
    return 1 if results.errors else 0


def _wait_ready(url: str, server: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"Le serveur s'est arrêté (code {server.returncode}).")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit("Le serveur n'est pas prêt.")


if __name__ == "__main__":
    sys.exit(main())
