from __future__ import annotations

from pathlib import Path

import pytest

from registry.metrics import setup


def test_serve_starts_from_an_empty_sample_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(setup.ENV, raising=False)
    stale = tmp_path / "prometheus" / "counter_123.db"
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    directory = setup.configure(tmp_path, clean=True)
    assert directory == tmp_path / "prometheus"
    assert list(directory.iterdir()) == []
    assert setup.directory() == directory


def test_workers_keep_what_serve_and_others_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "counter_1.db").write_bytes(b"x")
    monkeypatch.setenv(setup.ENV, str(shared))
    assert setup.configure(tmp_path / "elsewhere", clean=False) == shared
    assert (shared / "counter_1.db").exists()
