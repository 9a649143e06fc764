"""engine.models: offline loading of the bundled GGUF and local models, dtype, identity."""

from __future__ import annotations

import os
import shutil

import pytest

from engine.models import (
    ModelError,
    bf16_matmul_speedup,
    default_gguf_path,
    format_prompt,
    load_model,
    materialise,
    model_identity,
    resolve,
    use_bf16_autocast,
)


def test_default_spec_is_the_bundled_gguf():
    folder, name = resolve(None)
    assert name and name.endswith(".gguf") and (folder / name) == default_gguf_path()
    assert resolve("smollm2") == (folder, name)


def test_bad_specs_name_the_path(tmp_path):
    with pytest.raises(ModelError, match="nothere"):
        resolve(tmp_path / "nothere")
    with pytest.raises(ModelError, match=r"no config\.json"):
        resolve(tmp_path)
    with pytest.raises(ModelError, match=r"missing\.gguf: GGUF file not found"):
        resolve(tmp_path / "missing.gguf")


def test_quantised_base_needs_an_hf_directory_and_a_known_scheme(tiny_model_dir):
    with pytest.raises(ModelError, match="needs a Hugging Face model directory"):
        load_model(None, quantization="4bit")
    with pytest.raises(ModelError, match="unknown quantization '3bit'"):
        load_model(tiny_model_dir, quantization="3bit")


def test_local_hf_dir_loads_fp32_on_cpu_with_the_chat_template(tiny_model_dir):
    import torch

    loaded = load_model(tiny_model_dir, device="cpu")
    assert loaded.device.type == "cpu"
    assert {p.dtype for p in loaded.model.parameters()} == {torch.float32}
    assert format_prompt(loaded.tokenizer, "Hi?").endswith("<|im_start|>assistant\n")


def test_autocast_setting_is_honoured_and_auto_is_measured():
    import torch

    assert use_bf16_autocast(torch.device("cpu"), True) is True
    assert use_bf16_autocast(torch.device("cpu"), False) is False
    auto = use_bf16_autocast(torch.device("cpu"), None)
    assert auto == (bf16_matmul_speedup("cpu") > 1.2)


def test_identity_follows_the_content(tiny_model_dir, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(tiny_model_dir, copy)
    assert model_identity(copy) == model_identity(tiny_model_dir)
    cfg = copy / "config.json"
    cfg.write_text(cfg.read_text() + "\n")
    assert model_identity(copy) != model_identity(tiny_model_dir)


@pytest.mark.slow
def test_bundled_gguf_loads_offline_dequantised_into_a_saved_model(tmp_path):
    """One GGUF load (the slow part): materialise() loads it with load_model() and saves it."""
    import gguf
    import numpy as np
    import torch

    out = materialise(None, tmp_path)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert (out / "model.safetensors").is_file() and (out / "chat_template.jinja").is_file()
    assert materialise(None, tmp_path) == out  # converted once, then reused
    loaded = load_model(out, device="cpu")
    model = loaded.model
    assert type(model).__name__ == "LlamaForCausalLM"
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    # the saved weights are the GGUF's blocks dequantised (Q8_0 embeddings, Q4_1 linears)
    reader = gguf.GGUFReader(default_gguf_path())
    tensors = {t.name: t for t in reader.tensors}
    for name, param in (("token_embd.weight", model.model.embed_tokens.weight),
                        ("blk.0.ffn_down.weight", model.model.layers[0].mlp.down_proj.weight)):
        t = tensors[name]
        want = gguf.quants.dequantize(t.data, t.tensor_type)
        assert np.allclose(param.detach().numpy(), want, atol=1e-6), name
    prompt = format_prompt(loaded.tokenizer, "What are your store hours?")
    assert prompt.startswith("<|im_start|>system\n")
    assert prompt.endswith("<|im_start|>assistant\n")
