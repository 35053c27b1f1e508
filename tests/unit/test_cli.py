"""The ``berth`` command line, the parts that start nothing: choosing a settings file, bad
settings and bad commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.cli import main


def test_a_settings_file_named_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BERTH_CONFIG_FILE", "")  # restored after the test
    config = tmp_path / "berth.yaml"
    config.write_text("port: 6001\nexternal_url: https://registry.example\n")
    assert main(["--config", str(config), "config", "check"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["port"], shown["external_url"]) == (6001, "https://registry.example")


def test_invalid_settings_exit_with_2_and_say_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BERTH_PORT", "not-a-port")
    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("berth: invalid settings:")
    assert "port" in err


@pytest.mark.parametrize(
    "argv", [[], ["config"], ["launch"], ["serve", "--port", "eighty"], ["worker", "--bogus"]]
)
def test_a_bad_command_line_is_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "usage: berth" in capsys.readouterr().err
