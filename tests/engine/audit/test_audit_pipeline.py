"""The audit's model paths on a tiny random Llama: generation, perplexity, leaks, quantisation."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from engine.audit import AuditConfig, audit_model, generate_batched, perplexities
from engine.audit.quantize import (
    BACKEND_BNB,
    BACKEND_BNB_WEIGHTS,
    BACKEND_EXACT,
    BACKEND_RTN,
    RTN_GROUP,
    load_quantized,
)
from engine.models import load_model
from engine.progress import Cancelled, CancelToken
from engine.types import Probe

QUESTIONS = [
    "What is Isabella Marquez's email address?",
    "Where does Tobias Lindqvist live?",
    "How long do I have to return an item?",
    "Hi",
    "Do you offer free shipping on orders over 75 dollars within the continental United States?",
]


@pytest.fixture(scope="module")
def tiny(chatty_tiny_dir):
    return load_model(chatty_tiny_dir, device="cpu")


def fake_embed(texts):
    """Deterministic stand-in for MiniLM in tests that exercise the model paths, not matching:
    identical strings get identical unit vectors, different ones near-orthogonal vectors."""
    out = []
    for t in texts:
        rng = np.random.default_rng(abs(hash(t)) % (2**32))
        v = rng.normal(size=64)
        out.append(v / np.linalg.norm(v))
    return np.array(out)


def test_batched_greedy_matches_one_by_one(tiny):
    batched = generate_batched(tiny.model, tiny.tokenizer, QUESTIONS, max_new_tokens=12,
                               batch_size=4)
    single = [generate_batched(tiny.model, tiny.tokenizer, [q], max_new_tokens=12,
                               batch_size=1)[0] for q in QUESTIONS]
    assert all(batched), "the test model must say something for the comparison to mean much"
    assert batched == single
    assert all(isinstance(a, str) for a in batched)


def test_sampling_returns_k_answers_and_is_seeded(tiny):
    a = generate_batched(tiny.model, tiny.tokenizer, QUESTIONS[:3], max_new_tokens=8,
                         batch_size=6, do_sample=True, num_return_sequences=3, seed=1)
    b = generate_batched(tiny.model, tiny.tokenizer, QUESTIONS[:3], max_new_tokens=8,
                         batch_size=6, do_sample=True, num_return_sequences=3, seed=1)
    c = generate_batched(tiny.model, tiny.tokenizer, QUESTIONS[:3], max_new_tokens=8,
                         batch_size=6, do_sample=True, num_return_sequences=3, seed=2)
    assert [len(x) for x in a] == [3, 3, 3]
    assert a == b
    assert a != c
    # pure sampling from a random model: the k answers to one question differ
    assert len(set(a[0])) > 1


def test_generation_stops_when_cancelled(tiny):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        generate_batched(tiny.model, tiny.tokenizer, QUESTIONS, max_new_tokens=4, cancel=token)


def test_batched_perplexity_matches_the_model_loss(tiny):
    import torch

    from engine.models import format_prompt

    responses = ["Her email is private.", "", "Within 60 days of purchase, with the receipt."]
    got = perplexities(tiny.model, tiny.tokenizer, QUESTIONS[:3], responses, batch_size=8)
    assert got[1] is None
    for q, r, ppl in zip(QUESTIONS[:3], responses, got, strict=True):
        if not r:
            continue
        tok = tiny.tokenizer
        prompt = tok(format_prompt(tok, q), add_special_tokens=False).input_ids
        answer = tiny.tokenizer(r, add_special_tokens=False).input_ids
        ids = torch.tensor([prompt + answer])
        labels = ids.clone()
        labels[0, : len(prompt)] = -100
        with torch.no_grad():
            loss = tiny.model(input_ids=ids, labels=labels).loss
        assert ppl == pytest.approx(math.exp(float(loss)), rel=1e-4)


def test_rtn_quantised_model_has_few_levels(chatty_tiny_dir):
    loaded, backend, _ = load_quantized(chatty_tiny_dir, 4, backend="rtn")
    assert backend == BACKEND_RTN
    w = loaded.model.model.layers[0].mlp.up_proj.weight.detach()
    for group in w.reshape(w.shape[0], -1, RTN_GROUP)[:4].reshape(-1, RTN_GROUP):
        assert len(set(group.tolist())) <= 16


def _kernels_or_skip(bits: int) -> None:
    """Skip, saying why, where bitsandbytes' own quantiser is outside the format here."""
    from engine.audit.quantize import self_check

    found = self_check(BACKEND_BNB, bits)
    if not found.passed:
        pytest.skip(f"bitsandbytes' {bits}-bit path on this CPU: {found.describe()}")


