"""What a finished run leaves behind: the adapter, the merged model, their hashes, the record.

The merged model is the deliverable: the adapter alone is not erasure, since removing it restores
the knowledge. Both are written to temporary directories and renamed into place.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from engine.models import sha256_dir

ADAPTER = "adapter"
MERGED = "merged"
RECORD = "run.json"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("relearn-tui", "torch", "transformers", "peft", "accelerate", "datasets",
                 "bitsandbytes", "sentence-transformers"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def _publish(tmp: Path, final: Path) -> None:
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def save_adapter(model: Any, out_dir: Path) -> tuple[Path, str]:
    final = Path(out_dir) / ADAPTER
    tmp = Path(tempfile.mkdtemp(prefix=".adapter-", dir=out_dir))
    model.save_pretrained(tmp)
    _publish(tmp, final)
    return final, sha256_dir(final)


def save_merged(model: Any, tokenizer: Any, out_dir: Path, *, adapter_dir: Path,
                base_spec: Any, quantized: bool) -> tuple[Path, str]:
    """Fold the adapter into the base weights and save a plain model (safetensors).

    A 4/8-bit base cannot take the adapter exactly, so in that case the base is reloaded
    unquantised and the saved adapter is merged into that.
    """
    if quantized:
        from peft import PeftModel

        from engine.models import load_model

        base = load_model(base_spec, device=str(model.device)).model
        model = PeftModel.from_pretrained(base, adapter_dir)
    merged = model.merge_and_unload()
    final = Path(out_dir) / MERGED
    tmp = Path(tempfile.mkdtemp(prefix=".merged-", dir=out_dir))
    merged.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    _publish(tmp, final)
    return final, sha256_dir(final)
