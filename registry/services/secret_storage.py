"""Which stored values are sealed secrets, and sealing those found in clear.

Sealed with :mod:`registry.services.secrets`: the LDAP bind password (``configurations``), the
``auth_header`` of every webhook target (``webhook_policies.targets``) and of the target each
delivery job carries (``jobs.parameters``). Robot secrets and passwords are never sealed: they
are only ever checked, so only their scrypt hashes are kept.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from registry.config import Settings
from registry.db import secrets as stored
from registry.db.pool import Pool
from registry.db.webhooks import KIND as WEBHOOK_KIND
from registry.services.secrets import SecretBox, SecretKeyError, is_sealed, load_secret_box

log = logging.getLogger(__name__)

LDAP_PASSWORD: Final = "configuration:ldap_search_password"  # noqa: S105 — a purpose label, not a secret
WEBHOOK_AUTH_HEADER: Final = "webhook:auth_header"
# Configuration keys whose values are sealed, and the purpose each is sealed for.
SEALED_CONFIGURATION: Final = {
    "ldap_search_password": LDAP_PASSWORD,
    "oidc_client_secret": "configuration:oidc_client_secret",
    "uaa_client_secret": "configuration:uaa_client_secret",
}
_CHECK: Final = "secret-key-check"
_CHECK_TEXT: Final = "berth"


def seal_target(box: SecretBox, target: dict[str, Any]) -> dict[str, Any]:
    """A webhook target with its auth header sealed (one already sealed is kept)."""
    header = target.get("auth_header")
    if not isinstance(header, str) or not header:
        return target
    return {**target, "auth_header": box.seal_if_clear(header, WEBHOOK_AUTH_HEADER)}


async def open_secret_box(settings: Settings, db: Pool) -> SecretBox:
    """The process's box, after checking its key is the one this database's secrets are
    sealed with, and sealing what is still stored in clear."""
    box = load_secret_box(settings)
    check = await stored.key_check(db)
    if check is None:
        await stored.add_key_check(db, box.seal(_CHECK_TEXT, _CHECK))
        check = await stored.key_check(db)
        assert check is not None
    try:
        opened = box.reveal(check, _CHECK)
    except SecretKeyError:
        opened = None
    if opened != _CHECK_TEXT:
        raise SecretKeyError(
            "this process's secret key is not the one the database's secrets are sealed with: "
            "give every Berth process sharing the database the same key "
            "(BERTH_SECRET_KEY_PATH or BERTH_SECRET_KEY)"
        )
    sealed = await seal_clear_secrets(db, box)
    if sealed:
        log.info("sealed %d secret(s) that were stored in clear", sealed)
    return box


async def seal_clear_secrets(db: Pool, box: SecretBox) -> int:
    """Seal every secret still stored in clear; how many were. Safe to run in several
    processes at once: each value is replaced only if it is still the clear one read."""
    count = 0
    for key, purpose in SEALED_CONFIGURATION.items():
        value = await stored.configuration_value(db, key)
        if isinstance(value, str) and value and not is_sealed(value):
            await stored.replace_configuration_value(db, key, value, box.seal(value, purpose))
            count += 1
    for row in await stored.webhook_targets(db):
        targets = list(row["targets"])
        sealed_targets = [seal_target(box, dict(t)) for t in targets]
        if sealed_targets != targets:
            await stored.replace_webhook_targets(db, row["id"], targets, sealed_targets)
            count += 1
    for row in await stored.webhook_job_targets(db, WEBHOOK_KIND):
        target = dict(row["target"])
        sealed_target = seal_target(box, target)
        if sealed_target != target:
            await stored.replace_webhook_job_target(db, row["id"], target, sealed_target)
            count += 1
    return count
