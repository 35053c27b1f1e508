"""System configuration with Harbor's keys: defaults, validation, masking, a short cache.

Values live in PostgreSQL so every replica sees the same; each process re-reads them at most
every few seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from registry.db import configurations
from registry.db.pool import Executor, Pool
from registry.services.errors import ConfigurationInvalid
from registry.services.secret_storage import SEALED_CONFIGURATION
from registry.services.secrets import SecretBox


@dataclass(frozen=True, slots=True)
class Key:
    default: Any
    kind: type
    secret: bool = False
    choices: tuple[str, ...] = ()


KEYS: dict[str, Key] = {
    "auth_mode": Key("db_auth", str, choices=("db_auth", "ldap_auth")),
    "project_creation_restriction": Key("everyone", str, choices=("everyone", "adminonly")),
    "self_registration": Key(False, bool),
    "read_only": Key(False, bool),
    "token_expiration": Key(30, int),  # minutes
    "robot_token_duration": Key(30, int),  # days
    "robot_name_prefix": Key("robot$", str),
    "ldap_url": Key("", str),
    "ldap_search_dn": Key("", str),
    "ldap_search_password": Key("", str, secret=True),
    "ldap_base_dn": Key("", str),
    "ldap_filter": Key("", str),
    "ldap_uid": Key("uid", str),
    "ldap_scope": Key(2, int),
    "ldap_timeout": Key(5, int),
    "ldap_verify_cert": Key(True, bool),
    "ldap_group_base_dn": Key("", str),
    "ldap_group_search_filter": Key("", str),
    "ldap_group_attribute_name": Key("cn", str),
    "ldap_group_search_scope": Key(2, int),
    "ldap_group_membership_attribute": Key("memberof", str),
    "ldap_group_admin_dn": Key("", str),
}


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """Check names and types; return the values to store (ints may arrive as strings)."""
    clean: dict[str, Any] = {}
    for name, value in values.items():
        key = KEYS.get(name)
        if key is None:
            raise ConfigurationInvalid(f"unknown configuration item {name!r}")
        if key.kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if key.kind is bool and not isinstance(value, bool):
            raise ConfigurationInvalid(f"{name} must be a boolean")
        if key.kind is int:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise ConfigurationInvalid(f"{name} must be an integer")
            try:
                value = int(value)
            except ValueError:
                raise ConfigurationInvalid(f"{name} must be an integer") from None
        if key.kind is str and not isinstance(value, str):
            raise ConfigurationInvalid(f"{name} must be a string")
        if key.choices and value not in key.choices:
            raise ConfigurationInvalid(f"{name} must be one of {', '.join(key.choices)}")
        clean[name] = value
    return clean


def with_defaults(stored: dict[str, Any]) -> dict[str, Any]:
    return {name: stored.get(name, key.default) for name, key in KEYS.items()}


def for_display(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Harbor's GET shape; secrets are never returned, only whether they are set."""
    shown: dict[str, dict[str, Any]] = {}
    for name, key in KEYS.items():
        if key.secret:
            continue
        shown[name] = {"value": values[name], "editable": True}
    return shown


class ConfigurationCache:
    """The configuration as services use it: secret values (the LDAP bind password) are
    stored sealed and handed out in clear."""

    def __init__(self, db: Pool, box: SecretBox, ttl_seconds: float = 5.0) -> None:
        self._db = db
        self._box = box
        self._ttl = ttl_seconds
        self._values: dict[str, Any] | None = None
        self._loaded_at = 0.0

    async def get(self) -> dict[str, Any]:
        if self._values is None or time.monotonic() - self._loaded_at > self._ttl:
            loaded = await configurations.load(self._db)
            for key, purpose in SEALED_CONFIGURATION.items():
                if isinstance(loaded.get(key), str):
                    loaded[key] = self._box.reveal(loaded[key], purpose)
            self._values = with_defaults(loaded)
            self._loaded_at = time.monotonic()
        return self._values

    def invalidate(self) -> None:
        self._values = None

    async def update(self, values: dict[str, Any]) -> None:
        clean = validate(values)
        for key, purpose in SEALED_CONFIGURATION.items():
            if isinstance(clean.get(key), str):
                clean[key] = self._box.seal_if_clear(clean[key], purpose)
        await configurations.save(self._db, clean)
        self._values = None


async def seed_configuration(db: Executor, initial: dict[str, Any]) -> None:
    """Apply settings given at first start; keys already configured keep their values."""
    if initial:
        await configurations.seed(db, validate({k.lower(): v for k, v in initial.items()}))
