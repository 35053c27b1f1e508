"""Sealing secrets and the key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from registry.config import Settings
from registry.services.secrets import SecretBox, SecretKeyError, load_secret_box


def test_sealed_values_open_only_for_their_purpose_and_key(tmp_path: Path) -> None:
    box = load_secret_box(Settings(data_dir=tmp_path))
    sealed = box.seal("hunter2", "webhook:auth_header")
    assert sealed.startswith("enc:v1:")
    assert "hunter2" not in sealed
    assert sealed != box.seal("hunter2", "webhook:auth_header")  # a fresh nonce each time
    assert box.reveal(sealed, "webhook:auth_header") == "hunter2"
    with pytest.raises(SecretKeyError):
        box.reveal(sealed, "configuration:ldap_search_password")
    with pytest.raises(SecretKeyError):
        SecretBox(b"\0" * 32).reveal(sealed, "webhook:auth_header")
    assert box.reveal("not sealed yet", "webhook:auth_header") == "not sealed yet"


def test_the_key_file_is_made_once_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = load_secret_box(settings)
    key_file = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = load_secret_box(settings)
    assert again.reveal(first.seal("x", "p"), "p") == "x"
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]


def test_a_malformed_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.key").write_text("not base64!\n")
    with pytest.raises(SecretKeyError):
        load_secret_box(Settings(data_dir=tmp_path, secret_key_path=tmp_path / "bad.key"))
