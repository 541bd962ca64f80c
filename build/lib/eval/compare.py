"""Compare two result files question by question: what improved, what regressed.

>>> comparison = compare_results(load_results(old_path), load_results(new_path))
>>> print(render_comparison(comparison))
"""

from dataclasses import dataclass, field
from typing import Any

LOWER_IS_BETTER = frozenset({"false_abstention_rate", "latency_p50", "latency_p95"})
STATUS_LABELS = {
    "regressed": "régressé",
    "mixed": "mixte",
    "improved": "amélioré",
    "unchanged": "inchangé",
}


@dataclass
class QuestionChange:
    id: str
    question: str
    status: str  # improved | regressed | mixed | unchanged
    changes: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    failures_before: list[str] = field(default_factory=list)
    failures_after: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    old: dict[str, Any]
    new: dict[str, Any]
    metrics: dict[str, tuple[float | None, float | None]]
    questions: list[QuestionChange]
    only_old: list[str]
    only_new: list[str]

    def count(self, status: str) -> int:
        return sum(q.status == status for q in self.questions)


def _direction(name: str, before: float | None, after: float | None, tolerance: float) -> int:
    """+1 better, -1 worse, 0 same; a score appearing or vanishing counts as no change."""
    if before is None or after is None or abs(after - before) <= tolerance:
        return 0
    better = after < before if name in LOWER_IS_BETTER else after > before
    return 1 if better else -1


def compare_results(
    old: dict[str, Any], new: dict[str, Any], tolerance: float = 1e-6
) -> Comparison:
    """Match records by question id and classify each by the direction of its scores."""
    before = {r["id"]: r for r in old.get("records", [])}
    after = {r["id"]: r for r in new.get("records", [])}
    questions = []
    for qid in (i for i in after if i in before):
        old_scores, new_scores = before[qid].get("scores", {}), after[qid].get("scores", {})
        changes, directions = {}, []
        for name in sorted(set(old_scores) | set(new_scores)):
            pair = (old_scores.get(name), new_scores.get(name))
            direction = _direction(name, *pair, tolerance)
            if direction:
                changes[name] = pair
                directions.append(direction)
        status = (
            "mixed"
            if 1 in directions and -1 in directions
            else "improved"
            if 1 in directions
            else "regressed"
            if -1 in directions
            else "unchanged"
        )
        questions.append(
            QuestionChange(
                qid,
                after[qid]["question"],
                status,
                changes,
                before[qid].get("failures", []),
                after[qid].get("failures", []),
            )
        )
    order = list(STATUS_LABELS)
    questions.sort(key=lambda q: (order.index(q.status), q.id))
    names = list(dict.fromkeys([*old.get("metrics", {}), *new.get("metrics", {})]))
    metrics = {n: (old.get("metrics", {}).get(n), new.get("metrics", {}).get(n)) for n in names}
    return Comparison(
        old,
        new,
        metrics,
        questions,
        only_old=sorted(set(before) - set(after)),
        only_new=sorted(set(after) - set(before)),
    )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_comparison(comparison: Comparison, show_unchanged: bool = False) -> str:
    """A Markdown report: metric deltas, then one row per question that moved."""

    def tag(run: dict[str, Any]) -> str:
        commit = ((run.get("git") or {}).get("commit") or "?")[:7]
        return f"{run.get('created_at', '?')} ({commit})"

    lines = [
        f"# Comparaison : {tag(comparison.old)} → {tag(comparison.new)}",
        "",
        "| Mesure | Avant | Après | Écart |",
        "|---|---:|---:|---:|",
    ]
    for name, (before, after) in comparison.metrics.items():
        delta = "" if before is None or after is None else f"{after - before:+.3f}"
        lines.append(f"| {name} | {_num(before)} | {_num(after)} | {delta} |")
    counts = ", ".join(f"{comparison.count(s)} {label}" for s, label in STATUS_LABELS.items())
    lines += [
        "",
        f"Questions : {counts}.",
        "",
        "| Question | Statut | Changements | Problèmes après |",
        "|---|---|---|---|",
    ]
    for q in comparison.questions:
        if q.status == "unchanged" and not show_unchanged:
            continue
        moves = "; ".join(f"{n} {_num(a)} → {_num(b)}" for n, (a, b) in q.changes.items())
        lines.append(
            f"| {q.id} — {_cell(q.question)} | {STATUS_LABELS[q.status]} | "
            f"{_cell(moves) or '—'} | {_cell('; '.join(q.failures_after)) or '—'} |"
        )
    for label, ids in (
        ("Seulement avant", comparison.only_old),
        ("Seulement après", comparison.only_new),
    ):
        if ids:
            lines += ["", f"{label} : {', '.join(ids)}"]
    return "\n".join(lines) + "\n"


def render_comparison_html(comparison: Comparison, show_unchanged: bool = False) -> str:
    """The same comparison as a self-contained HTML page (every text escaped)."""
    from html import escape

    from eval.report import STYLE

    def row(cells: list[str], css: str = "") -> str:
        return f"<tr class='{css}'>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"

    metric_rows = [
        row([name, _num(a), _num(b), "" if a is None or b is None else f"{b - a:+.3f}"],
            {1: "ok", -1: "fail"}.get(_direction(name, a, b, 1e-6), ""))
        for name, (a, b) in comparison.metrics.items()
    ]
    question_rows = [
        row([f"{q.id} — {q.question}", STATUS_LABELS[q.status],
             "; ".join(f"{n} {_num(a)} → {_num(b)}" for n, (a, b) in q.changes.items()) or "—",
             "; ".join(q.failures_after) or "—"],
            {"improved": "ok", "regressed": "fail"}.get(q.status, ""))
        for q in comparison.questions if show_unchanged or q.status != "unchanged"
    ]
    counts = ", ".join(f"{comparison.count(s)} {label}" for s, label in STATUS_LABELS.items())
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>Comparaison d'évaluations</title><style>{STYLE}</style></head><body>"
        "<h1>Comparaison d'évaluations</h1>"
        "<table><tr><th>Mesure</th><th>Avant</th><th>Après</th><th>Écart</th></tr>"
        f"{''.join(metric_rows)}</table><p>Questions : {escape(counts)}.</p>"
        "<table><tr><th>Question</th><th>Statut</th><th>Changements</th>"
        f"<th>Problèmes après</th></tr>{''.join(question_rows)}</table></body></html>"
    )
