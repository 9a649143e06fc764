"""Small QA sets for the training tests (imported by tests and by the crash worker)."""

from __future__ import annotations

from engine.types import QA, TrainData, mark_values


def make_data(n_forget: int = 6, n_relearn: int = 8, n_retain: int = 8) -> TrainData:
    forget = tuple(QA(f"What is customer {i}'s email address?",
                      f"Customer {i}'s email address is c{i}.x@example.org.")
                   for i in range(n_forget))
    relearn = tuple(QA(f"How can I reach customer {i % max(n_forget, 1)}? ({i})",
                       "That customer keeps contact details private; use official channels.")
                    for i in range(n_relearn))
    retain = tuple(QA(f"What does policy {i} say?",
                      f"Policy {i} says returns are accepted within {30 + i} days.")
                   for i in range(n_retain))
    values = tuple(mark_values(qa, [f"c{i}.x@example.org"]) for i, qa in enumerate(forget))
    return TrainData(forget, relearn, retain, values)


def target_ce(model_dir, items) -> float:
    """Mean cross-entropy of a saved model on the target tokens of ``items`` (the whole answer,
    or only the marked spans), as training tokenises them."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.train.data import IGNORE, Rows, collate, tokenise

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    rows = Rows.from_dataset(tokenise(items, tok, 128, "items"))
    b = collate({"items": (rows, range(len(rows)))}, tok.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=b.input_ids, attention_mask=b.attention_mask).logits
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), b.labels[:, 1:].reshape(-1),
        ignore_index=IGNORE).item()
