"""The audit's own decoding loop against ``model.generate``: same greedy answers, rows that stop
leave the batch without changing the others, one prompt's k samples come from its one cache."""

from __future__ import annotations

import pytest
import torch

import engine.audit.generation as generation
from engine.audit.generation import _decode, _encode, generate_batched, hf_generate_path
from engine.models import format_prompt, load_model

QUESTIONS = [
    "What is Amara Okafor's email address?",
    "Where does Isabella Marquez live?",
    "What is the return policy for items bought in a sale?",
    "Hi",
    "How long does shipping to Canada take, and what does it cost for a parcel of five kilos?",
]


@pytest.fixture(scope="module")
def tiny(chatty_tiny_dir):
    return load_model(chatty_tiny_dir, device="cpu")


def test_greedy_answers_equal_generate(tiny):
    own = generate_batched(tiny.model, tiny.tokenizer, QUESTIONS, max_new_tokens=16,
                           batch_size=3)
    with hf_generate_path():
        hf = generate_batched(tiny.model, tiny.tokenizer, QUESTIONS, max_new_tokens=16,
                              batch_size=3)
    assert own == hf
    assert any(a for a in own)  # the chatty model says something, so the comparison means one


def _hf_new_tokens(tiny, enc, stop, max_new):
    out = tiny.model.generate(**enc, max_new_tokens=max_new, do_sample=False, num_beams=1,
                              eos_token_id=stop, pad_token_id=stop[0])
    return out[:, enc.input_ids.shape[1]:].tolist()


def test_rows_that_stop_leave_without_changing_the_others(tiny):
    tok = tiny.tokenizer
    enc = _encode(tok, [format_prompt(tok, q) for q in QUESTIONS])
    max_new = 12
    with torch.inference_mode():
        free = _decode(tiny.model, enc.input_ids, enc.attention_mask, max_new_tokens=max_new,
                       copies=1, do_sample=False, temperature=1.0, stop=[-1])
    # stop ids chosen so that rows end at different steps: what the first row says third and
    # what the second says sixth
    stop = [free[0][2], free[1][5]]
    with torch.inference_mode():
        own = _decode(tiny.model, enc.input_ids, enc.attention_mask, max_new_tokens=max_new,
                      copies=1, do_sample=False, temperature=1.0, stop=stop)
        hf = _hf_new_tokens(tiny, enc, stop, max_new)
    lengths = {len(r) for r in own}
    assert len(lengths) > 1  # some rows did stop early
    for mine, theirs in zip(own, hf, strict=True):
        # generate pads a finished row to the batch's end; ours just ends it
        assert theirs[: len(mine)] == mine
        assert all(t == stop[0] for t in theirs[len(mine):])


def test_k_samples_share_the_prompt_cache(tiny):
    tok = tiny.tokenizer
    # at a vanishing temperature sampling is greedy: each copy must give the greedy answer,
    # which it can only do if its copy of the prompt's cache is that prompt's
    greedy = generate_batched(tiny.model, tok, QUESTIONS, max_new_tokens=10)
    cold = generate_batched(tiny.model, tok, QUESTIONS, max_new_tokens=10, do_sample=True,
                            temperature=1e-6, num_return_sequences=4, batch_size=8)
    assert all(group == [g] * 4 for g, group in zip(greedy, cold, strict=True))
    # at temperature 1 the copies are independent draws
    hot = generate_batched(tiny.model, tok, QUESTIONS, max_new_tokens=10, do_sample=True,
                           temperature=1.0, num_return_sequences=4, batch_size=8, seed=3)
    assert all(len(set(group)) > 1 for group in hot)
    again = generate_batched(tiny.model, tok, QUESTIONS, max_new_tokens=10, do_sample=True,
                             temperature=1.0, num_return_sequences=4, batch_size=8, seed=3)
    assert again == hot  # seeded


def test_sampled_tokens_follow_the_model_distribution(tiny):
    """Own sampling draws from softmax(logits / T), as generate does: over 400 draws the share of
    the first token falling in the set S of most probable tokens that carry half the mass is
    within 5 standard deviations of p(S), for both paths (the test a wrong temperature, a stale
    cache copy or a shifted position fails)."""
    tok = tiny.tokenizer
    enc = _encode(tok, [format_prompt(tok, QUESTIONS[0])])
    temperature = 0.7
    with torch.inference_mode():
        logits = tiny.model(**enc).logits[0, -1].float()
    p = torch.softmax(logits / temperature, dim=-1)
    ranked = p.argsort(descending=True)
    cut = int((p[ranked].cumsum(0) < 0.5).sum()) + 1
    top = set(ranked[:cut].tolist())
    p_top = float(p[ranked[:cut]].sum())
    n = 400
    tolerance = 5 * (p_top * (1 - p_top) / n) ** 0.5
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(11)
        own = _decode(tiny.model, enc.input_ids, enc.attention_mask, max_new_tokens=1,
                      copies=n, do_sample=True, temperature=temperature, stop=[-1])
        hf = tiny.model.generate(**enc, max_new_tokens=1, do_sample=True,
                                 temperature=temperature, top_k=0, top_p=1.0,
                                 num_return_sequences=n, pad_token_id=0)
    own_share = sum(r[0] in top for r in own) / n
    hf_share = sum(int(t) in top for t in hf[:, -1]) / n
    assert abs(own_share - p_top) < tolerance, (own_share, p_top)
    assert abs(hf_share - p_top) < tolerance, (hf_share, p_top)
    assert generation._USE_HF_GENERATE is False
