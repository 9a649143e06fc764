"""Writes the generated parts of the documentation from the code they describe.

    python -m relearn_tui.docs_gen            # rewrite the generated blocks in docs/
    python -m relearn_tui.docs_gen --check    # exit 1 (naming the files) if one is stale

Two kinds of block, each between a pair of marker comments in a Markdown file:

- the deployment file's reference (``docs/deployment.md``): one table per section, with each
  setting's name, type and default read from the config dataclass that section fills
  (``dataclasses.fields``), and its meaning from :data:`MEANINGS` below. A field without a
  meaning, or a meaning for a field that no longer exists, is an error: a new setting cannot
  reach a release undocumented;
- the TUI's keys (``docs/usage.md``), read from the Textual bindings of the app and its screens
  through the help screen's own list, so the page, the help screen and the keys agree;
- benchmark results (``docs/augment_samples.md``), from the JSON the benchmark script wrote to
  ``bench/results/`` and that is committed with the page, with its date, commit and CPU.

Textual is imported lazily, and only through ``relearn_tui.tui``, the one package allowed to
import it. ``tests/foundation/test_docs.py`` fails when a committed page differs from what this
module writes.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.train.config import METHOD_DEFAULTS, METHOD_NAMES, TrainConfig, with_method_defaults
from relearn_tui.reports.figures import fmt, settings_text

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

START = "<!-- generated:{name} start: python -m relearn_tui.docs_gen writes this block -->"
END = "<!-- generated:{name} end -->"


class DocsError(Exception):
    """A page lacks a block's markers, or a setting lacks a meaning."""


def section_classes() -> dict[str, type]:
    """The deployment file's sections and the config dataclass each one fills."""
    from engine.audit.config import AuditConfig, Thresholds
    from engine.augment.pipeline import AugmentConfig
    from engine.subject import SubjectConfig
    from engine.train.config import TrainConfig
    from relearn_tui.runs import ProbeSettings

    return {"subject": SubjectConfig, "augment": AugmentConfig, "train": TrainConfig,
            "audit": AuditConfig, "thresholds": Thresholds, "probes": ProbeSettings}


