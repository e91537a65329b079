"""The command line on the real index (the session fixture's settings, passed through the environment)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(settings.index_dir), "ASSISTANT_CACHE_DIR": str(settings.cache_dir)}
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_ask_json(assistant, settings):
    out = run(settings, "ask", "ai chu tri", "xay dung ke hoach cai cach hanh chinh nam 2026", "--json")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert "Phòng Văn hoá - Xã hội" in body["answer"] and body["citations"]


def test_ask_pretty_prints_numbered_sources(assistant, settings):
    out = run(settings, "ask", "Ai ký kế hoạch của phường Nam Gia Nghĩa?")
    assert out.returncode == 0 and "Phan Văn Quốc" in out.stdout and "[1] " in out.stdout


def test_ingest_report_counts_and_conflicts(assistant, settings):
    out = run(settings, "ingest", "--report")
    assert out.returncode == 0, out.stderr
    assert "tasks 36 (body) + 0 (appendix rows)" in out.stdout
    assert "tasks 0 (body) + 49 (appendix rows)" in out.stdout
    assert "conflicting figures: 3" in out.stdout


def test_help_is_plain(settings):
    out = run(settings, "--help")
    assert out.returncode == 0 and "serve" in out.stdout and "duties" in out.stdout
