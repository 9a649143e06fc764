"""The deployment is loaded (and so validated) once, into typed settings (issue 23)."""

from __future__ import annotations

import pytest

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
    dep = load_deployment(path, {"method": "npo", "backend": "openai", "corpus": str(other),
                                 "model": None})
    assert (dep.train.method, dep.train.epochs, dep.augment.backend) == ("npo", 3, "openai")
    assert dep.corpus == other.resolve()


def test_reading_the_deployment_writes_nothing(home, tmp_path, make_deployment):
    path = make_deployment(tmp_path / "dep")
    ctx = AppContext.create(deployment=path)
    assert ctx.deployment.source == path.resolve()
    assert not (home / LAST_DEPLOYMENT).exists()
    ctx.remember_deployment()
    assert (home / LAST_DEPLOYMENT).read_text() == str(path.resolve())
    assert AppContext.create().deployment_path == path.resolve()