# What each setting does, in the words of the page. Names, types and defaults come from the
# dataclasses themselves.
MEANINGS: dict[str, dict[str, str]] = {
    "subject": {
        "epochs": "the most epochs of phase 1 (learning at a constant rate)",
        "stop_when_memorised": "phase 1 ends once this share of the corpus rows is reproduced "
                               "token for token, or after `epochs`",
        "lr": "learning rate of phase 1",
        "anneal_epochs": "epochs of phase 2 (annealing)",
        "anneal_lr": "learning rate phase 2 starts from, decaying linearly to 0",
        "lora_r": "LoRA rank",
        "lora_alpha": "LoRA alpha",
        "lora_dropout": "LoRA dropout",
        "lora_plus_ratio": "learning-rate multiple of the LoRA B matrices (LoRA+; 1: off)",
        "batch_size": "rows a step",
        "seed": "seed of the build",
        "max_length": "longest row in tokens",
        "schedule": "phase 1's rate schedule: `constant` or `linear`",
        "warmup_ratio": "share of phase 1's steps spent warming the rate up",
        "autocast": "bf16 autocast: true, false, or unset to decide as described under "
                    "[Numerics](#numerics-cpu-gpu-several-gpus)",
        "device": "`auto`, `cpu` or `cuda`",
    },
    "augment": {
        "backend": "`offline` or `openai` (`--backend` overrides it)",
        "backend_options": "the backend's own options: for `openai`, the table below, e.g. "
                           "`{base_url = \"http://127.0.0.1:8000/v1\", model = \"...\"}`",
        "seed": "seed of the generation; the same seed gives the same variants",
        "per_kind": "question variants of each kind per fact",
        "kinds": "the variant kinds generated: `simple`, `contextual`, `noise`, `logical`",
        "held_out_share": "share of the variants never trained on, kept as held-out forget "
                          "probes (spread over the kinds)",
        "completions": "completion items per fact (0: none)",
        "max_attempts": "how many times an item that fails verification is regenerated "
                        "before it is kept flagged",
        "use_presidio": "scan for PII with presidio (spaCy's small English model) besides "
                        "the format rules",
        "domain": "what the assistant is about (\"the Quillstone Review's author archive\"), "
                  "for the wording of contexts; empty: neutral wording",
        "people": "who the people in its data are, plural (\"customers\", \"patients\", "
                  "\"authors\"), for contexts and reverse questions; empty: neutral wording",
        "meaning_check": "check every question still asks about the same fact (MiniLM "
                         "similarity with the name masked, value-type and owner rules); a "
                         "failing one is regenerated, then flagged",
    },
    # the openai backend's backend_options, read from OpenAIBackend's signature
    "augment.openai": {
        "model": "the model name the server knows",
        "base_url": "the server's OpenAI-compatible endpoint; unset: `OPENAI_BASE_URL`, else "
                    "OpenAI's",
        "timeout": "seconds one request may take before the augmentation stops (exit 3, "
                   "finished facts kept); timeouts are not retried, since the server would "
                   "still be writing the abandoned reply. Set it above `max_tokens` (shown by "
                   "`--dry-run`) divided by the server's tokens per second",
        "max_retries": "retries of a connection error, HTTP 408/409/429 or 5xx, with "
                       "exponential backoff honouring Retry-After; past them the augmentation "
                       "stops (exit 3, finished facts kept)",
        "temperature": "sampling temperature",
        "malformed_retries": "how many more times a fact is asked, with another seed, when the "
                             "reply is not the JSON asked for (not JSON, empty, cut at "
                             "`max_tokens`, no variant); then the offline generator writes that "
                             "fact's variants, marked `openai+offline`",
        "json_mode": "ask for JSON with `response_format`; false: send none and read JSON out "
                     "of the reply's text",
        "json_schema": "ask for the reply's JSON schema (structured output: OpenAI, vLLM, "
                       "Ollama, llama.cpp), stepping down to JSON mode with the schema, then "
                       "plain JSON mode, then none, when the server refuses it (HTTP "
                       "400/404/422); false: start at plain JSON mode",
        "tokens_per_variant": "the reply budget per variant asked for: `max_tokens` is 40 "
                              "plus this times the variants of the request (the schema allows "
                              "200 characters a question or answer)",
    },
    "train": {
        "method": ", ".join(f"`{m}`" for m in METHOD_NAMES) + " (`--method` overrides it)",
        "epochs": "epochs of the unlearning run",
        "lr": "learning rate",
        "lora_r": "LoRA rank",
        "lora_alpha": "LoRA alpha",
        "lora_dropout": "LoRA dropout",
        "lora_plus_ratio": "learning-rate multiple of the LoRA B matrices (LoRA+; 1: off)",
        "weight_decay": "AdamW weight decay",
        "warmup_ratio": "share of the steps spent warming the rate up",
        "schedule": "`constant`, or `linear` (decay to 0 over the run)",
        "batch_size": "rows of the primary (forget or relearn) stream a step; the retain "
                      "stream draws as many",
        "grad_accum": "steps whose gradients are summed before one optimiser update",
        "max_length": "longest row in tokens",
        "max_grad_norm": "gradient clipping norm",
        "seed": "seed of the run (same seed, same data, same config: same result)",
        "forget_weight": "weight of the forget (for `relearn`: the sanitised answers') term",
        "retain_weight": "weight of the retain loss",
        "kl_weight": "weight of the KL term to the model with its adapter switched off",
        "value_weight": "weight of the value term (`relearn` only; 0: off), see "
                        "[The value term](#the-value-term)",
        "neighbour_weight": "weight of the neighbour term (`relearn` only; 0: off), see "
                            "[The neighbour term](#the-neighbour-term)",
        "value_nats": "the value term stops pushing once a value's log-probability is below "
                      "minus this",
        "npo_beta": "NPO's beta",
        "yao_ga_weight": "`yao`: weight of gradient ascent on the forget set",
        "yao_random_weight": "`yao`: weight of forget questions trained with random retain "
                             "answers",
        "icu_neighbour_weight": "`icu`: weight of the nearest retain neighbour's loss",
        "icu_kl_weight": "`icu`: weight of the KL term on the neighbour",
        "icu_ma_threshold": "`icu`: a forget sample leaves training once its memorisation "
                            "accuracy is at or below this",
        "stop_when_memorised": "`sft` only (the deployed-model build): stop once this share "
                               "of rows is reproduced",
        "length_buckets": "batch rows of similar length together (less padding), in a "
                          "random order",
        "autocast": "bf16 autocast: true, false, or unset to decide as described under "
                    "[Numerics](#numerics-cpu-gpu-several-gpus)",
        "quantization": "`4bit` or `8bit`: load the base through bitsandbytes (QLoRA, CUDA)",
        "device": "`auto`, `cpu` or `cuda`",
        "target_modules": "the layers given LoRA adapters (`all-linear`: every linear layer "
                          "but the output head)",
        "merge": "write the merged model besides the adapter (the adapter alone is not "
                 "erasure)",
        "qat_bits": "quantisation-aware steps at 4 (NF4) or 8 (int8) bits; 0: off, see "
                    "[Quantisation-aware steps](#quantisation-aware-steps)",
        "qat_every": "every this many-th step is quantisation-aware",
        "qat_retain": "a quantisation-aware step computes the retain side too (retain CE, "
                      "KL, neighbours) with the rounded weights; false (relearn only): the "
                      "retain side runs at full precision in a second pass of the step",
        "reference_cache_mb": "MiB of reference logits (adapter off) kept for rows seen "
                              "again instead of computing them again; 0: none",
        "early_stop": "stop at an epoch boundary once no greedy answer to a forget item "
                      "shows a private value and the retain CE and KL are within the two "
                      "bounds below; off: every epoch runs (it checks greedily only, weaker "
                      "than the audit: see [benchmarks](benchmarks.md))",
        "early_stop_ce_ratio": "`early_stop`: retain CE under the adapter at most this "
                               "multiple of the reference's",
        "early_stop_kl": "`early_stop`: mean per-token KL(p_ref || p_theta) on retain rows at "
                         "most this many nats",
    },
    "audit": {
        "max_new_tokens": "tokens of each greedy answer",
        "batch_size": "rows generated together",
        "leak_samples": "answers sampled per forget probe for the leak rate (k)",
        "temperature": "sampling temperature of the leak probes",
        "leak_max_new_tokens": "tokens of each sampled answer",
        "leak_groups": "the forget probe groups sampled for leaks: `forget_original`, "
                       "`forget_trained`, `forget_heldout`, `forget_independent`, "
                       "`forget_extraction`",
        "mia_k": "membership inference: share of an answer's lowest-scoring tokens Min-K%++ "
                 "averages",
        "relearn_steps": "optimiser steps of the relearning attack's LoRA fine-tune (the "
                         "after audit; see [metrics](metrics.md#relearning-attack))",
        "relearn_lr": "learning rate of the relearning attack's fine-tune",
        "quant_bits": "precisions of the quantisation re-check (empty: no re-check)",
        "quant_backend": "`auto`, `bitsandbytes`, `bnb-weights`, `exact` or `rtn`, see "
                         "[metrics](metrics.md#quantisation-re-check)",
        "nli_model": "directory of a local NLI checkpoint (unset: the entity rule alone "
                     "decides, and the report says so)",
        "seed": "seed of the sampling",
        "use_presidio": "find entities with presidio (spaCy) besides the format rules",
        "skip_unscorable": "leave out of KFR/KRR a probe whose truth has no entity left "
                           "once the question's are dropped (counted apart)",
        "ppl_batch_size": "rows per batch when scoring perplexity for LS",
    },
    "thresholds": {
        "kfr": "KFR (held-out) must be at least this",
        "krr": "KRR must be at least this",
        "ls_ratio": "LS after must be at least this multiple of LS before",
        "leak_rate": "highest leak rate allowed at full precision",
        "leak_rate_4bit": "highest leak rate allowed at 4-bit",
        "leak_rate_8bit": "highest leak rate allowed at 8-bit; unset (the default): reported, "
                          "gates nothing",
        "kfr_independent": "KFR on the `independent` probe family must be at least this "
                           "(`\"off\"`: reported, gates nothing; so for every optional bar)",
        "kfr_extraction": "KFR on the `extraction` probe family must be at least this",
        "leak_rate_independent": "highest leak rate allowed on the `independent` family",
        "leak_rate_extraction": "highest leak rate allowed on the `extraction` family",
        "leak_rate_4bit_worst": "highest 4-bit leak rate allowed on the worst probe family",
        "mia_auc": "highest membership-inference AUC allowed after unlearning (0.5: chance); "
                   "unset (the default) or `\"off\"`: reported, gates nothing",
        "relearn_recovery": "highest share of facts a relearning attack may bring back above "
                            "what the same attack brings back on the base model",
    },
    "probes": {
        "subject_probes": "retain probes drawn from other people's facts (at most half of "
                          "those the corpus has: the rest trains)",
        "generic_probes": "retain probes drawn from the corpus's other pairs (at most half of "
                          "them)",
        "trained_per_fact": "trained variants asked back per fact",
        "retain_train_size": "retain rows each step samples from (steps do not grow with it)",
        "original_question_answers": "approved answers each original question is trained "
                                     "with, taken from the forward items (a reverse item's "
                                     "refusal to name anyone answers another question)",
        "seed": "seed of the probe draw",
        "independent_per_fact": "frame questions per fact in the `independent` family "
                                "(the operator's own probe questions are asked besides)",
        "extraction": "ask the `extraction` family (forced prefix, few-shot, raw completion, "
                      "jailbreak system prompt)",
        "membership_decoys": "answers with fictional values each fact's original answer is "
                             "compared with, for membership inference (0: none)",
    },
}

