"""Sealing secrets Berth must keep in a form it can use again (the LDAP bind password, webhook
auth headers): AES-256-GCM under a key that lives outside the database.

A sealed value is text, ``enc:v1:<base64url(nonce ‖ ciphertext ‖ tag)>``, so it fits wherever
the clear value did (a JSON string in ``configurations`` or a webhook target). Each value is
sealed for a purpose (the associated data), so one cannot be moved to stand in for another.

The key is 32 random bytes, base64 in a file: ``secret_key`` or ``secret_key_path`` from the
settings, else ``<data_dir>/secret.key``; a missing key file is made (mode 0600) at first start,
as Harbor makes its secret key file. Every process that shares a database needs the same key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.config import Settings

PREFIX: Final = "enc:v1:"
KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
KEY_FILE_NAME: Final = "secret.key"


class SecretKeyError(Exception):
    """The key cannot be read, is malformed, or does not open what it should."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SecretKeyError(f"the secret key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, plain: str, purpose: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain.encode(), purpose.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def reveal(self, value: str, purpose: str) -> str:
        """The clear text of a sealed value; a value that is not sealed (stored before Berth
        sealed secrets, not migrated yet) is returned as it is."""
        if not is_sealed(value):
            return value
        try:
            raw = base64.urlsafe_b64decode(value.removeprefix(PREFIX).encode())
            nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
            return self._aead.decrypt(nonce, sealed, purpose.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise SecretKeyError(
                f"a stored {purpose} cannot be opened with this process's secret key"
            ) from None

    def seal_if_clear(self, value: str, purpose: str) -> str:
        return value if is_sealed(value) or not value else self.seal(value, purpose)


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise SecretKeyError(f"{where} does not hold a base64 key") from None
    if len(key) != KEY_BYTES:
        raise SecretKeyError(f"{where} must hold {KEY_BYTES} bytes (base64), not {len(key)}")
    return key


def _create_key_file(path: Path) -> None:
    """Write a new random key to ``path``, readable by its owner only; when another process
    makes it at the same moment, its key stands."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        # link fails when the file exists, where rename would replace it: never lose a key.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_secret_box(settings: Settings) -> SecretBox:
    """The box for the configured key, making the default key file on first start."""
    if settings.secret_key is not None:
        return SecretBox(_decode_key(settings.secret_key.get_secret_value(), "secret_key"))
    path = settings.secret_key_path or settings.data_dir / KEY_FILE_NAME
    if not path.exists():
        # A key made here for a database whose secrets are sealed with another is caught by
        # the database's check value before it is used.
        _create_key_file(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SecretKeyError(f"cannot read the secret key file {path}: {exc}") from None
    return SecretBox(_decode_key(text, str(path)))
