from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from registry.cli import main
from registry.config import Settings, masked


def test_env_overrides_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "berth.yaml"
    config.write_text("port: 6000\nstorage:\n  driver: s3\n  s3:\n    bucket: from-file\n")
    monkeypatch.setenv("BERTH_CONFIG_FILE", str(config))
    monkeypatch.setenv("BERTH_STORAGE__S3__BUCKET", "from-env")
    settings = Settings()
    assert settings.port == 6000
    assert settings.storage.driver == "s3"
    assert settings.storage.s3.bucket == "from-env"


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_DATABASE_URL", "postgresql://u:topsecret@db/berth")
    monkeypatch.setenv("BERTH_STORAGE__S3__SECRET_KEY", "alsosecret")
    shown = json.dumps(masked(Settings()))
    assert "topsecret" not in shown
    assert "alsosecret" not in shown


def test_config_check_prints_effective_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BERTH_ADMIN_PASSWORD", "hunter2")
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["port"] == 5000
    assert "hunter2" not in out


def test_config_check_rejects_bad_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BERTH_STORAGE__DRIVER", "floppy")
    assert main(["config", "check"]) == 2
    assert "invalid settings" in capsys.readouterr().err


def test_notifications_path_defaults_and_refuses_other_faces() -> None:
    assert Settings().notifications_path == "/service/notifications"
    assert Settings(notifications_path="/hooks/registry").notifications_path == "/hooks/registry"
    for taken in ("/v2/hooks", "/api/v2.0/x", "/service/token", "hooks", "/a b", "/"):
        with pytest.raises(ValidationError):
            Settings(notifications_path=taken)


def test_serve_runs_one_http_process_per_core_it_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BERTH_WORKERS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5})
    assert Settings().workers == 3
    monkeypatch.setenv("BERTH_WORKERS", "1")
    assert Settings().workers == 1
