"""What a method is, and the module that turns a step's batch into its loss.

A method names the streams it trains on and writes its loss out from the terms in
:mod:`engine.train.losses`. The shared :class:`Objective` runs the model once over all streams of
a step, sends only the positions that predict answer tokens through the output head, and runs the
reference pass - the same weights with the adapter disabled, never a second copy - only for the
streams the method's loss compares against it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from engine.train.data import IGNORE, StepBatch
from engine.train.losses import StreamOut
from engine.types import QA, TrainData

if TYPE_CHECKING:
    from engine.train.config import TrainConfig


class Method:
    """Base of every method. Subclasses set the stream names and write :meth:`loss`."""

    name: ClassVar[str] = ""
    primary: ClassVar[str] = "forget"  # the stream an epoch walks through once
    aligned: ClassVar[tuple[str, ...]] = ()  # streams whose row i goes with primary row i
    sampled: tuple[str, ...] = ()  # streams drawn afresh each step (retain); may depend on config
    reference: ClassVar[frozenset[str]] = frozenset()  # streams whose loss needs p_ref
    # the streams that do the forgetting: at TrainConfig.qat_retain = false the only ones a
    # quantisation-aware step computes with rounded weights, the rest in a second pass at full
    # precision (the method's loss must then take each side alone)
    forget_side: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: TrainConfig) -> None:
        self.config = config

    def streams(self, data: TrainData) -> dict[str, list[QA]]:
        """The QA lists of every stream, by name. The default reads them from ``data``."""
        out = {name: list(getattr(data, name)) for name in (self.primary, *self.sampled)}
        for name, items in out.items():
            if not items:
                raise ValueError(f"method {self.name}: the {name} set is empty")
        return out

    def loss(self, out: dict[str, StreamOut]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def review_epoch(self, active: list[int], score: Callable[[Sequence[int]], torch.Tensor],
                     entry: dict[str, Any]) -> list[int]:
        """Called after each epoch with the primary rows still training; returns those that stay.

        ``score(rows)`` gives each row's memorisation accuracy under the current model; ``entry``
        is the epoch's history entry (mean loss terms). Training stops early when nothing stays.
        The default keeps every row.
        """
        return active


MIN_SHARED_PREFIX = 4


def shared_prefix(input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  labels: torch.Tensor | None) -> int:
    """Length of the prefix every row shares, kept short of every row's first target's
    predecessor; 0 when there is nothing worth sharing (one row, or a short prefix)."""
    rows = input_ids.shape[0]
    if rows < 2:
        return 0
    same = (input_ids == input_ids[:1]).all(dim=0) & attention_mask.bool().all(dim=0)
    width = int(same.long().cumprod(0).sum())
    if labels is not None:
        targets = labels != IGNORE
        has = targets.any(dim=1)
        if has.any():
            first = targets.float().argmax(dim=1)[has].min().item()
            width = min(width, int(first) - 1)
    width = min(width, input_ids.shape[1] - 1)
    return width if width >= MIN_SHARED_PREFIX else 0


def _cache_is_plain(base: Any) -> bool:
    """Prefix sharing edits the key/value cache directly: only for plain full-attention caches."""
    config = base.config
    layer_types = getattr(config, "layer_types", None) or []
    if getattr(config, "sliding_window", None) or any(t != "full_attention" for t in layer_types):
        return False
    return getattr(config, "model_type", "") in {"llama", "mistral", "qwen2", "qwen3", "gemma",
                                                 "phi3", "olmo", "granite"}


class ReferenceCache:
    """Reference logits of the rows already seen, by (stream, row index), within a budget.

    The reference is the base with its adapter off, so a row's reference logits stay the same
    for the whole run, while a sampled stream draws the same rows again and again (the sample
    deployment: each of 140 retain rows about 13 times in 234 steps). Each row is then run
    through the reference once. Rows that do not fit the budget are computed at every step.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._rows: dict[tuple[str, int], torch.Tensor] = {}
        self.computed = 0  # rows run through the reference, for tests and the record

    def get(self, key: tuple[str, int]) -> torch.Tensor | None:
        return self._rows.get(key)

    def put(self, key: tuple[str, int], logits: torch.Tensor) -> None:
        size = logits.numel() * logits.element_size()
        if key not in self._rows and self.bytes + size <= self.max_bytes:
            # a copy: a view would keep its whole batch's logits alive
            self._rows[key] = logits.clone()
            self.bytes += size


