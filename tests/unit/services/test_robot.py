"""Robot accounts, the parts decided without a database: generated secrets, the permission
list Harbor's API sends, and when a robot expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registry.services.errors import InvalidRequest
from registry.services.robot import (
    MAX_DURATION_DAYS,
    check_permissions,
    expiry,
    generate_secret,
)
from registry.services.user import check_password


def test_generated_secrets_pass_the_password_rule_and_differ() -> None:
    secrets = {generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        check_password(secret)
        assert len(secret) == 32


def grant(*access: tuple[str, str], namespace: str = "team", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "project",
        "namespace": namespace,
        "access": [{"resource": r, "action": a} for r, a in access],
        **extra,
    }


def test_a_permission_list_is_stored_in_its_canonical_form() -> None:
    given = [
        grant(("repository", "pull"), ("repository", "push")),
        {"namespace": "*", "access": [{"resource": "tag", "action": "create", "effect": "allow"}]},
    ]
    assert check_permissions(given) == [
        {
            "kind": "project",
            "namespace": "team",
            "access": [
                {"resource": "repository", "action": "pull", "effect": "allow"},
                {"resource": "repository", "action": "push", "effect": "allow"},
            ],
        },
        {
            "kind": "project",
            "namespace": "*",
            "access": [{"resource": "tag", "action": "create", "effect": "allow"}],
        },
    ]
    assert check_permissions(()) == []


@pytest.mark.parametrize(
    ("permissions", "reason"),
    [
        ({"namespace": "team"}, "permissions must be a list"),
        (["team"], 'each permission needs kind "project"'),
        ([{**grant(), "kind": "system"}], 'each permission needs kind "project"'),
        ([{"kind": "project", "access": []}], "needs a namespace and an access list"),
        ([grant(namespace="")], "needs a namespace and an access list"),
        ([{"namespace": "team", "access": {}}], "needs a namespace and an access list"),
        ([{"namespace": "team", "access": ["pull"]}], "access entries are objects"),
        (
            [{"namespace": "team", "access": [{"resource": "repository", "action": 1}]}],
            "resource and action are strings",
        ),
        ([grant(("repository", "pull-push"))], "unsupported robot permission repository:pull-push"),
        ([grant(("user", "create"))], "unsupported robot permission user:create"),
    ],
)
def test_malformed_permissions_say_why(permissions: object, reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason):
        check_permissions(permissions)


def test_deny_items_are_refused_rather_than_silently_kept() -> None:
    denied = {"resource": "repository", "action": "push", "effect": "deny"}
    with pytest.raises(InvalidRequest, match=r"deny permissions are not supported \(repository"):
        check_permissions([{"namespace": "team", "access": [denied]}])
    odd = {**denied, "effect": "maybe"}
    with pytest.raises(InvalidRequest, match="effect must be allow"):
        check_permissions([{"namespace": "team", "access": [odd]}])


def test_a_robot_expires_after_its_duration_in_days_or_never() -> None:
    assert expiry(-1) is None
    before = datetime.now(UTC)
    expires = expiry(30)
    assert expires is not None
    assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30)
    assert expiry(MAX_DURATION_DAYS) is not None


@pytest.mark.parametrize("duration", [0, -2, MAX_DURATION_DAYS + 1])
def test_other_durations_are_refused(duration: int) -> None:
    with pytest.raises(InvalidRequest, match=r"duration is -1 \(never expires\)"):
        expiry(duration)
