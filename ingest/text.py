"""French text handling shared by ingest, retrieval, the answer step and eval: one accent
folding, used wherever text is compared without its accents."""

import unicodedata


def fold(text: str) -> str:
    """Accents removed, everything else kept: « Égalité » → « Egalite », « œuvre » stays."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def ascii_fold(text: str) -> str:
    """Accents removed and any other non-ASCII character dropped (file names, ids)."""
    return fold(text).encode("ascii", "ignore").decode()
