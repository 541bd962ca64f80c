"""A self-contained HTML report of one eval run, for people who will not read JSON.

>>> write_report(load_results("eval/results/2025-01-02-abc1234.json"), Path("rapport.html"))
"""

import json
from html import escape
from pathlib import Path
from typing import Any

from eval.charts import bar_chart, histogram

LABELS = {
    "hit@": "Source attendue dans les {k} premiers passages",
    "recall@": "Part des sources attendues retrouvées (top {k})",
    "mrr@10": "Rang réciproque moyen (MRR@10)",
    "ndcg@10": "nDCG@10",
    "citation_precision": "Précision des citations",
    "citation_recall": "Rappel des citations",
    "page_accuracy": "Page / article cité exact",
    "token_f1": "F1 lexical avec la réponse de référence",
    "semantic_similarity": "Similarité sémantique avec la référence",
    "faithfulness": "Phrases étayées par leur citation",
    "abstention_accuracy": "Abstention correcte",
    "false_abstention_rate": "Abstentions à tort (plus bas = mieux)",
    "latency_p50": "Latence médiane (s)",
    "latency_p95": "Latence 95e centile (s)",
}
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1rem 0;width:100%}
th,td{border:1px solid #ccd;padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:#eef1f5} td.num{text-align:right;white-space:nowrap}
.fail{color:#a83232} .ok{color:#3c8d5a} .muted{color:#666;font-size:.9em}
.wide{overflow-x:auto} details{margin:.2rem 0} summary{cursor:pointer}
svg{display:block;margin:1rem 0}
"""


def label(name: str, k: int) -> str:
    for prefix, text in LABELS.items():
        if name == prefix or (prefix.endswith("@") and name.startswith(prefix)):
            return text.format(k=k)
    return name


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return escape(str(value))


def render_report(results: dict[str, Any]) -> str:
    """The whole report as one HTML string; every document or user text is escaped."""
    k = results.get("k", 10)
    records = results.get("records", [])
    failed = [r for r in records if r.get("failures")]
    passed = [r for r in records if not r.get("failures")]
    body = [
        "<h1>Rapport d'évaluation de l'assistant</h1>",
        _provenance(results),
        "<h2>Synthèse</h2>",
        _summary(results, k),
        _charts(results, k),
        "<h2>Par type de question</h2>",
        _by_tag(results, k),
        f"<h2>Questions en échec ({len(failed)})</h2>",
        _questions(failed),
        f"<h2>Questions réussies ({len(passed)})</h2>",
        _questions(passed),
        "<h2>Réglages</h2>",
        f"<details><summary>Afficher</summary><pre>"
        f"{escape(_pretty(results.get('settings', {})))}</pre></details>",
    ]
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        "<title>Rapport d'évaluation</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def write_report(results: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(results), encoding="utf-8")
    return path


def _provenance(results: dict[str, Any]) -> str:
    git = results.get("git") or {}
    commit = (git.get("commit") or "inconnu")[:12] + (
        " (modifications non commitées)" if git.get("dirty") else ""
    )
    corpus = results.get("corpus") or {}
    rows = [
        ("Date", results.get("created_at")),
        ("Jeu de questions", (results.get("dataset") or {}).get("path")),
        ("Questions", (results.get("dataset") or {}).get("questions")),
        ("Cible", results.get("target")),
        ("Commit", commit),
        (
            "Corpus",
            f"{corpus.get('files', 0)} fichiers, sha256 {(corpus.get('sha256') or '')[:12]}",
        ),
        ("Modèles", json.dumps(results.get("model", {}), ensure_ascii=False)),
        ("Passages cherchés (k)", results.get("k")),
    ]
    cells = "".join(f"<tr><th>{escape(n)}</th><td>{_fmt(v)}</td></tr>" for n, v in rows)
    return f"<table>{cells}</table>"


def _summary(results: dict[str, Any], k: int) -> str:
    counts = results.get("metric_counts", {})
    rows = "".join(
        f"<tr><td>{escape(label(name, k))}</td><td class='muted'>{escape(name)}</td>"
        f"<td class='num'>{_fmt(score)}</td><td class='num'>{counts.get(name, '')}</td></tr>"
        for name, score in results.get("metrics", {}).items()
    )
    return (
        "<table><tr><th>Mesure</th><th>Nom</th><th>Score</th><th>Questions notées</th></tr>"
        f"{rows}</table>"
    )


def _charts(results: dict[str, Any], k: int) -> str:
    ratios = [
        (label(n, k), s)
        for n, s in results.get("metrics", {}).items()
        if not n.startswith("latency")
    ]
    records = results.get("records", [])
    latencies = [r["latency_s"] for r in records if r.get("latency_s") is not None]
    top = {"dans le corpus": [], "hors corpus": []}
    for record in records:
        if record.get("hits") and record["hits"][0].get("score") is not None:
            key = "hors corpus" if record.get("answerable") is False else "dans le corpus"
            top[key].append(float(record["hits"][0]["score"]))
    return (
        bar_chart(ratios, "Scores (0 à 1)")
        + histogram({"réponse": latencies}, "Latence des réponses", unit=" s")
        + histogram(top, "Score du premier passage trouvé (aide à régler min_score)")
    )


def _by_tag(results: dict[str, Any], k: int) -> str:
    table = results.get("by_tag", {})
    if not table:
        return "<p class='muted'>Aucune étiquette.</p>"
    names = [n for n in next(iter(table.values())) if n != "n"]
    head = "".join(f"<th title='{escape(label(n, k))}'>{escape(n)}</th>" for n in names)
    rows = "".join(
        f"<tr><td>{escape(tag)}</td><td class='num'>{row['n']}</td>"
        + "".join(f"<td class='num'>{_fmt(row.get(n))}</td>" for n in names)
        + "</tr>"
        for tag, row in table.items()
    )
    return (
        f"<div class='wide'><table><tr><th>Étiquette</th><th>n</th>{head}</tr>{rows}</table></div>"
    )


def _questions(records: list[dict[str, Any]]) -> str:
    if not records:
        return "<p class='muted'>Aucune.</p>"
    rows = "".join(_question_row(r) for r in records)
    return (
        "<table><tr><th>Question</th><th>Réponse</th><th>Citations</th>"
        f"<th>Sources attendues</th><th>Problèmes</th></tr>{rows}</table>"
    )


def _question_row(record: dict[str, Any]) -> str:
    turns = "".join(f"<div class='muted'>« {escape(t)} »</div>" for t in record.get("turns", []))
    question = (
        f"<b>{escape(record['id'])}</b> <span class='muted'>"
        f"{escape(', '.join(record.get('tags', [])))}</span>{turns}"
        f"<div>{escape(record['question'])}</div>"
    )
    answer = escape(record.get("answer") or "")
    if record.get("reference_answer"):
        answer += f"<div class='muted'>Référence : {escape(record['reference_answer'])}</div>"
    citations = "".join(_citation(c) for c in record.get("citations", [])) or "—"
    expected = (
        "".join(
            f"<div>{escape(s['document_id'])}{_where(s)}"
            + (f"<div class='muted'>« {escape(s['contains'])} »</div>" if s.get("contains") else "")
            + "</div>"
            for s in record.get("expected_sources", [])
        )
        or "<i>hors corpus</i>"
    )
    failures = "".join(f"<div class='fail'>{escape(f)}</div>" for f in record.get("failures", []))
    return (
        f"<tr><td>{question}</td><td>{answer}</td><td>{citations}</td><td>{expected}</td>"
        f"<td>{failures or '<span class=ok>ok</span>'}</td></tr>"
    )


def _citation(citation: dict[str, Any]) -> str:
    mark = (
        "<span class='ok'>✓</span>" if citation.get("relevant") else "<span class='fail'>✗</span>"
    )
    name = citation.get("title") or citation.get("document_id") or "?"
    return (
        f"<details><summary>{mark} [{escape(str(citation.get('n', '?')))}] {escape(name)}"
        f"{_where(citation)}</summary><div class='muted'>{escape(citation.get('text', ''))}"
        "</div></details>"
    )


def _where(item: dict[str, Any]) -> str:
    parts = [
        f"p. {item['page']}" if item.get("page") else "",
        f"art. {item['article']}" if item.get("article") else "",
    ]
    text = ", ".join(p for p in parts if p)
    return f" <span class='muted'>({escape(text)})</span>" if text else ""


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1)
