"""`clb init`: a new workspace from the example or an earlier one, never over an existing one."""

from __future__ import annotations

import datetime as dt

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_config

runner = CliRunner()


def test_init_makes_a_workspace_ready_for_forms_and_says_what_next(tmp_path):
    target = tmp_path / "partnerships" / "riverside"
    result = runner.invoke(app, ["init", str(target), "--round", "2027-Q1"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in target.iterdir()) == ["config", "inbox", "outbox", "state"]
    assert sorted(p.name for p in (target / "config").iterdir()) == [
        "instrument.yaml",
        "partnership.yaml",
        "practices.yaml",
        "roster.csv",
    ]
    config = load_config(target / "config")
    assert config.settings.round == "2027-Q1" and len(config.roster) == 15
    text = (target / "config" / "partnership.yaml").read_text(encoding="utf-8")
    assert text.count("\n# ") >= 5 and "round: 2027-Q1\n" in text  # its comments kept
    assert config.settings.deadline == dt.date.today() + dt.timedelta(days=28)  # every step can be tried now
    assert "1. Edit config/partnership.yaml" in result.output and "clb forms && clb send invitations" in result.output


def test_init_never_overwrites_a_workspace(tmp_path):
    assert runner.invoke(app, ["init", str(tmp_path / "ws")]).exit_code == 0
    roster = tmp_path / "ws" / "config" / "roster.csv"
    roster.write_text("organisation,name,email\nCouncil,Priya,p@c.example\n", encoding="utf-8")
    again = runner.invoke(app, ["init", str(tmp_path / "ws")])
    assert again.exit_code == 2 and "already holds a workspace" in again.output
    assert roster.read_text(encoding="utf-8").endswith("p@c.example\n")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "state").mkdir()  # any part of a workspace is enough to refuse
    assert runner.invoke(app, ["init", str(tmp_path / "half")]).exit_code == 2


def test_init_from_an_earlier_round_copies_its_settings_roster_and_templates(tmp_path):
    assert runner.invoke(app, ["init", str(tmp_path / "q1"), "--round", "2027-Q1"]).exit_code == 0
    earlier = tmp_path / "q1"
    (earlier / "config" / "roster.csv").write_text("organisation,name,email\nCouncil,Priya,p@c.example\n")
    (earlier / "templates").mkdir()
    (earlier / "templates" / "invitation.txt.j2").write_text("Our own wording\n")
    (earlier / "inbox" / "a return.xlsx").write_bytes(b"not copied")
    command = ["init", str(tmp_path / "q2"), "--from", str(earlier), "--round", "2027-Q2", "--deadline", "2099-06-30"]
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    config = load_config(tmp_path / "q2" / "config")
    assert config.settings.round == "2027-Q2" and [leader.email for leader in config.roster] == ["p@c.example"]
    assert config.settings.deadline == dt.date(2099, 6, 30)
    assert "run clb round new in that workspace instead" in " ".join(result.output.split())
    assert (tmp_path / "q2" / "templates" / "invitation.txt.j2").read_text() == "Our own wording\n"
    assert list((tmp_path / "q2" / "inbox").iterdir()) == []


def test_init_refuses_a_bad_round_or_source_before_making_anything(tmp_path):
    bad = runner.invoke(app, ["init", str(tmp_path / "ws"), "--round", "2027 Q1"])
    assert bad.exit_code == 2 and "cannot be a round id" in bad.output
    missing = runner.invoke(app, ["init", str(tmp_path / "ws"), "--from", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "holds no partnership.yaml" in missing.output
    past = runner.invoke(app, ["init", str(tmp_path / "ws"), "--deadline", "2026-01-05"])
    assert past.exit_code == 2 and "--deadline 2026-01-05 is in the past" in past.output
    assert not (tmp_path / "ws").exists()


def test_a_folder_that_is_not_a_workspace_says_how_to_make_one(tmp_path):
    result = runner.invoke(app, ["status", "--workspace", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert f"clb init {tmp_path}" in result.output and "is not a clb workspace" in result.output
