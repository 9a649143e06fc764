"""ReLearn training throughput: our step against the reference implementation's configuration.

Both run the relearn objective - CE(sanitised variants) + CE(retain) + KL(p_ref || p_theta on
retain) - with LoRA r=32 on every linear layer of SmolLM2-135M, on the same augmented data of
the sample requests (offline backend), the same rows in the same order, fp32 on this CPU:

  ours       rows padded to the longest row of their step (length-bucketed batches), the output
             head run only where the next token is an answer token, p_ref from the same weights
             with the adapter disabled (engine.train's Objective: the code path of every run)
  cached     ours with the reference cache of every run (TrainConfig.reference_cache_mb): each
             retain row's p_ref computed once and kept; measured once every retain row has been
             seen (the steady state of a run, where each row comes back about 13 times)
  reference  every sample padded to 512 tokens, full logits at every position, p_ref from a
             separate frozen copy of the model (the configuration the ReLearn code uses)

Measured per configuration, each in its own process (so peak memory is its own): useful tokens/s
(non-pad tokens of the trained rows), peak resident memory during the steps, and the achieved
matmul FLOP/s - the matmul work on real tokens, counted from the shapes - as a share of the peak
of a plain 2048x2048 fp32 matmul measured in the same process just before and after the steps.

Where CUDA is available the same two configurations run on the GPU (bf16), plus one LoRA step of a
Llama-2-7B-shaped model with random weights and its model FLOP utilisation (--gpu).

    .venv/bin/python bench/train_throughput.py          # table, bench/results/*.json
    .venv/bin/python bench/train_throughput.py --steps 3 --ref-steps 1   # quicker
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
RESULTS = ROOT / "bench" / "results"
REF_PAD = 512


# ---------------------------------------------------------------------------- data (parent)

def build_data(retain_n: int) -> dict[str, list[list[str]]]:
    """The sample run's relearn rows and ``retain_n`` retain rows, as the application builds
    them (bench/sample_inputs.py), as plain lists (only their lengths matter here)."""
    from bench.sample_inputs import sample_run_inputs

    data = sample_run_inputs(retain_train_size=retain_n)["data"]
    return {"relearn": [[qa.question, qa.answer] for qa in data.relearn],
            "retain": [[qa.question, qa.answer] for qa in data.retain]}


# ------------------------------------------------------------------------- measuring helpers

class PeakRSS:
    """Samples this process's resident memory every 5 ms between start() and stop()."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.005)

    def __enter__(self) -> PeakRSS:
        self.peak = self.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def matmul_peak(device: Any, dtype: Any, n: int = 2048, reps: int = 5) -> float:
    """FLOP/s of the best of ``reps`` plain n x n x n matmuls."""
    import torch

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(reps + 1):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def sync(device: Any) -> None:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize()


