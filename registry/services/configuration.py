"""System configuration with Harbor's keys: defaults, validation, masking, a short cache.

Values live in PostgreSQL so every replica sees the same; each process re-reads them at most
every few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry.db import configurations
from registry.db.pool import Executor, Pool
from registry.services.audit_events import check_disabled_types, check_endpoint
from registry.services.errors import ConfigurationInvalid
from registry.services.secret_storage import SEALED_CONFIGURATION
from registry.services.secrets import SecretBox


@dataclass(frozen=True, slots=True)
class Key:
    default: Any
    kind: type
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    # Raises ConfigurationInvalid for a value of the right type that still makes no sense.
    check: Callable[[Any], None] | None = None


KEYS: dict[str, Key] = {
    "auth_mode": Key("db_auth", str, choices=("db_auth", "ldap_auth", "oidc_auth")),
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
    # The rest of Harbor's keys: known, typed and kept. Those Berth acts on are described
    # in the README; the UAA and HTTP auth-proxy ones are stored for Harbor clients only.
    "primary_auth_mode": Key(False, bool),
    "ldap_group_attach_parallel": Key(False, bool),
    "uaa_client_id": Key("", str),
    "uaa_client_secret": Key("", str, secret=True),
    "uaa_endpoint": Key("", str),
    "uaa_verify_cert": Key(True, bool),
    "http_authproxy_endpoint": Key("", str),
    "http_authproxy_tokenreview_endpoint": Key("", str),
    "http_authproxy_admin_groups": Key("", str),
    "http_authproxy_admin_usernames": Key("", str),
    "http_authproxy_verify_cert": Key(True, bool),
    "http_authproxy_skip_search": Key(False, bool),
    "http_authproxy_server_certificate": Key("", str),
    "oidc_name": Key("", str),
    "oidc_endpoint": Key("", str),
    "oidc_client_id": Key("", str),
    "oidc_client_secret": Key("", str, secret=True),
    "oidc_groups_claim": Key("", str),
    "oidc_admin_group": Key("", str),
    "oidc_group_filter": Key("", str),
    "oidc_scope": Key("openid,offline_access", str),
    "oidc_user_claim": Key("", str),
    "oidc_verify_cert": Key(True, bool),
    "oidc_auto_onboard": Key(False, bool),
    "oidc_extra_redirect_parms": Key("", str),
    "oidc_logout": Key(False, bool),
    "notification_enable": Key(True, bool),
    "quota_per_project_enable": Key(True, bool),
    "storage_per_project": Key(-1, int, minimum=-1),  # bytes; -1 is unlimited
    # host:port of a syslog receiver (TCP), or tcp://host:port, udp://host:port
    "audit_log_forward_endpoint": Key("", str, check=check_endpoint),
    "skip_audit_log_database": Key(False, bool),
    "session_timeout": Key(60, int, minimum=1),  # minutes
    "scanner_skip_update_pulltime": Key(False, bool),
    "banner_message": Key("", str),
    # comma-separated event types (/auditlog-exts/events), or other
    "disabled_audit_log_event_types": Key("", str, check=check_disabled_types),
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
        if key.minimum is not None and value < key.minimum:
            raise ConfigurationInvalid(f"{name} must be at least {key.minimum}")
        if key.check is not None:
            key.check(value)
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

    async def get(self, *, fresh: bool = False) -> dict[str, Any]:
        """The configuration, at most ``ttl_seconds`` old in this process (a change made
        through another process takes effect here within that); ``fresh`` reads it now, for
        those who show it back (the API, the portal)."""
        if fresh or self._values is None or time.monotonic() - self._loaded_at > self._ttl:
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