_TYPE_WORDS = {
    "str": "string", "int": "integer", "float": "number", "bool": "true/false",
    "Path": "path", "None": "unset", "tuple[str, ...]": "list of strings",
    "tuple[int, ...]": "list of integers", "Mapping[str, Any]": "table",
}


def type_words(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(
        annotation, "__name__", str(annotation))
    return " or ".join(_TYPE_WORDS.get(part.strip(), part.strip()) for part in text.split("|"))


def toml_value(value: Any) -> str:
    """A default as it would be written in the deployment file."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def settings_table(section: str, cls: type) -> str:
    meanings = MEANINGS.get(section, {})
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    missing = [n for n in names if n not in meanings]
    stale = [n for n in meanings if n not in names]
    if missing or stale:
        raise DocsError(
            f"[{section}] ({cls.__name__}): "
            + "; ".join(filter(None, [
                missing and f"no meaning for {', '.join(missing)}",
                stale and f"a meaning for {', '.join(stale)}, which {cls.__name__} lacks"]))
            + f": edit MEANINGS in {Path(__file__).relative_to(ROOT)}")
    # [train] starts from the default method's own defaults (engine.train.config)
    own = with_method_defaults({}) if section == "train" else {}
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for f in fields:
        default = toml_value(own.get(f.name, field_default(f))).replace("|", "\\|")
        rows.append(f"| `{f.name}` | {type_words(f.type)} | `{default}` | "
                    f"{meanings[f.name]} |")
    source = sys.modules[cls.__module__].__file__ or ""
    where = Path(source).resolve().relative_to(ROOT)
    rows.append("")
    rows.append(f"From `{cls.__name__}` in `{where}`.")
    if own:
        rows[-1] = (f"From `{cls.__name__}` and `METHOD_DEFAULTS` in `{where}`: a key the "
                    "section leaves out takes its method's default, then the dataclass's. "
                    "The defaults above are `relearn`'s; the others':")
        rows.append("")
        alike: dict[str, list[str]] = {}
        for method, values in METHOD_DEFAULTS.items():
            if method != TrainConfig.method:
                text = ", ".join(f"`{k} = {toml_value(v)}`" for k, v in values.items())
                alike.setdefault(text, []).append(f"`{method}`")
        rows += [f"- {', '.join(methods)}: {text}" for text, methods in alike.items()]
    return "\n".join(rows)


def options_table(key: str, func: Any) -> str:
    """The keyword options of ``func`` (a backend's constructor) with their defaults and
    meanings, as :func:`settings_table` does for a dataclass."""
    import inspect

    meanings = MEANINGS.get(key, {})
    params = [p for p in inspect.signature(func).parameters.values() if p.name != "self"]
    names = [p.name for p in params]
    missing = [n for n in names if n not in meanings]
    stale = [n for n in meanings if n not in names]
    if missing or stale:
        raise DocsError(f"{key}: no meaning for {missing}, or a meaning for {stale} which "
                        f"{func.__name__} lacks: edit MEANINGS in "
                        f"{Path(__file__).relative_to(ROOT)}")
    rows = ["| option | type | default | meaning |", "|---|---|---|---|"]
    for p in params:
        default = toml_value(p.default).replace("|", "\\|")
        rows.append(f"| `{p.name}` | {type_words(p.annotation)} | `{default}` | "
                    f"{meanings[p.name]} |")
    where = Path(sys.modules[func.__module__].__file__ or "").resolve().relative_to(ROOT)
    rows += ["", f"From `{func.__name__}` in `{where}`."]
    return "\n".join(rows)


def openai_options() -> str:
    from engine.augment.openai_backend import OpenAIBackend

    return options_table("augment.openai", OpenAIBackend)


def cell(text: str) -> str:
    """Plain text made safe for a Markdown table cell."""
    for ch in "\\|*<>":
        text = text.replace(ch, "\\" + ch)
    return text


def keys_block() -> str:
    """The keys of every screen, as the help screen lists them."""
    from relearn_tui.tui.keys import key_sections

    out: list[str] = []
    for title, keys in key_sections():
        out += [f"**{title}**", "", "| Key | Action |", "|---|---|"]
        out += [f"| `{key}` | {cell(what)} |" for key, what in keys]
        out.append("")
    return "\n".join(out).rstrip("\n")


AUGMENT_RESULTS = ROOT / "bench" / "results" / "augment_quality.json"


def _regenerated(r: dict[str, Any]) -> int:
    return sum(k["regenerated"] for k in r["per_kind"].values())


def bench_result(path: Path, script: str | None = None) -> tuple[dict[str, Any], str]:
    """A committed bench result and its opening words: "Run on <date> at commit <c>, on <CPU>
    (<features>)". ``script``: the bench that writes it (default: the file's name)."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        raise DocsError(f"{where}: cannot be read ({exc}); run bench/{script or path.stem}.py "
                        "first") from None
    hw = data.get("hardware") or {}
    features = ", ".join(hw.get("cpu_features") or []) or "no AVX-512 or bf16 features"
    return data, (f"Run on {data.get('date', 'an unrecorded date')} at commit "
                  f"{data.get('commit') or 'unrecorded'}, on "
                  f"{hw.get('cpu', 'an unrecorded CPU')} ({features})")


def augment_samples_block() -> str:
    """``bench/augment_quality.py``'s last committed result: when, where, per scenario and kind
    the figures, and the sampled variants, as the script prints them."""
    data, opening = bench_result(AUGMENT_RESULTS)
    scenarios = data["scenarios"]
    redrawn = "; ".join(f"{_regenerated(r)} of {r['items']} items of {name.split(' (')[0]}"
                        for name, r in scenarios.items())
    out = [f"{opening}; seed {data['seed']}, {data['backend']} backend, presidio "
           f"{'on' if data['presidio'] else 'off'}. Regenerated after failing the leak or the "
           f"meaning check on the first draft: {redrawn}."]
    for name, r in scenarios.items():
        out += ["", f"## {name}: {r['facts']} facts, {r['items']} items, {r['seconds']} s", "",
                "| kind | variants per fact | flagged share | meaning-check pass rate | "
                "regenerated |", "|---|---|---|---|---|"]
        for kind, k in r["per_kind"].items():
            rate = "-" if k["meaning_pass_rate"] is None else f"{k['meaning_pass_rate']:.3f}"
            if kind == "completion":
                rate = "n/a (openings are checked for leaks)"
            out.append(f"| {kind} | {k['variants_per_fact']:.2f} | {k['flagged_share']:.3f} | "
                       f"{rate} | {k['regenerated']} |")
        if r["flag_reasons"]:
            out += ["", "Flag reasons: " + "; ".join(f"{why} ({n})"
                                                     for why, n in r["flag_reasons"].items())]
        if r["facts_with_fewer"]:
            out += ["", "Facts with fewer variants, by kind: " + ", ".join(
                f"{kind} {n}" for kind, n in r["facts_with_fewer"].items()) + "; why: " + "; ".join(
                f"{why} ({n})" for why, n in r["fewer_reasons"].items())]
        out += ["", f"{len(r['sample'])} variants, sampled across kinds:", ""]
        for i, v in enumerate(r["sample"], 1):
            flag = f"  [flagged: {'; '.join(v['reasons'])}]" if v["flagged"] else ""
            out += [f"{i}. ({v['kind']}) Q: {v['question']}", f"   A: {v['answer']}{flag}"]
    return "\n".join(out)


METHOD_RESULTS = ROOT / "bench" / "results" / "methods.json"


def _num(x: Any, digits: int = 2) -> str:
    return fmt(x, digits)


def methods_block() -> str:
    """``bench/methods.py``'s last committed result: when, where, on what data and probes; the
    greedy screen of every method (figures that need no sampling) and, where the run audited
    them fully, the sampled leak rates, the adversarial figures and the verdict."""
    data, opening = bench_result(METHOD_RESULTS)
    bf16 = {e.get("bf16_autocast") for e in data.get("screen", []) if e["method"] != "(before)"}
    bf16_words = {frozenset({True}): "on", frozenset({False}): "off"}.get(
        frozenset(bf16), "on for some methods, off for others")
    td, probes = data["train_data"], data["probe_counts"]
    out = [f"{opening}, {data.get('torch_threads')} torch threads; training's bf16 "
           f"autocast {bf16_words}. Deployment `{Path(data['deployment']).name}`; training "
           f"data: {td['forget']} forget, {td['relearn']} relearn and {td['retain']} retain "
           f"rows; probes: " + ", ".join(f"{g} {n}" for g, n in probes.items()) + "."]
    if data.get("screen"):
        out += ["", "Greedy answers only (no sampled leak probes, no quantised re-check):", "",
                "| method | settings | KFR held-out | KFR orig | KFR indep | KFR extr | "
                "KFR worst | KRR | KRR other people | KRR generic | LS | LS / before | PPL | "
                "train s |", "|" + "---|" * 14]
        for e in data["screen"]:
            out.append("| " + " | ".join([
                e["method"], settings_text(e["settings"]),
                *(_num(e.get(k)) for k in ("kfr_heldout", "kfr_original", "kfr_independent",
                                           "kfr_extraction", "kfr_worst", "krr",
                                           "krr_subjects", "krr_generic")),
                _num(e.get("ls"), 3), _num(e.get("ls_ratio")), _num(e.get("ppl"), 1),
                _num(e.get("train_s"), 0)]) + " |")
    if data.get("rows"):
        out += ["", f"Audited fully ({data['audit_config'].get('leak_samples')} samples a "
                "leak probe; every probe family; the relearning attack against the base "
                "model), gated with the default thresholds:", "",
                "| method | settings | KFR held-out | KRR | LS | leak | leak 4-bit | "
                "leak extr | leak 4-bit worst | MIA AUC | relearn recovery | train s | "
                "verified |", "|" + "---|" * 13]
        for r in data["rows"]:
            verified = "-" if r.get("passed") is None else ("yes" if r["passed"] else "no")
            out.append("| " + " | ".join([
                r["method"], settings_text(r["settings"]), _num(r.get("kfr_heldout")),
                _num(r.get("krr")), _num(r.get("ls"), 3),
                *(_num(r.get(k)) for k in ("leak_rate", "leak_rate_4bit", "leak_extraction",
                                           "leak_rate_4bit_worst", "mia_auc",
                                           "relearn_recovery")),
                _num(r.get("train_s"), 0), verified]) + " |")
    return "\n".join(out)


# the full mode's result when there is one, else the quick mode's
MAIN_JOB_RESULTS = (ROOT / "bench" / "results" / "main_job.json",
                    ROOT / "bench" / "results" / "main_job-quick.json")


def main_job_result() -> tuple[dict[str, Any], str]:
    """``bench/main_job.py``'s last committed result and its opening words, with what it ran:
    "..., 2 torch threads; quick mode: DSR-2026-0041, epochs=1"."""
    path = next((p for p in MAIN_JOB_RESULTS if p.exists()), MAIN_JOB_RESULTS[0])
    data, opening = bench_result(path, "main_job")
    overrides = ", ".join(f"{k}={v}" for k, v in (data.get("train_overrides") or {}).items())
    ran = f"{data['mode']} mode: {', '.join(data['requests'])}" + (
        f", {overrides}" if overrides else ", the deployment's settings")
    return data, f"{opening}, {data.get('threads')} torch threads; {ran}"


def main_job_block() -> str:
    """The main job's phases, today's way and the new way side by side, and the figures of
    both columns, as ``bench/main_job.py`` printed them."""
    data, opening = main_job_result()
    columns = ", ".join(data["columns"])
    if len(data["columns"]) > 1:
        same = "identical" if data.get("merged_identical") else "not identical"
        columns += f" (merged models {same})"
    return "\n".join([f"{opening}. Columns: {columns}; the audit after includes the "
                      "relearning attack.", "", *data["table"], "",
                      *data.get("figures_table", [])])


def readme_steps_block() -> str:
    """The README's step times: the application's way (the bench's ``new`` column)."""
    data, opening = main_job_result()
    col = data["columns"].get("new") or next(iter(data["columns"].values()))
    phases = col.get("phases", {})
    rows = [("augment and approve", col.get("augment_s"))]
    rows += [(name, phases.get(name, {}).get("seconds")) for name in
             ("audit before", "train", "audit after")]
    rows.append(("run (audits, training, reports)", col.get("run_s")))
    return "\n".join([f"{opening} (`bench/main_job.py`):", "", "| step | seconds |", "|---|---|",
                      *(f"| {name} | {_num(sec, 0)} |" for name, sec in rows)])


def blocks() -> dict[Path, dict[str, Callable[[], str]]]:
    """Which page holds which generated block."""
    deployment = {f"deployment.{name}": (lambda name=name, cls=cls: settings_table(name, cls))
                  for name, cls in section_classes().items()}
    deployment["deployment.augment.openai"] = openai_options
    return {DOCS / "deployment.md": deployment, DOCS / "usage.md": {"keys": keys_block},
            DOCS / "augment_samples.md": {"augment_samples": augment_samples_block},
            DOCS / "benchmarks.md": {"methods": methods_block, "main_job": main_job_block},
            ROOT / "README.md": {"steps": readme_steps_block}}


def fill(text: str, name: str, body: str, where: str = "page") -> str:
    """``text`` with the block ``name`` replaced by ``body``; the markers must be there."""
    start, end = START.format(name=name), END.format(name=name)
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise DocsError(f"{where}: no block {name!r}: put the two lines\n{start}\n{end}\n"
                        "where it belongs")
    return text[: i + len(start)] + "\n" + body + "\n" + text[j:]


def render(path: Path, makers: dict[str, Callable[[], str]], text: str | None = None) -> str:
    """The page at ``path`` (or ``text``) with every block of ``makers`` regenerated."""
    text = path.read_text(encoding="utf-8") if text is None else text
    for name, make in makers.items():
        text = fill(text, name, make(), str(path.relative_to(ROOT)))
    return text


def stale_pages() -> list[Path]:
    return [path for path, makers in blocks().items()
            if render(path, makers) != path.read_text(encoding="utf-8")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relearn_tui.docs_gen",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a page differs from what would be written")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_pages()
            for path in stale:
                print(f"{path.relative_to(ROOT)} is stale: run python -m relearn_tui.docs_gen",
                      file=sys.stderr)
            return 1 if stale else 0
        for path, makers in blocks().items():
            new = render(path, makers)
            if new != path.read_text(encoding="utf-8"):
                path.write_text(new, encoding="utf-8")
                print(f"wrote {path.relative_to(ROOT)}")
    except DocsError as exc:
        print(f"docs_gen: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
