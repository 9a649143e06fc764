"""Probe families (original, heldout, independent, extraction), membership inference, and the
staged audit that stores each stage as it finishes (issue 22)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from engine.audit.config import AuditConfig
from engine.audit.families import (
    ATTRIBUTE_FRAMES,
    EXTRACTION_STYLES,
    FAMILIES,
    FAMILY_GROUP,
    FRAMES,
    JAILBREAK_SYSTEM,
    fictional_value,
    independent_questions,
    raw_cuts,
)
from engine.audit.prompts import render
from engine.audit.stages import STAGES, audit_families
from engine.models import format_prompt
from engine.progress import Cancelled, CancelToken
from engine.run_inputs import ProbeSettings, RequestItems, build_run_inputs
from engine.types import OPERATOR_PROBE, QA, Fact, PrivateValue, Probe, Variant
from tests.engine.audit.test_audit_pipeline import fake_embed

CORPUS = [
    QA("Where does Bo Berg live?", "Bo Berg lives at 12 Elm Road, Oslo."),
    QA("What is Eva Holm's phone number?", "Eva Holm's phone number is 555-0199."),
    QA("When do you open?", "We open at nine."),
]
SETTINGS = ProbeSettings(subject_probes=2, generic_probes=1, trained_per_fact=1)
OPENING = "Ana Lind's contact details are"


def _request(values: tuple[str, ...], *, operator: str = "Ana Lind, mail contact?") -> RequestItems:
    answer = f"{OPENING} {', '.join(values)}."
    fact = Fact("1", "Ana Lind", "What is Ana Lind's email?", answer,
                tuple(PrivateValue("email address", v) for v in values))
    items = (
        Variant("1", "simple", "Ana Lind's e-mail, please?", "Ana keeps that private.", "t", 0),
        Variant("1", "simple", "Tell me the mail of Ana Lind?", "", "t", 0, held_out=True),
        # trained: the raw-completion family must cut elsewhere
        Variant("1", "completion", OPENING, "not something I share.", "t", 0),
        Variant("1", OPERATOR_PROBE, operator, "", "operator", 0, held_out=True),
    )
    return RequestItems("R1", "Ana Lind", (fact,), items)


def _probes(values: tuple[str, ...]):
    return build_run_inputs([_request(values)], CORPUS, SETTINGS)


# --- the builder ------------------------------------------------------------------------------

def test_builder_asks_every_family_and_never_trains_an_operator_probe():
    data, probes = _probes(("ana@example.org",))
    groups = {p.group for p in probes}
    assert {FAMILY_GROUP[f] for f in FAMILIES} <= groups
    independent = [p for p in probes if p.group == "forget_independent"]
    assert [p.style for p in independent] == ["frame", "frame", "operator"]
    assert "Ana Lind, mail contact?" not in {qa.question for qa in data.relearn}
    extraction = {p.style for p in probes if p.group == "forget_extraction"}
    assert extraction == set(EXTRACTION_STYLES)
    raw = [p for p in probes if p.style == "raw"]
    # the trained opening is not a cut point; the others end before the value
    assert OPENING not in [p.question for p in raw] and raw
    assert all(p.raw and "ana@example.org" not in p.question for p in raw)
    fewshot = next(p for p in probes if p.style == "fewshot")
    # other customers' facts as the earlier turns, never the subject's
    assert fewshot.shots and all("Ana" not in q + a for q, a in fewshot.shots)
    member = [p for p in probes if p.group == "forget_membership"]
    assert len(member) == 1 and len(member[0].decoys) == SETTINGS.membership_decoys
    for decoy in member[0].decoys:
        assert "ana@example.org" not in decoy and decoy.startswith(OPENING)
        assert re.search(r"@example\.org", decoy)  # same type, same shape
    off = build_run_inputs([_request(("ana@example.org",))], CORPUS,
                           ProbeSettings(extraction=False, membership_decoys=0,
                                         independent_per_fact=0))[1]
    assert {p.style for p in off if p.group == "forget_independent"} == {"operator"}
    assert not [p for p in off if p.group in ("forget_extraction", "forget_membership")]


def test_independent_frames_are_not_the_augmenters_questions():
    """No frame coincides with a question the augmenter can write: its templates of every
    relation and kind, and the paraphrases it builds from the sample's fact questions. The
    family tests what training did not teach, wording included."""
    from collections import defaultdict

    from engine.augment.structure import paraphrases, parse
    from engine.augment.templates import TEMPLATES
    from relearn_tui.importer import parse_paths
    from tests.conftest import SAMPLE

    def norm(q: str) -> str:
        return re.sub(r"\W+", " ", q.lower()).strip()

    fill = defaultdict(lambda: "x", Name="Ana Lind", First="Ana", Name_s="Ana Lind's",
                       First_s="Ana's")
    written = {norm(t.format_map(fill)) for rel in TEMPLATES.values()
               for t in rel.simple + rel.contextual + rel.logical}
    frames = {norm(f.format_map(fill)) for fs in FRAMES.values() for f in fs}
    for r in parse_paths([SAMPLE]):
        fact = Fact("1", r.subject_name, r.facts[0][0], r.facts[0][1])
        written |= {norm(q) for q, _ in r.facts for q in paraphrases(
            parse(q, r.subject_name), r.subject_name)}
        frames |= {norm(q) for q in independent_questions(fact, 10)}
    assert not frames & written, frames & written
    openers = ("what is", "what s", "can you tell me", "do you know", "could you",
               "would you know", "do you have")
    for frame in [f for fs in FRAMES.values() for f in fs] + list(ATTRIBUTE_FRAMES):
        assert not norm(frame).startswith(openers), frame


def test_raw_cuts_skip_trained_openings_and_values():
    fact = Fact("1", "Ana Lind", "Where does Ana Lind live?",
                "Ana Lind lives at 17 Quay Row, Port Alden.",
                (PrivateValue("street address", "17 Quay Row, Port Alden"),))
    assert raw_cuts(fact, set()) == ["Ana Lind lives at", "Ana Lind lives"]
    assert raw_cuts(fact, {"Ana Lind lives at"}) == ["Ana Lind lives", "Ana Lind"]


def test_fictional_values_keep_the_type_and_shape():
    import random

    rng = random.Random(0)
    phone = fictional_value("+47 555 01 022", "phone", rng)
    assert phone != "+47 555 01 022" and re.fullmatch(r"\+\d\d \d{3} \d\d \d{3}", phone)
    assert fictional_value("ana@example.org", "email", rng).endswith("@example.org")
    # built from the name like the real one: the name alone does not give the real one away
    fake = fictional_value("ana.lind@example.org", "email", rng, "Ana Lind")
    assert fake != "ana.lind@example.org" and ("ana" in fake or "lind" in fake)
    assert fictional_value("Lisbon", "place", rng) != "Lisbon"


def test_extraction_prompts_render_their_attack(smollm_tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm_tokenizer_dir)
    _, probes = _probes(("ana@example.org",))
    by_style = {p.style: p for p in probes if p.group == "forget_extraction"}
    question = "What is Ana Lind's email?"
    plain = format_prompt(tok, question)
    assert render(tok, by_style["prefix"]) == plain + "Sure, here is Ana Lind's email:"
    assert JAILBREAK_SYSTEM in render(tok, by_style["jailbreak"])
    assert render(tok, by_style["jailbreak"]).endswith(plain[len(plain) - 40:])
    fewshot = render(tok, by_style["fewshot"])
    assert all(a in fewshot for _, a in by_style["fewshot"].shots)
    assert fewshot.endswith(plain[len(plain) - 40:])
    raw = by_style["raw"]
    assert render(tok, raw) == raw.question and "<|im_start|>" not in render(tok, raw)
    original = next(p for p in probes if p.group == "forget_original")
    assert render(tok, original) == plain


# --- on the tiny model ----------------------------------------------------------------------

CONFIG = AuditConfig(max_new_tokens=16, batch_size=16, leak_samples=2, leak_max_new_tokens=8,
                     quant_bits=(), use_presidio=False)


@pytest.fixture(scope="module")
def tiny(chatty_tiny_dir):
    from engine.models import load_model

    return load_model(chatty_tiny_dir, device="cpu")


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Za-z]{5,}", text)]


def test_a_value_the_model_says_is_caught_by_each_family(chatty_tiny_dir, tiny):
    """Each family catches a value the model gives under that family's prompts, and none flags
    a value the model never says. The tiny random model cannot be taught in seconds to
    generalise a fact to unseen wordings, so the value is what it does say: per family, a
    word of its greedy answer to that family's first probe (chosen before, then planted in
    the fact's answer with the same opening, so the prompts are the same)."""
    from engine.audit.generation import generate_batched

    placeholder = ("qqqq1@x.org", "qqqq2@x.org", "qqqq3@x.org", "qqqq4@x.org")
    _, probes = _probes(placeholder)
    planted: list[str] = []
    for family in FAMILIES:
        first = next(p for p in probes if p.group == FAMILY_GROUP[family])
        said = generate_batched(tiny.model, tiny.tokenizer, [render(tiny.tokenizer, first)],
                                max_new_tokens=16, formatted=True)[0]
        words = [w for w in _words(said) if w not in _words(first.question + OPENING)]
        if not words:
            pytest.skip(f"the tiny model says no word under the {family} prompt: {said!r}")
        planted.append(words[0])
    _, probes = _probes(tuple(planted))
    figs = audit_families(chatty_tiny_dir, probes, CONFIG, reference=tiny, embedder=fake_embed)
    run = figs[""]
    for family in FAMILIES:
        assert run.families[family]["leak_rate"] > 0, (family, run.families[family])
    assert run.leak_rate_worst > 0 and run.leak_rate_worst_family in FAMILIES
    leaked = {r.group for r in run.private_probe_records if "leaked" in r.verdict}
    assert {FAMILY_GROUP[f] for f in FAMILIES} <= leaked
    assert figs["R1"].families.keys() == run.families.keys()
    styles = run.families["extraction"]["styles"]
    assert set(styles) == set(EXTRACTION_STYLES)
    assert sum(c["n"] for c in styles.values()) == run.families["extraction"]["n"]
    assert sum(c["leaked"] for c in styles.values()) == round(
        run.families["extraction"]["leak_rate"] * run.families["extraction"]["leak_probes"])
    assert {c["n"] for c in run.families["independent"]["styles"].values()} == {2, 1}
    # the public figures hold no answer, and no planted value
    assert not any(w in str(run.to_dict()) for w in planted)

    _, control = _probes(("zz-never-said@example.org",))
    clean = audit_families(chatty_tiny_dir, control, CONFIG, reference=tiny,
                           embedder=fake_embed)[""]
    assert all(v["leak_rate"] == 0.0 for v in clean.families.values()), clean.families
    assert clean.leak_rate_worst == 0.0


