"""A deployment: which model is deployed, what it was fine-tuned on, and how to unlearn and
verify. One TOML file (``sample_requests/deployment.toml`` for the sample); flags override it.

Loading is the validation: every section is turned into its engine config at once, so a
misspelt key or a bad value is an error naming the file, the section and the key before any
work starts, and the rest of the application reads typed settings, never raw tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.audit.config import AuditConfig, Thresholds
from engine.augment.pipeline import AugmentConfig
from engine.bundled import missing_package
from engine.models import BUNDLED_MODELS
from engine.run_inputs import ProbeSettings
from engine.subject import SubjectConfig
from engine.train.config import METHOD_NAMES, TrainConfig, with_method_defaults
from engine.types import QA
from relearn_tui.errors import OperatorError

DEFAULT_SECTIONS = ("subject", "augment", "train", "audit", "thresholds", "probes")
SECTION_CONFIGS: dict[str, type] = {
    "subject": SubjectConfig, "augment": AugmentConfig, "train": TrainConfig,
    "audit": AuditConfig, "thresholds": Thresholds, "probes": ProbeSettings,
}
# command-line flags that set a section's key rather than a top-level setting
SECTION_FLAGS = {"method": "train", "backend": "augment"}


class DeploymentError(OperatorError):
    """A bad deployment file or corpus; the message names file, place and field."""


@dataclass(frozen=True)
class Deployment:
    """A loaded, validated deployment. The configs are shared: change a copy
    (``dataclasses.replace``), never the one held here."""

    name: str = "default"
    base_model: str = "smollm2"
    model: str | None = None  # an already fine-tuned deployed model; else built from corpus
    corpus: Path | None = None
    source: Path | None = None
    # a run stops before training when the before-audit shows the model reproduces none of a
    # request's private values (it never knew them: "verified" would prove nothing)
    require_known_facts: bool = True
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)  # as written, for records
    subject: SubjectConfig = field(default_factory=SubjectConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(**with_method_defaults({})))
    audit: AuditConfig = field(default_factory=AuditConfig)
    thresholds: Thresholds = field(default_factory=Thresholds)
    probes: ProbeSettings = field(default_factory=ProbeSettings)

    def where(self, section: str) -> str:
        """How an error names a section of this deployment."""
        return f"{self.source or 'deployment'}: [{section}]"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base_model": self.base_model, "model": self.model,
                "corpus": str(self.corpus) if self.corpus else None,
                "source": str(self.source) if self.source else None,
                "require_known_facts": self.require_known_facts,
                "sections": self.sections}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Deployment:
        """A deployment as :meth:`to_dict` stored it (a run's record); ``where`` names the
        record in errors."""
        return _typed(name=data.get("name") or "default",
                      base_model=data.get("base_model") or "smollm2", model=data.get("model"),
                      corpus=Path(data["corpus"]) if data.get("corpus") else None,
                      source=Path(data["source"]) if data.get("source") else None,
                      require_known_facts=bool(data.get("require_known_facts", True)),
                      sections={k: dict(v) for k, v in (data.get("sections") or {}).items()},
                      where=where)


def _typed(*, where: str, sections: dict[str, dict[str, Any]], **top: Any) -> Deployment:
    given = {**sections, "train": with_method_defaults(sections.get("train", {}))}
    configs = {name: build_config(cls, given.get(name, {}), f"{where}: [{name}]")
               for name, cls in SECTION_CONFIGS.items()}
    if configs["train"].method not in METHOD_NAMES:
        raise DeploymentError(f"{where}: [train]: method: {configs['train'].method!r} is not "
                              f"an unlearning method (methods: {', '.join(METHOD_NAMES)})")
    return Deployment(sections=sections, **top, **configs)


def load_deployment(path: str | Path | None,
                    overrides: Mapping[str, str | None] | None = None) -> Deployment:
    """Read and validate a deployment file (None: the defaults, the bare base model), with
    command-line ``overrides`` (model, base_model, corpus, method, backend) applied first."""
    flags = {k: v for k, v in (overrides or {}).items() if v}
    if path is None:
        data: dict[str, Any] = {}
        where, base = "deployment", Path.cwd()
    else:
        path = Path(path)
        if path.is_dir():
            path = path / "deployment.toml"
        data = _read_toml(path)
        where, base = str(path), path.parent
    sections: dict[str, dict[str, Any]] = {}
    for name in DEFAULT_SECTIONS:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise DeploymentError(f"{where}: [{name}]: must be a table")
        sections[name] = dict(value)
    for key, section in SECTION_FLAGS.items():
        if key in flags:
            sections[section][key] = flags[key]
    corpus = flags.get("corpus") or data.get("corpus")
    base_model = flags.get("base_model") or _relative_to(base, data.get("base_model", "smollm2"))
    model = flags.get("model") or _relative_to(base, data.get("model"))
    for key, value in (("base_model", base_model), ("model", model)):
        source = f"--{key.replace('_', '-')}" if key in flags else f"{where}: {key}"
        # a bundled model whose package is missing: said now, with the pip command
        if value in BUNDLED_MODELS:
            if problem := missing_package(value):
                raise DeploymentError(f"{source}: {problem}")
        elif value and not Path(value).expanduser().exists():
            # said before anything is imported or augmented, not when the run loads it
            raise DeploymentError(f"{source}: no such model file or folder: {value}")
    corpus_path = ((Path(corpus) if "corpus" in flags else base / corpus).resolve()
                   if corpus else None)
    if corpus_path is not None and not corpus_path.is_file():
        source = "--corpus" if "corpus" in flags else f"{where}: corpus"
        raise DeploymentError(f"{source}: no such corpus file: {corpus_path}")
    return _typed(
        name=data.get("name", base.name if path is not None else "default"),
        base_model=base_model,
        model=model,
        corpus=corpus_path,
        source=path.resolve() if path is not None else None,
        require_known_facts=data.get("require_known_facts", True),
        sections=sections, where=where)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeploymentError(f"{path}: no such deployment file") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeploymentError(f"{path}: invalid TOML ({exc})") from None
    top = {"name", "base_model", "model", "corpus", "require_known_facts", *DEFAULT_SECTIONS}
    for key in data:
        if key not in top:
            raise DeploymentError(f"{path}: {key}: unknown setting "
                                  f"(known: {', '.join(sorted(top))})")
    for key in ("name", "base_model", "model", "corpus"):
        if key in data and not isinstance(data[key], str):
            raise DeploymentError(f"{path}: {key}: must be a string")
    if not isinstance(data.get("require_known_facts", True), bool):
        raise DeploymentError(f"{path}: require_known_facts: must be true or false")
    return data


def _relative_to(base: Path, model: str | None) -> str | None:
    """A model path in the file is relative to the file; "smollm2" and "gemma3-270m" name
    bundled models (engine.models.BUNDLED_MODELS)."""
    if not model or model in BUNDLED_MODELS or Path(model).is_absolute():
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


def corpus_sha256(path: Path) -> str:
    """The corpus file's digest: a run records it, and resumes only on the same corpus."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise DeploymentError(f"{path}: cannot read corpus ({exc.strerror})") from None


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