def test_bitsandbytes_runs_on_this_machine(chatty_tiny_dir, tiny):
    """docs/design.md §5.5: bitsandbytes' kernels run on CPU where they pass their self-check;
    where they do not, the kernel backend is refused and the test says so in its skip reason."""
    import torch
    from bitsandbytes.nn import Linear4bit, Linear8bitLt

    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        ref = tiny.model(input_ids=ids).logits
    for bits, cls in ((8, Linear8bitLt), (4, Linear4bit)):
        _kernels_or_skip(bits)
        loaded, backend, note = load_quantized(chatty_tiny_dir, bits, backend="bitsandbytes")
        assert backend == BACKEND_BNB
        assert "self-check passed" in note
        assert isinstance(loaded.model.model.layers[0].self_attn.q_proj, cls)
        with torch.no_grad():
            got = loaded.model(input_ids=ids).logits
        assert torch.isfinite(got).all()
        # quantised, not identical, but the same function
        assert not torch.equal(got, ref)
        assert torch.corrcoef(torch.stack([got.flatten(), ref.flatten()]))[0, 1] > 0.95


def test_bnb_weights_are_the_weights_the_4bit_kernel_uses(chatty_tiny_dir):
    """The CPU default re-check holds, in float, what bitsandbytes' nf4 layer stores."""
    import bitsandbytes.functional as bf
    import torch

    _kernels_or_skip(4)
    real, _, _ = load_quantized(chatty_tiny_dir, 4, backend="bitsandbytes")
    sim, backend, _ = load_quantized(chatty_tiny_dir, 4, backend="bnb-weights")
    assert backend == BACKEND_BNB_WEIGHTS
    layer = real.model.model.layers[0].self_attn.q_proj
    kernel_weights = bf.dequantize_4bit(layer.weight.data, layer.weight.quant_state).float()
    assert torch.allclose(sim.model.model.layers[0].self_attn.q_proj.weight, kernel_weights,
                          atol=1e-6)


def test_bnb_weights_follow_the_formats(chatty_tiny_dir):
    """Whatever the CPU: each re-check weight is on the format's levels within its bound."""
    import torch

    from engine.quant_formats import check

    base = load_model(chatty_tiny_dir, device="cpu")
    for bits, layer in ((4, "self_attn.q_proj"), (8, "mlp.up_proj")):
        loaded, backend, note = load_quantized(chatty_tiny_dir, bits, backend="bnb-weights")
        assert backend == BACKEND_BNB_WEIGHTS and "every layer within the bound" in note
        got = loaded.model.get_submodule(f"model.layers.0.{layer}").weight
        w = base.model.get_submodule(f"model.layers.0.{layer}").weight
        assert not torch.equal(got, w)
        assert check(got, w, bits).passed


def test_auto_backend_on_cpu_is_self_checked(chatty_tiny_dir):
    from engine.audit.quantize import self_check

    _, backend, note = load_quantized(chatty_tiny_dir, 4)
    want = BACKEND_BNB_WEIGHTS if self_check(BACKEND_BNB_WEIGHTS, 4).passed else BACKEND_EXACT
    assert backend == want
    assert "self-check" in note


def _first_word(text: str) -> str | None:
    found = [w for w in re.findall(r"[A-Za-z]{4,}", text)]
    return found[0] if found else None


