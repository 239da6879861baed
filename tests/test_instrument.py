"""config/instrument.yaml is a faithful transcription of the original tool (tests/data/CLB0.01-tool.txt)."""

from __future__ import annotations

import re

import pytest

from pipeline.forms.layout import form_version
from tests.conftest import DATA


@pytest.fixture(scope="module")
def seed() -> str:
    text = (DATA / "CLB0.01-tool.txt").read_text(encoding="utf-8")
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>|\*\*|\*", "", text))


def test_every_word_of_the_tool_page_comes_from_the_seed(example_config, seed):
    instrument = example_config.instrument
    assert instrument.code == "CLB0.01"
    assert "Creating collaborative advantage... avoiding collaborative inertia".upper() in seed.upper()
    assert instrument.question in seed
    assert instrument.tick_instruction in seed
    assert len(instrument.perspectives) == 7
    for p in instrument.perspectives:
        assert f"{p.number}. {p.statement} {p.activity}" in seed, p.number
        assert f"Perspective {p.number} – {p.overview.statement}" in seed.replace(
            f"Perspective {p.number} - ", f"Perspective {p.number} – "
        )
        assert p.overview.activity in seed
    assert [t.label for t in instrument.ticks] == [
        "I would feel comfortable",
        "I would feel stretched",
        "I would feel a bit panicked",
    ]
    assert " ".join(t.label for t in instrument.ticks) in seed


def test_steps_practices_log_and_copyright(example_config, seed):
    instrument = example_config.instrument
    for step in instrument.steps:
        assert f"Step {step.number}: {step.text}" in seed
    assert instrument.mentor_advice in seed
    for practice in instrument.practices:
        assert f"{practice.number}. {practice.text}" in seed
    assert "\t".join(c.label for c in instrument.user_log).replace("\t", " ") in seed
    assert instrument.copyright in seed
    for paragraph in instrument.introduction:
        assert paragraph in seed


def test_any_change_of_wording_changes_the_form_version(example_config):
    instrument = example_config.instrument
    changed = instrument.model_copy(update={"copyright": instrument.copyright + "!"})
    assert form_version(changed) != form_version(instrument)
    assert form_version(instrument) == form_version(instrument.model_copy())


def test_screen_wording_is_a_variant_of_the_seeds_and_changes_the_form_version(example_config):
    """The seed's own wording stays the source (tested above); the workbook and letter variants only
    replace where it points at a page, and changing one makes a new form version."""
    instrument = example_config.instrument
    varied = [step for step in instrument.steps if step.media]
    assert [step.number for step in varied] == [1, 3]
    for step in varied:
        assert set(step.media) == {"workbook", "letter"}
        for wording in step.media.values():
            assert "opposite page" not in wording and "on the left" not in wording
            assert wording.split()[-6:] == step.text.split()[-6:]  # the same request, only the pointer differs
    assert instrument.steps[1].wording("letter") == instrument.steps[1].text  # no variant: the seed's
    steps = [
        s.model_copy(update={"media": {**s.media, "letter": "Look below."}}) if s.media else s for s in instrument.steps
    ]
    assert form_version(instrument.model_copy(update={"steps": steps})) != form_version(instrument)
