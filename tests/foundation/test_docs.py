"""The documentation: generated parts match the code, the README is short and reaches every
page, and relative links point at files that exist."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from relearn_tui import docs_gen

from .support import ROOT

README = ROOT / "README.md"
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "CONTRIBUTING.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_generated_docs_match_the_code() -> None:
    """Settings tables and keys table as the generator writes them from the config dataclasses
    and the Textual bindings; after a change, run ``python -m relearn_tui.docs_gen``."""
    for path, makers in docs_gen.blocks().items():
        assert docs_gen.render(path, makers) == path.read_text(encoding="utf-8"), (
            f"{path.relative_to(ROOT)} is stale: run python -m relearn_tui.docs_gen")


def test_check_mode_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert docs_gen.main(["--check"]) == 0
    assert capsys.readouterr().err == ""


def test_every_setting_of_every_section_is_in_the_reference() -> None:
    page = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    for section, cls in docs_gen.section_classes().items():
        assert f"`[{section}]`" in page
        for f in dataclasses.fields(cls):
            assert f"| `{f.name}` |" in page, f"[{section}] {f.name} is not on the page"


def test_keys_table_lists_every_described_binding() -> None:
    """Each binding with a description on the app and its six screens and the detail screen
    appears in docs/usage.md with the text the help screen shows."""
    from textual.binding import Binding

    from relearn_tui.tui.keys import key_label, key_sections

    page = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    sections = key_sections()
    assert len(sections) >= 8
    for title, keys in sections:
        assert f"**{title}**" in page
        for key, what in keys:
            assert f"| `{key}` | {docs_gen.cell(what)} |" in page
    from relearn_tui.tui.screens.runs import RunsScreen

    launch = next(b for b in RunsScreen.BINDINGS if isinstance(b, Binding) and b.key == "l")
    assert f"| `{key_label(launch)}` |" in page


def test_a_stale_block_is_caught(tmp_path: Path) -> None:
    text = "intro\n" + docs_gen.START.format(name="x") + "\nold\n" + docs_gen.END.format(
        name="x") + "\nend\n"
    new = docs_gen.fill(text, "x", "new")
    assert "new" in new and "old" not in new and new.startswith("intro\n")
    assert new.endswith(docs_gen.END.format(name="x") + "\nend\n")
    assert docs_gen.fill(new, "x", "new") == new


def test_a_missing_block_is_an_error() -> None:
    with pytest.raises(docs_gen.DocsError, match="no block 'keys'"):
        docs_gen.fill("no markers here\n", "keys", "body")


def test_a_setting_without_a_meaning_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclasses.dataclass
    class Planted:
        known: int = 1
        added_later: bool = False

    monkeypatch.setitem(docs_gen.MEANINGS, "planted", {"known": "a documented setting",
                                                       "removed": "gone from the class"})
    with pytest.raises(docs_gen.DocsError) as info:
        docs_gen.settings_table("planted", Planted)
    assert "no meaning for added_later" in str(info.value)
    assert "removed" in str(info.value)


def test_defaults_are_written_as_in_the_deployment_file() -> None:
    assert docs_gen.toml_value(None) == "unset"
    assert docs_gen.toml_value(True) == "true"
    assert docs_gen.toml_value("relearn") == '"relearn"'
    assert docs_gen.toml_value((8, 4)) == "[8, 4]"
    assert docs_gen.toml_value({}) == "{}"
    assert docs_gen.type_words("float | None") == "number or unset"


def test_readme_is_short_and_links_every_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text) < 10_000, f"README.md has {len(text)} characters; the limit is 10,000"
    targets = {(ROOT / link.split("#")[0]).resolve() for link in LINK.findall(text)
               if not link.startswith(("http://", "https://", "#"))}
    for page in PAGES:
        assert page.resolve() in targets, f"README.md does not link {page.relative_to(ROOT)}"


def anchors(page: Path) -> set[str]:
    """The heading anchors GitHub gives a Markdown page."""
    found = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_relative_links_point_at_files_and_headings(page: Path) -> None:
    for link in LINK.findall(page.read_text(encoding="utf-8")):
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.relative_to(ROOT)} links {link}, which does not exist"
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target), (
                f"{page.relative_to(ROOT)} links {link}: no such heading in {target.name}")


def test_anchors_follow_github() -> None:
    page = ROOT / "docs" / "deployment.md"
    assert "subject-the-deployed-model-build" in anchors(page)
    assert "numerics-cpu-gpu-several-gpus" in anchors(page)


def test_every_headless_flag_is_in_the_usage_table() -> None:
    """The flags table in docs/usage.md is written by hand (its meanings say more than the
    --help lines); this keeps it to the parser's actual options, both ways."""
    from relearn_tui.cli import main_parser

    page = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    table = page.split("## Headless use", 1)[1].split("\n\n", 3)[2]
    documented = set(re.findall(r"^\| `(--[a-z-]+)", table, flags=re.M))
    options = {s for a in main_parser()._actions for s in a.option_strings
               if s.startswith("--") and s != "--help"}
    assert documented == options - {"--headless"}


