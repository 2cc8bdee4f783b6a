"""`flowhealth init` checks answers before writing: a bad flag is one sentence, a bad answer is asked again."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.model import load_model

runner = CliRunner()
CHECKOUT = ["init", "--no-interactive", "--template", "checkout-throughput"]


def _plain(output: str) -> str:
    """The words of the output, without the frame Typer draws around an error."""
    return " ".join(output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def test_a_misspelt_time_zone_is_refused_with_the_closest_one_and_nothing_is_written(tmp_path: Path) -> None:
    result = runner.invoke(app, [*CHECKOUT, str(tmp_path / "m"), "--timezone", "Europe/Berln"])
    assert result.exit_code == 2
    assert "'Europe/Berln' is not a time zone; did you mean Europe/Berlin?" in _plain(result.output)
    assert not (tmp_path / "m").exists()


def test_a_team_id_with_spaces_is_refused_before_the_model_is_written(tmp_path: Path) -> None:
    result = runner.invoke(app, [*CHECKOUT, str(tmp_path / "m"), "--team", "Shop Team=#shop"])
    assert result.exit_code == 2
    assert "'Shop Team' is not an id" in _plain(result.output)
    assert "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_on_a_terminal_a_bad_answer_is_asked_again(tmp_path: Path) -> None:
    answers = ["Shop Team", "shop-team", "#shop", "", "", "", "", "checkout-throughput", "", "sqlite", "", ""]
    answers += ["Europe/Berln", "Europe/Berlin"]
    result = runner.invoke(app, ["init", str(tmp_path), "--interactive"], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "'Shop Team' is not an id" in result.output
    assert "did you mean Europe/Berlin?" in result.output
    model = load_model(tmp_path)
    assert model.flows["checkout"].owner == "shop-team"
    assert model.calendars["shop"].timezone == "Europe/Berlin"


def test_answers_the_model_refuses_leave_no_files_or_folders(tmp_path: Path) -> None:
    root = tmp_path / "m"
    result = runner.invoke(app, ["init", str(root), "--no-interactive", "--system", "shop=shop", "--system", "erp=erp"])
    assert result.exit_code == 1
    assert "systems.shop.kind" in result.output  # `shop` is no system kind; the message lists the kinds
    assert "these answers do not make a valid model; nothing was kept" in result.output
    assert list(root.iterdir()) == []
