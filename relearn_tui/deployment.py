"""A deployment: which model is deployed, what it was fine-tuned on, and how to unlearn and
verify. One TOML file (``sample_requests/deployment.toml`` for the sample); flags override it.

The engine's config dataclasses are filled from the file's sections, so a misspelt key is an
error that names the file, the section and the key rather than a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.types import QA
from relearn_tui.errors import OperatorError

DEFAULT_SECTIONS = ("subject", "augment", "train", "audit", "thresholds", "probes")


class DeploymentError(OperatorError):
    """A bad deployment file or corpus; the message names file, place and field."""


@dataclass
class Deployment:
    name: str = "default"
    base_model: str = "smollm2"
    model: str | None = None  # an already fine-tuned deployed model; else built from corpus
    corpus: Path | None = None
    source: Path | None = None
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.sections.get(name, {}))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base_model": self.base_model, "model": self.model,
                "corpus": str(self.corpus) if self.corpus else None,
                "source": str(self.source) if self.source else None,
                "sections": self.sections}


def load_deployment(path: str | Path | None) -> Deployment:
    if path is None:
        return Deployment()
    path = Path(path)
    if path.is_dir():
        path = path / "deployment.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeploymentError(f"{path}: no such deployment file") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeploymentError(f"{path}: invalid TOML ({exc})") from None
    top = {"name", "base_model", "model", "corpus", *DEFAULT_SECTIONS}
    for key in data:
        if key not in top:
            raise DeploymentError(f"{path}: {key}: unknown setting "
                                  f"(known: {', '.join(sorted(top))})")
    for key in ("name", "base_model", "model", "corpus"):
        if key in data and not isinstance(data[key], str):
            raise DeploymentError(f"{path}: {key}: must be a string")
    sections = {}
    for name in DEFAULT_SECTIONS:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise DeploymentError(f"{path}: [{name}]: must be a table")
        sections[name] = value
    corpus = data.get("corpus")
    model = data.get("model")
    base = path.parent
    return Deployment(
        name=data.get("name", path.parent.name),
        base_model=data.get("base_model", "smollm2"),
        model=_relative_to(base, model),
        corpus=(base / corpus).resolve() if corpus else None,
        source=path.resolve(),
        sections=sections,
    )


def _relative_to(base: Path, model: str | None) -> str | None:
    """A model path in the file is relative to the file; "smollm2" names the bundled model."""
    if not model or model == "smollm2" or Path(model).is_absolute():
        return model
    return str((base / model).resolve())


def build_config(cls: type, values: dict[str, Any], where: str) -> Any:
    """Instantiate an engine config dataclass from a TOML section, refusing unknown keys."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if key not in names:
            raise DeploymentError(f"{where}: {key}: unknown setting "
                                  f"(known: {', '.join(sorted(names))})")
    kwargs = {}
    for key, value in values.items():
        current = names[key].default
        if isinstance(current, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise DeploymentError(f"{where}: {exc}") from None


def load_corpus(path: Path) -> list[QA]:
    """A fine-tuning corpus: JSONL of {question, answer}, or a JSON list of them, or the
    KnowUnDo {text, labels} layout."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DeploymentError(f"{path}: cannot read corpus ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DeploymentError(f"{path}: corpus is not UTF-8 text") from None
    rows: list[tuple[str, Any]] = []
    if path.suffix.lower() == ".jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((f"line {n}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise DeploymentError(f"{path}: line {n}: invalid JSON ({exc.msg})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DeploymentError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
        if not isinstance(data, list):
            raise DeploymentError(f"{path}: a corpus is a list of question/answer objects")
        rows = [(f"item {i}", x) for i, x in enumerate(data)]
    corpus = []
    for where, row in rows:
        if not isinstance(row, dict):
            raise DeploymentError(f"{path}: {where}: must be an object")
        q, a = (row.get("question"), row.get("answer")) if "question" in row else (
            row.get("text"), row.get("labels"))
        for fname, value in (("question", q), ("answer", a)):
            if not isinstance(value, str) or not value.strip():
                raise DeploymentError(f"{path}: {where}: {fname}: missing or not a string")
        corpus.append(QA(q.strip(), a.strip()))
    if not corpus:
        raise DeploymentError(f"{path}: the corpus is empty")
    return corpus