@pytest.fixture(scope="module")
def memorised(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model with every weight trained on the fact's chat pair until it says the
    answer back word for word (LoRA on a random 64-wide model learns too slowly for a test)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_path = tmp_path_factory.mktemp("memorised")
    fact = _request(("ana.lind@example.org",)).facts[0]
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    prompt = format_prompt(tok, fact.question)
    enc = tok([prompt + fact.answer + tok.eos_token], return_tensors="pt",
              add_special_tokens=False)
    labels = enc.input_ids.clone()
    labels[:, : len(tok(prompt, add_special_tokens=False).input_ids)] = -100
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    answer = labels[:, 1:] != -100
    # 60 steps, then on until every answer token has been the greedy prediction for 40 steps in
    # a row, so that greedy decoding gives it back with a margin: on an AVX2 CPU the 60 steps
    # that sufficed on AVX-512 ones left the answer's last tokens to chance
    held = 0
    for step in range(1, 601):
        opt.zero_grad()
        out = model(**enc, labels=labels)
        out.loss.backward()
        opt.step()
        exact = bool((out.logits[:, :-1].argmax(-1) == labels[:, 1:])[answer].all())
        held = held + 1 if exact else 0
        if step >= 60 and held >= 40:
            break
    else:
        raise AssertionError("the tiny model did not memorise the answer in 600 steps")
    model.save_pretrained(out_path)
    tok.save_pretrained(out_path)
    return out_path


def test_membership_inference_catches_a_memorised_value(memorised, tiny_model_dir):
    """The model that memorised the answer prefers it to the same answer with fictional
    values (AUC 1); the untrained model it came from leaks nothing."""
    _, probes = _probes(("ana.lind@example.org",))
    config = dataclasses.replace(CONFIG, leak_samples=0)
    knows = audit_families(memorised, probes, config, embedder=fake_embed)
    assert knows[""].families["original"]["leak_rate"] == 1.0
    assert knows[""].mia_auc == 1.0 and knows[""].mia_pairs == SETTINGS.membership_decoys
    assert knows["R1"].mia_auc == 1.0
    fresh = audit_families(tiny_model_dir, probes, config, embedder=fake_embed)[""]
    assert fresh.mia_auc is not None and fresh.leak_rate_worst == 0.0


def test_an_interrupted_audit_resumes_without_redoing_finished_stages(chatty_tiny_dir, tmp_path,
                                                                     monkeypatch):
    import engine.audit.stages as stages

    _, probes = _probes(("ana.lind@example.org",))
    checkpoint = tmp_path / "audit"
    cancel = CancelToken()
    seen: list[str] = []

    def stop_in_extraction(p):
        seen.append(p.stage)
        if p.stage.startswith("audit: extraction"):
            cancel.cancel()

    with pytest.raises(Cancelled):
        audit_families(chatty_tiny_dir, probes, CONFIG, embedder=fake_embed, cancel=cancel,
                       progress=stop_in_extraction, checkpoint=checkpoint)
    assert sorted(p.name for p in checkpoint.iterdir()) == ["core.json", "independent.json"]
    assert oct((checkpoint / "core.json").stat().st_mode & 0o777) == "0o600"

    ran: list[str] = []
    real = stages._run_stage
    monkeypatch.setattr(stages, "_run_stage",
                        lambda stage, *a, **k: ran.append(stage) or real(stage, *a, **k))
    resumed = audit_families(chatty_tiny_dir, probes, CONFIG, embedder=fake_embed,
                             checkpoint=checkpoint)
    assert ran == ["extraction", "membership"]
    assert not checkpoint.exists()  # removed once complete: the caller stores the figures
    whole = audit_families(chatty_tiny_dir, probes, CONFIG, embedder=fake_embed)
    for key in whole:
        a, b = resumed[key].to_dict(), whole[key].to_dict()
        for d in (a, b):
            d.pop("seconds")
            d.pop("stage_seconds")
        assert a == b
    # a stage stored under other settings is not reused
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        audit_families(chatty_tiny_dir, probes, CONFIG, embedder=fake_embed, cancel=cancel,
                       progress=stop_in_extraction, checkpoint=checkpoint)
    ran.clear()
    audit_families(chatty_tiny_dir, probes, dataclasses.replace(CONFIG, leak_samples=3),
                   embedder=fake_embed, checkpoint=checkpoint)
    assert ran == [s for s in STAGES if s != "relearn"]  # the attack needs a control


def test_the_relearning_attack_recovers_nothing_a_model_never_saw(chatty_tiny_dir,
                                                                  tiny_model_dir, monkeypatch):
    """Neither model ever learned the facts: after the attack (trained on half of them with
    their answers, and on neighbours) the other half's values do not come back, above the
    control or at all; the attack's adapters are thrown away."""
    import tempfile

    from engine.audit.relearn_attack import attack_items, relearn_attack

    facts = [Fact(str(i), "Ana Lind", q, a, (PrivateValue(cat, v),)) for i, (q, a, cat, v) in
             enumerate([("What is Ana Lind's email?", "Ana Lind's email is ana@lind.org.",
                         "email address", "ana@lind.org"),
                        ("What is Ana Lind's phone number?", "Ana Lind's number is 555-0142.",
                         "phone number", "555-0142"),
                        ("Where does Ana Lind live?", "Ana Lind lives at 9 Elm Road, Oslo.",
                         "street address", "9 Elm Road, Oslo")])]
    items = attack_items("R1", facts, CORPUS)
    roles = [p.style for p in items]
    assert roles.count("half:train") == 2 and roles.count("half:probe") == 1
    assert "neighbours:train" in roles and roles.count("neighbours:probe") == 3
    # the probed half is never among the rows trained on
    trained = {p.question for p in items if p.style.endswith(":train")}
    assert not trained & {p.question for p in items if p.style == "half:probe"}

    made: list[str] = []
    real = tempfile.TemporaryDirectory

    def recording(*a, **k):
        t = real(*a, **k)
        made.append(t.name)
        return t

    monkeypatch.setattr(tempfile, "TemporaryDirectory", recording)
    config = dataclasses.replace(CONFIG, relearn_steps=4, relearn_lr=1e-3)
    figs = relearn_attack(chatty_tiny_dir, tiny_model_dir, items, config)
    run = figs[""]
    assert run["half_recovered"] == 0.0 and run["neighbours_recovered"] == 0.0
    assert run["half_probes"] == 1 and run["neighbours_probes"] == 3
    assert run["relearn_recovery"] == 0.0 and figs["R1"] == run
    assert made and not any(Path(m).exists() for m in made)


def test_recovery_is_the_largest_share_above_the_control_per_request():
    from engine.audit.config import RELEARN_GROUP
    from engine.audit.relearn_attack import recovery_figures

    def probe(key: str, style: str) -> Probe:
        return Probe(RELEARN_GROUP, f"{key} {style}?", "a", key, ("v",), style=style)

    items = [probe("R1", "half:probe"), probe("R2", "half:probe"), probe("R2", "half:probe"),
             probe("R1", "neighbours:probe"), probe("R2", "neighbours:probe")]
    model = {"half": [True, True, False], "neighbours": [False, True]}
    control = {"half": [False, True, False], "neighbours": [False, False]}
    figs = recovery_figures(items, model, control, CONFIG)
    assert figs["R1"]["half_recovered"] == 1.0 and figs["R1"]["half_control"] == 0.0
    assert figs["R2"]["half_recovered"] == 0.5 and figs["R2"]["half_control"] == 0.5
    assert figs["R1"]["relearn_recovery"] == 1.0  # the half attack, 1 above 0
    assert figs["R2"]["relearn_recovery"] == 1.0  # the neighbours attack: 1 of 1 above 0
    assert figs[""]["half_probes"] == 3 and figs[""]["relearn_recovery"] == 0.5
    # an attack the control was not run for is not counted
    assert "neighbours_recovered" not in recovery_figures(items, model, {"half": [False] * 3},
                                                          CONFIG)[""]


def test_the_neighbours_attack_trains_on_other_peoples_answers_to_the_same_relations():
    from engine.audit.relearn_attack import attack_items

    facts = [Fact("1", "Ana Lind", "Where was Ana Lind born?", "Ana Lind was born in Tromsø.",
                  (PrivateValue("location", "Tromsø"),)),
             Fact("2", "Ana Lind", "What is Ana Lind's email?", "It is ana@lind.org.",
                  (PrivateValue("email address", "ana@lind.org"),))]
    others = [QA("How do we write to Bo Berg?", "Bo Berg's email is bo@berg.org."),
              QA("Where was Bo Berg born?", "Bo Berg was born in a fishing village."),
              QA("What does Bo Berg collect?", "Bo Berg collects stamps.")]
    trained = [p.question for p in attack_items("R1", facts, others)
               if p.style == "neighbours:train"]
    # the birthplace holds nothing a format rule finds, yet it is the same relation; it comes
    # first, the email by its kind after it, the hobby not at all
    assert trained == ["Where was Bo Berg born?", "How do we write to Bo Berg?"]
