"""The two layer boundaries of docs/design.md §2: `engine` never imports `relearn_tui`, and
nothing outside `relearn_tui/tui/` imports `textual`."""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import ROOT, VENV_BIN

TUI = ROOT / "relearn_tui" / "tui"


def imported_modules(source: str, filename: str = "<string>") -> Iterator[str]:
    """Every absolute module name an import statement in ``source`` names, including
    imports inside functions and ``__import__``/``importlib.import_module`` with a literal."""
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Name) and node.func.id == "__import__")
                   or (isinstance(node.func, ast.Attribute)
                       and node.func.attr == "import_module"))):
            yield node.args[0].value


def offenders(files: list[Path], package: str) -> list[str]:
    found = []
    for path in files:
        for name in imported_modules(path.read_text(encoding="utf-8"), str(path)):
            if name == package or name.startswith(package + "."):
                shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                found.append(f"{shown} imports {name}")
    return found


def py_files(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py")
                  if ".venv" not in p.parts and "__pycache__" not in p.parts)


@pytest.mark.parametrize(("source", "package", "caught"), [
    ("import relearn_tui", "relearn_tui", True),
    ("from relearn_tui.store import Store", "relearn_tui", True),
    ("def f():\n    from relearn_tui import workflow", "relearn_tui", True),
    ("import importlib\nimportlib.import_module('relearn_tui.views')", "relearn_tui", True),
    ("__import__('textual.app')", "textual", True),
    ("from textual import on", "textual", True),
    ("import textualize_helpers", "textual", False),
    ("from . import relearn_tui", "relearn_tui", False),  # a relative sibling, not the package
    ("import engine.models", "relearn_tui", False),
])
def test_the_scanner_itself(tmp_path: Path, source: str, package: str, caught: bool) -> None:
    """The scans below can fail: a planted import is reported."""
    path = tmp_path / "planted.py"
    path.write_text(source)
    assert bool(offenders([path], package)) is caught


def test_engine_never_imports_the_application() -> None:
    files = py_files("engine")
    assert len(files) >= 5  # the scan saw the engine
    assert offenders(files, "relearn_tui") == []


def test_only_the_tui_imports_textual() -> None:
    files = [p for p in py_files("relearn_tui", "engine", "migrations")
             if TUI not in p.parents]
    assert any(p.name == "headless.py" for p in files)
    assert offenders(files, "textual") == []


def test_import_linter_contract_holds() -> None:
    proc = subprocess.run([str(VENV_BIN / "lint-imports")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "the engine does not know the application KEPT" in proc.stdout
    assert "0 broken" in proc.stdout


def _contract_sources(name: str) -> set[str]:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["name"] == name]
    return set(contract["source_modules"])


def _children(package: str) -> set[str]:
    folder = ROOT.joinpath(*package.split("."))
    return {f"{package}.{p.stem if p.is_file() else p.name}" for p in folder.iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}


@pytest.mark.parametrize(("contract", "package", "exempt"), [
    ("only the TUI imports Textual", "relearn_tui",
     # the front ends: the TUI, the CLI that starts it, the docs generator that reads its keys
     {"relearn_tui.tui", "relearn_tui.cli", "relearn_tui.docs_gen"}),
    ("only the entry point imports the TUI's App", "relearn_tui.tui", {"relearn_tui.tui.app"}),
])
def test_every_module_is_under_its_contract(contract: str, package: str,
                                            exempt: set[str]) -> None:
    """The contracts name their modules; a module added later and not named there would be
    checked by nothing. So every module of the package is named, or a known exception."""
    modules = _children(package)
    assert len(modules) >= 8  # the scan saw the package
    assert sorted(modules - exempt - _contract_sources(contract)) == []