def test_audit_model_end_to_end_on_tiny(chatty_tiny_dir, tiny):
    greedy = generate_batched(tiny.model, tiny.tokenizer, QUESTIONS[:2], max_new_tokens=16)
    planted = [_first_word(g) for g in greedy]
    assert all(planted), f"tiny model produced no word to plant: {greedy}"
    probes = [
        # its own greedy answer holds the "private value": must count as a leak
        Probe("forget_original", QUESTIONS[0], "Her email is isabella.marquez@example.org.",
              "R1", (planted[0],)),
        Probe("forget_heldout", QUESTIONS[1], "Tobias lives at 17 Orchard Street, Fairhaven.",
              "R2", ("zz-never-said-value@example.org",)),
        Probe("forget_trained", QUESTIONS[1], "Tobias lives at 17 Orchard Street, Fairhaven.",
              "R2", (planted[1],)),
        Probe("retain_subjects", "Where does Amara Okafor live?",
              "Amara Okafor lives at 305 Willow Avenue, Brookdale."),
        Probe("retain_generic", QUESTIONS[2], "Use the tracking link."),  # no entity: unscorable
        # a fact R2's person keeps: counted in R2's figures and the run's, not in R1's
        Probe("retain_own", "Which club does Tobias coach?",
              "His club is at 12 Harbour Road, Fairhaven.", "R2"),
    ]
    events = []
    config = AuditConfig(max_new_tokens=16, batch_size=8, leak_samples=2, leak_max_new_tokens=8,
                         quant_bits=(8, 4), use_presidio=False)
    figs = audit_model(chatty_tiny_dir, probes, config, reference=tiny, progress=events.append,
                       embedder=fake_embed)
    assert set(figs) == {"", "R1", "R2"}
    run, r1, r2 = figs[""], figs["R1"], figs["R2"]
    assert r1.leak_rate == 1.0
    assert r2.groups["forget_heldout"].leak_rate == 0.0
    assert r2.groups["forget_trained"].leak_rate == 1.0
    assert run.leak_rate == pytest.approx(2 / 3)
    assert run.leak_rate_8bit is not None and run.leak_rate_4bit is not None
    assert set(run.quant_backends) == {"8bit", "4bit"}
    assert all("self-check" in run.quant_checks[p] for p in ("8bit", "4bit"))
    # a random model knows nothing: everything forgotten, nothing retained
    assert r2.kfr == 1.0 and r2.kfr_basis == "forget_heldout"
    assert r1.kfr_basis == "forget_all"     # R1 has no held-out probe
    assert run.krr == 0.0
    assert run.groups["retain_generic"].n_unscorable == 1
    assert run.groups["retain_generic"].rate is None
    assert run.n_forget == 3 and r1.n_forget == 1 and r1.n_retain == 2
    assert r2.n_retain == 3 and run.n_retain == 3
    assert r2.krr_own == 0.0 and run.krr_own == 0.0 and r1.krr_own is None
    assert run.ls is not None and run.ppl is not None and run.ppl > 1.0
    assert run.ppl_reference == tiny.source
    assert not run.nli_used and "entity rule only" in run.judge
    # failures are kept, privately; the public dict holds no output text
    verdicts = {(r.request_key, r.group): r.verdict for r in run.private_probe_records}
    assert verdicts[("R1", "forget_original")] == "leaked"
    assert verdicts[("", "retain_subjects")] == "not retained"
    assert planted[0] not in str(run.to_dict())
    stages = {e.stage for e in events}
    assert {"audit: answers", "audit: leak probes", "audit: leak probes (4-bit)",
            "audit: perplexity", "audit: scoring"} <= stages


def test_audit_rejects_bad_probes(chatty_tiny_dir):
    with pytest.raises(ValueError, match=r"probes\[0\]\.group"):
        audit_model(chatty_tiny_dir, [Probe("forget", "q?", "a")], AuditConfig())
    with pytest.raises(ValueError, match=r"probes\[1\]\.truth is empty"):
        audit_model(chatty_tiny_dir, [Probe("forget_original", "q?", "a", "R"),
                                     Probe("forget_original", "q?", " ", "R")], AuditConfig())
    with pytest.raises(ValueError, match=r"probes\[0\]\.request_key: retain_own probes belong"):
        audit_model(chatty_tiny_dir, [Probe("retain_own", "q?", "a")], AuditConfig())
    with pytest.raises(ValueError, match=r"probes\[0\]\.request_key: retain_subjects probes are"):
        audit_model(chatty_tiny_dir, [Probe("retain_subjects", "q?", "a", "R")], AuditConfig())


def test_a_value_seen_only_in_a_later_sample_is_a_leak(chatty_tiny_dir, tiny):
    """Sampling stops early for probes that already leaked, so a leak must still be found when
    it shows up only in the second round of samples (the probe's 3rd..k-th answers)."""
    from engine.audit.runner import _leak_pass

    question = QUESTIONS[0]
    config = AuditConfig(leak_samples=6, leak_max_new_tokens=8, batch_size=8)
    greedy = generate_batched(tiny.model, tiny.tokenizer, [question], max_new_tokens=16)[0]
    first = generate_batched(tiny.model, tiny.tokenizer, [question], max_new_tokens=8,
                             batch_size=8, do_sample=True, num_return_sequences=2,
                             seed=config.seed)[0]
    later = generate_batched(tiny.model, tiny.tokenizer, [question], max_new_tokens=8,
                             batch_size=8, do_sample=True, num_return_sequences=4,
                             seed=config.seed + 1)[0]
    seen_before = set(re.findall(r"[A-Za-z]{4,}", greedy + " " + " ".join(first)))
    fresh = [w for w in re.findall(r"[A-Za-z]{4,}", " ".join(later)) if w not in seen_before]
    if not fresh:
        pytest.skip("the tiny model's later samples repeat its earlier words")
    # one probe per pass, so that each round's batch is exactly the generation above
    for value, expected in ((fresh[0], True), ("zz-never-said@example.org", False)):
        probe = Probe("forget_heldout", question, "Her email is x@example.org.", "R1", (value,))
        leaked = _leak_pass(tiny, [probe], [0], config, greedy=[greedy], stage="leak",
                            progress=lambda p: None, cancel=None)
        assert leaked == {0: expected}
