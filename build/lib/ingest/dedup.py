"""Near-duplicate detection (the same text as .md and as .pdf): MinHash over word 5-grams."""

import hashlib
import re

import numpy as np

from ingest.text import ascii_fold

_PERMUTATIONS = 64
_PRIME = (1 << 61) - 1
_rng = np.random.default_rng(20140221)
_A = _rng.integers(1, _PRIME, _PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, _PERMUTATIONS, dtype=np.uint64)


def _words(text: str) -> list[str]:
    folded = ascii_fold(text.lower())
    return re.findall(r"[a-z0-9]+", folded)


def fingerprint(text: str, shingle: int = 5) -> list[int]:
    """A MinHash signature: layout, markup and line breaks do not change it."""
    words = _words(text)
    grams = {" ".join(words[i:i + shingle]) for i in range(max(1, len(words) - shingle + 1))}
    hashes = np.array(
        [int.from_bytes(hashlib.blake2b(g.encode(), digest_size=7).digest(), "big") for g in grams],
        dtype=np.uint64,
    )
    # (a*x + b) mod p, computed in Python ints to avoid uint64 overflow surprises
    return [min((int(a) * int(h) + int(b)) % _PRIME for h in hashes)
            for a, b in zip(_A, _B, strict=True)]


def similarity(first: list[int], second: list[int]) -> float:
    """Estimated Jaccard similarity of the two texts' 5-gram sets."""
    return sum(x == y for x, y in zip(first, second, strict=True)) / len(first)