def test_the_methods_block_shows_the_greedy_screen_and_full_audits(tmp_path, monkeypatch):
    """Both parts of bench/methods.py's JSON reach the page: the greedy screen and, where a
    method was audited fully, its leak figures and verdict; a missing file names the script."""
    import json

    data = json.loads(docs_gen.METHOD_RESULTS.read_text(encoding="utf-8"))
    data["rows"] = [{"method": "relearn", "settings": {"epochs": 6}, "kfr_heldout": 1.0,
                     "krr": 0.96, "ls": 0.08, "leak_rate": 0.0, "leak_rate_4bit": 0.0,
                     "leak_extraction": 0.15, "leak_rate_4bit_worst": 0.07, "mia_auc": 0.9,
                     "relearn_recovery": 1.0, "train_s": 1580.0, "passed": False}]
    path = tmp_path / "methods.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(docs_gen, "METHOD_RESULTS", path)
    block = docs_gen.methods_block()
    assert "| method | settings | KFR held-out | KFR orig |" in block
    assert "| relearn | epochs=6 | 1.00 | 0.96 | 0.080 | 0.00 | 0.00 | 0.15 | 0.07 | 0.90 | " \
           "1.00 | 1580 | no |" in block
    assert f"commit {data['commit']}" in block
    monkeypatch.setattr(docs_gen, "METHOD_RESULTS", tmp_path / "missing" / "methods.json")
    with pytest.raises(docs_gen.DocsError, match=r"run bench/methods\.py first"):
        docs_gen.methods_block()


def test_the_step_times_come_from_the_main_job_bench_full_mode_first(tmp_path, monkeypatch):
    """The README's step times and the benchmarks page's phase table are bench/main_job.py's
    JSON: the full mode's when it is there, else the quick mode's, each saying which."""
    import json

    quick = json.loads(docs_gen.MAIN_JOB_RESULTS[1].read_text(encoding="utf-8"))
    full = {**quick, "mode": "full", "requests": ["A", "B"], "train_overrides": {},
            "columns": {"new": {**quick["columns"]["new"], "run_s": 4321.0}}}
    paths = (tmp_path / "main_job.json", tmp_path / "main_job-quick.json")
    paths[1].write_text(json.dumps(quick), encoding="utf-8")
    monkeypatch.setattr(docs_gen, "MAIN_JOB_RESULTS", paths)
    steps = docs_gen.readme_steps_block()
    assert "quick mode: DSR-2026-0041, epochs=1" in steps and "| train |" in steps
    paths[0].write_text(json.dumps(full), encoding="utf-8")
    steps = docs_gen.readme_steps_block()
    assert "full mode: A, B, the deployment's settings" in steps
    assert "| run (audits, training, reports) | 4321 |" in steps
    assert quick["table"][0] in docs_gen.main_job_block()
    monkeypatch.setattr(docs_gen, "MAIN_JOB_RESULTS", (tmp_path / "none.json",) * 2)
    with pytest.raises(docs_gen.DocsError, match=r"run bench/main_job\.py first"):
        docs_gen.readme_steps_block()