def model_shape(config: Any) -> dict[str, int]:
    d = config.hidden_size
    kv = config.num_key_value_heads * (d // config.num_attention_heads)
    ff = config.intermediate_size
    layers = config.num_hidden_layers
    return {"d": d, "kv": kv, "ff": ff, "layers": layers, "vocab": config.vocab_size,
            "linear": layers * (2 * d * d + 2 * d * kv + 3 * d * ff)}


def lora_params(shape: dict[str, int], r: int) -> int:
    d, kv, ff = shape["d"], shape["kv"], shape["ff"]
    per_layer = r * ((d + d) * 2 + (d + kv) * 2 + (d + ff) * 3)
    return shape["layers"] * per_layer


def step_flops(shape: dict[str, int], r: int, grad_rows: list[int], grad_answers: int,
               ref_rows: list[int], ref_answers: int, grad_prefix: int = 0,
               ref_prefix: int = 0) -> float:
    """Matmul FLOPs of one relearn step over the given real row lengths.

    Trained rows: forward 2P + backward 2P (input gradients only, the base is frozen) for the
    base linears, 6x for LoRA's (forward, input and weight gradients), attention 2 d L^2 per
    layer forward (causal half of QK^T and AV) and twice that backward, the head 2 d V per answer
    position forward and again backward. Reference rows: forward only. A prefix shared by all
    rows of a pass counts once (that is how often it is computed).
    """
    p, pl, d, v, layers = shape["linear"], lora_params(shape, r), shape["d"], shape["vocab"], \
        shape["layers"]

    def tokens(rows: list[int], prefix: int) -> int:
        return prefix + sum(n - prefix for n in rows) if rows else 0

    def attn(rows: list[int], prefix: int) -> float:
        if not rows:
            return 0.0
        return (2 * d * prefix * prefix + sum(2 * d * (n * n - prefix * prefix) for n in rows)) \
            * layers

    trained = tokens(grad_rows, grad_prefix) * (4 * p + 6 * pl) + 3 * attn(grad_rows, grad_prefix) \
        + grad_answers * 4 * d * v
    ref = tokens(ref_rows, ref_prefix) * 2 * p + attn(ref_rows, ref_prefix) \
        + ref_answers * 2 * d * v
    return float(trained + ref)


# ------------------------------------------------------------------------------ child runs

def child(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from engine.models import load_model
    from engine.train.base import Objective, ReferenceCache, shared_prefix
    from engine.train.config import TrainConfig
    from engine.train.data import IGNORE, Rows, collate, epoch_batches, sampled_indices, tokenise
    from engine.train.loop import add_lora, seed_everything
    from engine.train.methods import make_method
    from engine.types import QA

    device = torch.device(args.device)
    data = json.loads(Path(args.data).read_text())
    cfg = TrainConfig(method="relearn", batch_size=args.batch_size, max_length=REF_PAD,
                      seed=0, autocast=args.device == "cuda")
    seed_everything(0)
    loaded = load_model(args.model_dir, device=args.device)
    tok = loaded.tokenizer
    frozen = None
    if args.child == "reference":
        frozen = copy.deepcopy(loaded.model).eval()
        for p in frozen.parameters():
            p.requires_grad_(False)
    model = add_lora(loaded.model, cfg)
    model.train()
    method = make_method("relearn", cfg)
    cached = args.child == "cached"
    obj = Objective(model, method, ReferenceCache(1 << 30) if cached else None)
    rows = {n: Rows.from_dataset(tokenise([QA(*x) for x in data[n]], tok, REF_PAD, n))
            for n in ("relearn", "retain")}
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    shape = model_shape(model.get_base_model().config)
    amp_dtype = torch.bfloat16 if args.device == "cuda" else None

    batches = epoch_batches(rows["relearn"].lengths(), range(len(rows["relearn"])),
                            cfg.batch_size, 0, 0, buckets=args.child != "reference")
    need = args.warmup + args.steps
    while len(batches) < need:
        batches += batches
    side = sampled_indices(len(rows["retain"]), cfg.batch_size, len(batches), 0, 0, "retain")

    def amp():
        import contextlib

        if amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=amp_dtype)

    prefixes: dict[int, tuple[int, int]] = {}

    def ours_step(i: int) -> int:
        batch = collate({"relearn": (rows["relearn"], batches[i]),
                         "retain": (rows["retain"], side[i])}, tok.pad_token_id).to(device)
        sl = batch.slices["retain"]
        prefixes[i] = (
            shared_prefix(batch.input_ids, batch.attention_mask, batch.labels)
            if obj.share_prefix else 0,
            shared_prefix(batch.input_ids[sl], batch.attention_mask[sl], batch.labels[sl])
            if obj.share_prefix else 0)
        with amp():
            loss, _ = obj(batch.input_ids, batch.attention_mask, batch.labels, batch.slices,
                          batch.picks if cached else None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return batch.tokens

    def pad512(part: dict) -> Any:
        b = collate(part, tok.pad_token_id)
        n, w = b.input_ids.shape
        ids = torch.full((n, REF_PAD), tok.pad_token_id, dtype=torch.long)
        lab = torch.full((n, REF_PAD), IGNORE, dtype=torch.long)
        mask = torch.zeros((n, REF_PAD), dtype=torch.long)
        ids[:, :w], lab[:, :w], mask[:, :w] = b.input_ids, b.labels, b.attention_mask
        return ids.to(device), mask.to(device), lab.to(device)

    def reference_step(i: int) -> int:
        f_ids, f_mask, f_lab = pad512({"relearn": (rows["relearn"], batches[i])})
        r_ids, r_mask, r_lab = pad512({"retain": (rows["retain"], side[i])})
        with amp():
            ce_f = model(input_ids=f_ids, attention_mask=f_mask, labels=f_lab).loss
            out_r = model(input_ids=r_ids, attention_mask=r_mask, labels=r_lab)
            with torch.no_grad():
                ref_logits = frozen(input_ids=r_ids, attention_mask=r_mask).logits
        sel = r_lab[:, 1:] != IGNORE
        log_q = torch.log_softmax(out_r.logits[:, :-1][sel].float(), -1)
        log_p = torch.log_softmax(ref_logits[:, :-1][sel].float(), -1)
        kl = torch.nn.functional.kl_div(log_q, log_p, log_target=True, reduction="batchmean")
        loss = ce_f + out_r.loss + kl
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return int(f_mask.sum() + r_mask.sum())

    step = reference_step if args.child == "reference" else ours_step
    for i in range(args.warmup):
        step(i)
    computed_before = obj.reference_cache.computed if cached else 0
    peak_before = matmul_peak(device, amp_dtype or torch.float32)
    flops = 0.0
    tokens = 0
    rss = PeakRSS()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    base_rss = rss.rss()
    sync(device)
    t0 = time.perf_counter()
    with rss:
        for i in range(args.warmup, args.warmup + args.steps):
            tokens += step(i)
            grad_rows = [len(rows["relearn"].input_ids[j]) for j in batches[i]] + \
                [len(rows["retain"].input_ids[j]) for j in side[i]]
            # the cached configuration runs no reference pass for rows it has seen
            ref_side = [] if cached else side[i]
            ref_rows = [len(rows["retain"].input_ids[j]) for j in ref_side]
            answers = sum(sum(x != IGNORE for x in rows["relearn"].labels[j]) for j in batches[i])
            ref_answers = sum(sum(x != IGNORE for x in rows["retain"].labels[j]) for j in ref_side)
            grad_prefix, ref_prefix = prefixes.get(i, (0, 0))
            flops += step_flops(shape, cfg.lora_r, grad_rows, answers + ref_answers, ref_rows,
                                ref_answers, grad_prefix, ref_prefix)
        sync(device)
    seconds = time.perf_counter() - t0
    peak_after = matmul_peak(device, amp_dtype or torch.float32)
    peak = max(peak_before, peak_after)
    out = {
        "config": args.child, "device": str(device), "steps": args.steps,
        "batch_rows": 2 * cfg.batch_size, "real_tokens": tokens, "seconds": seconds,
        "tokens_per_s": tokens / seconds, "useful_matmul_flops": flops,
        "achieved_flops_per_s": flops / seconds, "matmul_peak_flops_per_s": peak,
        "matmul_peak_before_after": [peak_before, peak_after],
        "share_of_matmul_peak": flops / seconds / peak,
        "peak_rss_bytes": rss.peak, "rss_before_steps_bytes": base_rss,
        "threads": torch.get_num_threads(),
    }
    if cached:
        # rows the cache had not seen yet during the timed steps (0 in the steady state)
        out["reference_rows_computed_while_timed"] = obj.reference_cache.computed - computed_before
        out["reference_cache_bytes"] = obj.reference_cache.bytes
    if device.type == "cuda":
        out["peak_cuda_bytes"] = torch.cuda.max_memory_allocated()
    return out


LLAMA2_7B_SHAPE: dict[str, int] = {
    "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32000,
    "max_position_embeddings": 4096,
}


def lora_step_bench(shape: dict[str, int], *, rows: int, length: int, device: str = "cuda",
                    steps: int = 3, peak_n: int = 8192) -> dict[str, Any]:
    """LoRA training steps (the relearn objective, bf16 autocast) of a Llama of ``shape`` with
    random weights: seconds a step, tokens/s, counted matmul FLOP/s against a measured matmul
    peak, and the model's parameter count (for 6N-per-token MFU). ``shape`` is
    :data:`LLAMA2_7B_SHAPE` for the GPU bench; a tiny one lets the same code run on a CPU."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from engine.train.base import Objective
    from engine.train.config import TrainConfig
    from engine.train.data import IGNORE, StepBatch
    from engine.train.loop import add_lora
    from engine.train.methods import make_method

    dev = torch.device(device)
    config = LlamaConfig(**shape)
    with dev:
        base = LlamaForCausalLM(config).to(torch.bfloat16)
    params = sum(p.numel() for p in base.parameters())
    cfg = TrainConfig(method="relearn", batch_size=rows // 2)
    model = add_lora(base, cfg)
    model.train()
    obj = Objective(model, make_method("relearn", cfg))
    trained = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trained, lr=1e-4)
    answer = length // 2
    ids = torch.randint(0, config.vocab_size, (rows, length), device=dev)
    labels = ids.clone()
    labels[:, : length - answer] = IGNORE
    batch = StepBatch(ids, torch.ones_like(ids), labels,
                      {"relearn": slice(0, rows // 2), "retain": slice(rows // 2, rows)})

    def step() -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            loss, _ = obj(batch.input_ids, batch.attention_mask, batch.labels, batch.slices)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()
    sync(dev)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync(dev)
    seconds = (time.perf_counter() - t) / steps
    dims = model_shape(config)
    half = [length] * (rows // 2)
    flops = step_flops(dims, cfg.lora_r, [length] * rows, rows * answer, half,
                       rows // 2 * answer)
    peak = matmul_peak(dev, torch.bfloat16, n=peak_n)
    out: dict[str, Any] = {
        "rows": rows, "length": length, "steps": steps, "parameters": params,
        "seconds_per_step": seconds, "tokens_per_s": rows * length / seconds,
        "achieved_flops_per_s": flops / seconds, "matmul_peak_flops_per_s": peak,
        "mfu_share_of_matmul_peak": flops / seconds / peak, "device": str(dev),
    }
    if dev.type == "cuda":
        out["peak_cuda_bytes"] = torch.cuda.max_memory_allocated()
        out["gpu"] = torch.cuda.get_device_name()
    return out


def llama7b_step(args: argparse.Namespace) -> dict[str, Any]:
    """One LoRA training step of a Llama-2-7B-shaped model (random bf16 weights) on CUDA."""
    return {"config": "llama2-7b-shape LoRA step",
            **lora_step_bench(LLAMA2_7B_SHAPE, rows=args.llama_rows, length=args.llama_len)}


# ----------------------------------------------------------------------------------- parent

def run_child(args: argparse.Namespace, which: str, data_file: Path, model_dir: Path,
              device: str) -> dict[str, Any]:
    steps = args.ref_steps if which == "reference" else args.steps
    # the cached configuration is timed once the cache holds every retain row
    warmup = {"reference": 1, "ours": args.warmup,
              "cached": max(args.warmup, -(-args.retain // args.batch_size) + 4)}[which]
    cmd = [sys.executable, __file__, "--child", which, "--data", str(data_file), "--model-dir",
           str(model_dir), "--device", device, "--steps", str(steps), "--warmup", str(warmup),
           "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{which} on {device} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt_table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'config':<10} {'device':<7} {'tokens/s':>9} {'peak RSS':>9} {'GFLOP/s':>8} "
            f"{'matmul peak':>11} {'share':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['config']:<10} {r['device'][:7]:<7} {r['tokens_per_s']:>9.1f} "
            f"{r['peak_rss_bytes'] / 2**30:>7.2f}GB {r['achieved_flops_per_s'] / 1e9:>8.1f} "
            f"{r['matmul_peak_flops_per_s'] / 1e9:>9.1f}G {r['share_of_matmul_peak']:>6.1%}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model spec (default: the bundled SmolLM2)")
    ap.add_argument("--steps", type=int, default=6, help="timed steps of our configuration")
    ap.add_argument("--ref-steps", type=int, default=2, help="timed steps of the reference")
    ap.add_argument("--warmup", type=int, default=2)
    # at 8 the reference configuration (512-token padding, full logits, a second model) went
    # past 24 GB and was killed on the 2-core machine
    ap.add_argument("--batch-size", type=int, default=4, help="relearn rows (and retain rows)")
    ap.add_argument("--retain", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads (default: torch's choice, one per core)")
    ap.add_argument("--gpu", action="store_true", help="also run the CUDA benches (needs a GPU)")
    ap.add_argument("--llama-rows", type=int, default=8)
    ap.add_argument("--llama-len", type=int, default=512)
    ap.add_argument("--out", type=Path, default=RESULTS / "train_throughput.json")
    # internal: one measured configuration in a fresh process
    ap.add_argument("--child", choices=("ours", "cached", "reference", "llama7b"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child == "llama7b":
        print(json.dumps(llama7b_step(args)))
        return
    if args.child:
        print(json.dumps(child(args)))
        return

    import torch

    from engine.models import materialise

    t0 = time.perf_counter()
    print("building the augmented data of the sample requests ...", flush=True)
    data = build_data(args.retain)
    model_dir = materialise(args.model, ROOT / ".cache" / "bench")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(data, fh)
        data_file = Path(fh.name)
    results: list[dict[str, Any]] = []
    devices = ["cpu"]
    gpu_note = "not run: no CUDA device in this run"
    if torch.cuda.is_available() and args.gpu:
        devices.append("cuda")
        gpu_note = ""
    try:
        for device in devices:
            for which in ("ours", "cached", "reference"):
                print(f"measuring {which} on {device} ...", flush=True)
                results.append(run_child(args, which, data_file, model_dir, device))
        llama = None
        if "cuda" in devices:
            print("measuring the Llama-2-7B-shaped LoRA step ...", flush=True)
            cmd = [sys.executable, __file__, "--child", "llama7b", "--llama-rows",
                   str(args.llama_rows), "--llama-len", str(args.llama_len)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            llama = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 \
                else {"error": proc.stderr[-2000:]}
    finally:
        data_file.unlink(missing_ok=True)

    summary: dict[str, Any] = {}
    for device in devices:
        ours = next(r for r in results if r["config"] == "ours" and r["device"].startswith(device))
        ref = next(r for r in results
                   if r["config"] == "reference" and r["device"].startswith(device))
        cached = next(r for r in results
                      if r["config"] == "cached" and r["device"].startswith(device))
        summary[device] = {
            "speedup_useful_tokens_per_s": ours["tokens_per_s"] / ref["tokens_per_s"],
            "cache_speedup_tokens_per_s": cached["tokens_per_s"] / ours["tokens_per_s"],
            "target_speedup": 5.0,
            "ours_share_of_matmul_peak": ours["share_of_matmul_peak"],
            "target_share": 0.5,
            "peak_rss_ratio_reference_over_ours": ref["peak_rss_bytes"] / ours["peak_rss_bytes"],
        }
    print()
    print(fmt_table(results))
    for device, s in summary.items():
        print(f"\n{device}: ours/reference useful tokens/s = "
              f"{s['speedup_useful_tokens_per_s']:.1f}x (target >= 5x); ours at "
              f"{s['ours_share_of_matmul_peak']:.0%} of the measured matmul peak (target >= 50%); "
              f"with the reference cache {s['cache_speedup_tokens_per_s']:.2f}x ours")
    if llama:
        print(f"\nLlama-2-7B-shaped LoRA step: {json.dumps(llama)}")
    if gpu_note:
        print(f"\nGPU benches (this bench on CUDA, Llama-2-7B-shaped LoRA step): {gpu_note}")
    record = {
        "bench": "train_throughput", "model": args.model or "smollm2",
        "data": {k: len(v) for k, v in data.items()}, "batch_rows_per_step": 2 * args.batch_size,
        "results": results, "summary": summary, "llama2_7b_shape": llama,
        "gpu": gpu_note or "run", "machine": {"platform": platform.platform(),
                                              "cpus": os.cpu_count(),
                                              "torch": torch.__version__,
                                              "cpu_capability":
                                                  torch.backends.cpu.get_cpu_capability()},
        "load_average_1m": os.getloadavg()[0], "wall_s": time.perf_counter() - t0,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
