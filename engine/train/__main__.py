"""Run one unlearning training from files: the entry point for ``accelerate launch``.

    python -m engine.train --model MODEL --data data.json --out runs/r1 [--config cfg.json]
        [--set key=value ...]
    accelerate launch --multi_gpu --num_processes 4 -m engine.train --model ... (same flags)

``data.json`` holds ``{"forget": [[q, a], ...], "relearn": [...], "retain": [...]}`` and, for
relearn's value term, ``"values": [[q, a, [private value, ...]], ...]``; the config
file holds TrainConfig fields (``--set`` overrides single ones, values parsed as JSON where they
parse). Every process runs the same command; the main one prints progress and writes the outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.progress import Cancelled, Progress
from engine.train import ConfigError, TrainConfig, run_unlearning
from engine.types import QA, TrainData, mark_values


def read_data(path: Path) -> TrainData:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{path}: cannot read training data: {exc}") from None
    parts: dict[str, tuple[QA, ...]] = {}
    for name in ("forget", "relearn", "retain"):
        items = raw.get(name, [])
        if not isinstance(items, list):
            raise SystemExit(f"{path}: field {name!r} must be a list of [question, answer]")
        out = []
        for i, item in enumerate(items):
            if isinstance(item, dict):
                item = [item.get("question"), item.get("answer")]
            if not (isinstance(item, list) and len(item) == 2
                    and all(isinstance(x, str) and x for x in item)):
                raise SystemExit(f"{path}: {name}[{i}] must be [question, answer] strings")
            out.append(QA(item[0], item[1]))
        parts[name] = tuple(out)
    parts["values"] = _read_values(path, raw.get("values", []))
    return TrainData(**parts)


def _read_values(path: Path, items: Any) -> tuple[QA, ...]:
    """``[[question, answer, [value, ...]], ...]``: each answer with its values as targets."""
    want = "[question, answer, [value, ...]] with every value inside the answer"
    if not isinstance(items, list):
        raise SystemExit(f"{path}: field 'values' must be a list of {want}")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            item = [item.get("question"), item.get("answer"), item.get("values")]
        ok = (isinstance(item, list) and len(item) == 3
              and all(isinstance(x, str) and x for x in item[:2])
              and isinstance(item[2], list) and item[2]
              and all(isinstance(v, str) and v.strip() for v in item[2]))
        marked = mark_values(QA(item[0], item[1]), item[2]) if ok else None
        # every value must be found, or its tokens would silently not be trained
        if marked is None or any(mark_values(QA(item[0], item[1]), [v]) is None
                                 for v in item[2]):
            raise SystemExit(f"{path}: values[{i}] must be {want}")
        out.append(marked)
    return tuple(out)


def read_config(path: Path | None, overrides: list[str]) -> TrainConfig:
    fields: dict[str, Any] = {}
    if path is not None:
        try:
            fields = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"{path}: cannot read the config: {exc}") from None
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected key=value")
        try:
            fields[key] = json.loads(value)
        except ValueError:
            fields[key] = value
    try:
        return TrainConfig.from_dict(fields)
    except (ConfigError, TypeError) as exc:
        raise SystemExit(f"config: {exc}") from None


def print_progress(p: Progress) -> None:
    if p.message:
        print(f"[{p.stage}] {p.message}", flush=True)
        return
    terms = " ".join(f"{k}={v:.4f}" for k, v in p.losses.items())
    eta = f" eta {p.eta_s:.0f}s" if p.eta_s is not None else ""
    print(f"[{p.stage}] epoch {p.epoch}/{p.epochs} step {p.done}/{p.total} {terms} "
          f"{p.tokens_per_s:.0f} tok/s{eta}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.train", description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True,
                    help="model directory, .gguf file, 'smollm2' or 'gemma3-270m'")
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--config", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    data = read_data(args.data)
    config = read_config(args.config, args.set)
    try:
        result = run_unlearning(args.model, data, config, args.out,
                                progress=(lambda p: None) if args.quiet else print_progress)
    except Cancelled as exc:
        print(f"cancelled: {exc}", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"adapter {result.adapter_dir} sha256 {result.adapter_sha256}")
        if result.merged_dir:
            print(f"merged  {result.merged_dir} sha256 {result.merged_sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
