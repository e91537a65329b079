#!/usr/bin/env bash
# One entry point for a fresh machine (Python 3.11 + package registries):
#   ./run.sh serve [--host H --port P]   set up, build the index if needed, serve API + UI
#   ./run.sh test  [pytest args]         set up, run the test suite
#   ./run.sh setup                       only create .venv and install
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

setup() {
  local stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
  if [ ! -f "$stamp" ]; then
    [ -x .venv/bin/python ] || "$PY" -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    # CPU torch is pinned in pyproject.toml (torch==2.13.0); never let a resolver pick a CUDA build.
    .venv/bin/pip install --quiet -e ".[dev]"
    rm -f .venv/.installed-*
    touch "$stamp"
  fi
  if [ "${ASSISTANT_E2E:-1}" = "1" ] && ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    # headless browser + a font with Vietnamese glyphs for the UI end-to-end test (Debian packages)
    (apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null) \
      || echo "note: chromium could not be installed; the browser test will be skipped" >&2
  fi
}

cmd=${1:-serve}
shift || true
case "$cmd" in
  setup) setup ;;
  serve) setup; exec .venv/bin/python -m assistant serve "$@" ;;
  test)
    setup
    set +e
    .venv/bin/python -m pytest "$@"
    rc=$?
    set -e
    [ "$rc" -eq 5 ] && rc=0  # "no tests collected" is not a failure
    exit "$rc" ;;
  *) echo "usage: ./run.sh serve|test|setup" >&2; exit 2 ;;
esac
