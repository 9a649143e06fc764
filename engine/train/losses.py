"""The loss terms every method is built from, on answer tokens only.

A :class:`StreamOut` holds, for one data stream of a step, the logits at the positions whose next
token is an answer token (prompt and padding never reach the head), the target tokens, which row
each token came from, and, when the method asked for it, the reference logits of the same model
with its adapter disabled.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class StreamOut:
    logits: torch.Tensor  # [T, V] fp32, T = answer tokens of the stream's rows
    labels: torch.Tensor  # [T]
    rows: torch.Tensor  # [T] row of each token within the stream, 0..n_rows-1
    n_rows: int
    ref_logits: torch.Tensor | None = None  # [T, V], no grad

    @property
    def empty(self) -> bool:
        return self.labels.numel() == 0


def _zero(out: StreamOut) -> torch.Tensor:
    # keeps the graph connected so that every rank of a DDP run backpropagates through the model
    return out.logits.sum() * 0.0


def ce(out: StreamOut) -> torch.Tensor:
    """Mean next-token cross-entropy over the stream's answer tokens."""
    if out.empty:
        return _zero(out)
    return F.cross_entropy(out.logits, out.labels)


def kl_to_reference(out: StreamOut) -> torch.Tensor:
    """KL(p_ref || p_theta) per answer token, averaged over tokens."""
    if out.ref_logits is None:
        raise RuntimeError("kl_to_reference needs the stream's reference logits")
    if out.empty:
        return _zero(out)
    log_q = F.log_softmax(out.logits, dim=-1)
    log_p = F.log_softmax(out.ref_logits.float(), dim=-1)
    return F.kl_div(log_q, log_p, log_target=True, reduction="batchmean")


def floored_logprob(out: StreamOut, nats: float) -> torch.Tensor:
    """Mean over rows of max(0, log p_theta(row's targets) + nats): gradient ascent on each
    row's targets that stops once their joint probability is below exp(-nats).

    Unlike plain gradient ascent it cannot run away (the loss is bounded below by 0 and rows
    already that unlikely get no gradient); unlike unlikelihood, whose gradient shrinks with p,
    it keeps pushing a row at full strength until the floor."""
    if out.empty:
        return _zero(out)
    return torch.relu(sequence_logprob(out.logits, out) + nats).mean()


def sequence_logprob(logits: torch.Tensor, out: StreamOut) -> torch.Tensor:
    """log p(answer | prompt) per row: the sum of its answer tokens' log-probabilities."""
    token_lp = -F.cross_entropy(logits.float(), out.labels, reduction="none")
    return torch.zeros(out.n_rows, dtype=token_lp.dtype, device=token_lp.device).index_add(
        0, out.rows, token_lp
    )


def npo(out: StreamOut, beta: float) -> torch.Tensor:
    """Negative preference optimisation on the forget answers (Zhang et al. 2024):
    -(2/beta) * mean_rows log sigmoid(-beta * (log p_theta(y|x) - log p_ref(y|x)))."""
    if out.ref_logits is None:
        raise RuntimeError("npo needs the stream's reference logits")
    if out.empty:
        return _zero(out)
    log_ratio = sequence_logprob(out.logits, out) - sequence_logprob(out.ref_logits, out)
    return -(2.0 / beta) * F.logsigmoid(-beta * log_ratio).mean()


def exact_rows(out: StreamOut) -> torch.Tensor:
    """Share of rows whose every answer token is the greedy prediction (teacher forced): the
    rows greedy decoding would reproduce word for word."""
    if out.empty:
        return out.logits.new_zeros(())
    return (memorisation_accuracy(out) == 1.0).float().mean()


def memorisation_accuracy(out: StreamOut) -> torch.Tensor:
    """Per row: the share of answer tokens the model predicts greedily under teacher forcing."""
    hits = (out.logits.argmax(dim=-1) == out.labels).float()
    zeros = torch.zeros(out.n_rows, device=hits.device)
    counts = zeros.index_add(0, out.rows, torch.ones_like(hits))
    sums = zeros.index_add(0, out.rows, hits)
    return sums / counts.clamp(min=1)