class Objective(torch.nn.Module):
    """The trained model plus a method's loss, as one module (what DDP/FSDP wrap)."""

    def __init__(self, model: Any, method: Method,
                 reference_cache: ReferenceCache | None = None) -> None:
        super().__init__()
        self.model = model  # a PeftModel
        self.method = method
        self.reference_cache = reference_cache
        base = model.get_base_model()
        self._decoder_name = base.base_model_prefix
        self._softcap = getattr(base.config, "final_logit_softcapping", None)
        self.share_prefix = _cache_is_plain(base)

    def _decoder_and_head(self) -> tuple[Any, Any]:
        base = self.model.get_base_model()
        return getattr(base, self._decoder_name), base.get_output_embeddings()

    def _answer_logits(self, hidden: torch.Tensor, labels: torch.Tensor, head: Any
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits only where the next token is an answer token (the rest would be masked)."""
        target = labels[:, 1:]
        mask = target != IGNORE
        logits = head(hidden[:, :-1][mask]).float()
        if self._softcap:
            logits = torch.tanh(logits / self._softcap) * self._softcap
        return logits, target[mask], mask.sum(dim=1)

    def hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
               labels: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
        """Last hidden states and the number of leading positions they leave out.

        When every row starts with the same prompt prefix (the chat template's system turn, a
        third of the tokens of a short QA item), the prefix runs once as a single row and its
        keys and values are shared by all rows: the same forward values, and the same gradients
        (the expanded cache sums them back), at a fraction of the prefix's cost. Rows then start
        after the prefix; no position inside it predicts an answer token.
        """
        decoder, _ = self._decoder_and_head()
        width = shared_prefix(input_ids, attention_mask, labels) if self.share_prefix else 0
        if width == 0:
            out = decoder(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
            return out.last_hidden_state, 0
        cache = decoder(input_ids=input_ids[:1, :width], use_cache=True).past_key_values
        rows = input_ids.shape[0]
        for layer in cache.layers:
            layer.keys = layer.keys.expand(rows, -1, -1, -1)
            layer.values = layer.values.expand(rows, -1, -1, -1)
        out = decoder(input_ids=input_ids[:, width:], attention_mask=attention_mask,
                      past_key_values=cache, use_cache=True)
        return out.last_hidden_state, width

    def stream_outputs(self, batch: StepBatch, reference: frozenset[str] = frozenset()
                       ) -> dict[str, StreamOut]:
        _, head = self._decoder_and_head()
        hidden, skip = self.hidden(batch.input_ids, batch.attention_mask, batch.labels)
        logits, labels, per_row = self._answer_logits(hidden, batch.labels[:, skip:], head)
        ends = per_row.cumsum(0).tolist()
        out: dict[str, StreamOut] = {}
        for name, sl in batch.slices.items():
            t0 = ends[sl.start - 1] if sl.start > 0 else 0
            t1 = ends[sl.stop - 1] if sl.stop > sl.start else t0
            rows = torch.repeat_interleave(
                torch.arange(sl.stop - sl.start, device=logits.device), per_row[sl]
            )
            out[name] = StreamOut(logits[t0:t1], labels[t0:t1], rows, sl.stop - sl.start)
        wanted = [name for name in batch.slices if name in reference]
        if wanted:
            self._attach_reference(batch, wanted, out, head)
        return out

    @torch.no_grad()
    def _reference_rows(self, batch: StepBatch, rows: list[int], head: Any
                        ) -> list[torch.Tensor]:
        """The reference logits of the given batch rows (adapter off), one tensor per row."""
        idx = torch.tensor(rows, dtype=torch.long, device=batch.input_ids.device)
        mask = batch.attention_mask[idx]
        width = int(mask.sum(dim=1).max())
        labels = batch.labels[idx, :width]
        with self.model.disable_adapter():
            hidden, skip = self.hidden(batch.input_ids[idx, :width], mask[:, :width], labels)
            logits, _, per_row = self._answer_logits(hidden, labels[:, skip:], head)
        return list(logits.split(per_row.tolist()))

    @torch.no_grad()
    def _attach_reference(self, batch: StepBatch, names: list[str], out: dict[str, StreamOut],
                          head: Any) -> None:
        """p_ref: one more pass over the named streams' rows with the adapter switched off,
        for the rows the reference cache does not hold yet."""
        rows = [r for n in names for r in range(batch.slices[n].start, batch.slices[n].stop)]
        if not rows:
            for n in names:
                out[n].ref_logits = out[n].logits.detach()[:0]
            return
        cache = self.reference_cache
        keyed = cache is not None and all(
            len(batch.picks.get(n, ())) == batch.slices[n].stop - batch.slices[n].start
            for n in names)
        keys = [(n, batch.picks[n][r - batch.slices[n].start]) for n in names
                for r in range(batch.slices[n].start, batch.slices[n].stop)] if keyed else []
        found = [cache.get(k) for k in keys] if keyed else [None] * len(rows)
        missing = [j for j, hit in enumerate(found) if hit is None]
        if missing:
            fresh = self._reference_rows(batch, [rows[j] for j in missing], head)
            for j, logits in zip(missing, fresh, strict=True):
                found[j] = logits
                if keyed:
                    cache.put(keys[j], logits)
            if cache is not None:
                cache.computed += len(missing)
        start = 0
        for n in names:
            count = batch.slices[n].stop - batch.slices[n].start
            out[n].ref_logits = torch.cat(found[start : start + count])
            start += count

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
                slices: dict[str, slice], picks: dict[str, tuple[int, ...]] | None = None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        batch = StepBatch(input_ids, attention_mask, labels, slices, picks or {})
        outs = self.stream_outputs(batch, self.method.reference)
        return self.method.loss(outs)
