"""User accounts through registry.services.user: the rules, the changes, the audit trail."""

from __future__ import annotations

import pytest

from registry.auth.principal import ANONYMOUS, Principal
from registry.query import ListQuery, Match, Term
from registry.services import user
from registry.services.context import Backends
from registry.services.errors import (
    InvalidRequest,
    NotPermitted,
    PasswordInvalid,
    ResourceExists,
    UserUnknown,
)
from tests.integration.services.conftest import audit_lines, login


async def _dev(backends: Backends, admin: Principal) -> tuple[int, Principal]:
    user_id = await user.create_user(backends, admin, "dev", "Passw0rdX", email="dev@example.com")
    return user_id, await login(backends.identity, "dev", "Passw0rdX")


@pytest.mark.parametrize("password", ["short1A", "alllower1", "ALLUPPER1", "NoDigitsHere"])
def test_the_password_rule(password: str) -> None:
    with pytest.raises(PasswordInvalid):
        user.check_password(password)
    user.check_password("Passw0rdX")


async def test_admins_create_users_and_the_creation_is_audited(
    backends: Backends, admin: Principal
) -> None:
    user_id, dev = await _dev(backends, admin)
    assert (await user.get_user(backends, dev, user_id))["email"] == "dev@example.com"
    with pytest.raises(ResourceExists):
        await user.create_user(backends, admin, "dev", "Passw0rdX")
    with pytest.raises(InvalidRequest):
        await user.create_user(backends, admin, "robot$x", "Passw0rdX")
    with pytest.raises(NotPermitted):
        await user.create_user(backends, dev, "other", "Passw0rdX")
    with pytest.raises(NotPermitted):  # self-registration is off by default
        await user.create_user(backends, ANONYMOUS, "other", "Passw0rdX")
    assert await audit_lines(backends) == [("create", "user", "dev", "admin")]


async def test_users_see_and_change_only_themselves(backends: Backends, admin: Principal) -> None:
    user_id, dev = await _dev(backends, admin)
    with pytest.raises(NotPermitted):
        await user.get_user(backends, dev, admin.user_id or 0)
    await user.update_profile(backends, dev, user_id, email=None, realname="Dev", comment=None)
    assert (await user.current_user(backends, dev))["realname"] == "Dev"
    with pytest.raises(InvalidRequest):
        await user.change_password(backends, dev, user_id, "NewPassw0rd", "wrong")
    await user.change_password(backends, dev, user_id, "NewPassw0rd", "Passw0rdX")
    await login(backends.identity, "dev", "NewPassw0rd")
    assert ("update", "user", "dev:password", "dev") in await audit_lines(backends)


async def test_admin_stays_sysadmin_and_cannot_be_deleted(
    backends: Backends, admin: Principal
) -> None:
    user_id, dev = await _dev(backends, admin)
    assert admin.user_id is not None
    with pytest.raises(NotPermitted):
        await user.set_sysadmin(backends, admin, admin.user_id, False)
    with pytest.raises(NotPermitted):
        await user.delete_user(backends, admin, admin.user_id)
    with pytest.raises(NotPermitted):
        await user.delete_user(backends, dev, user_id)
    await user.set_sysadmin(backends, admin, user_id, True)
    await user.delete_user(backends, admin, user_id)
    with pytest.raises(UserUnknown):
        await user.get_user(backends, admin, user_id)
    assert (await audit_lines(backends))[-2:] == [
        ("update", "user", "dev:sysadmin", "admin"),
        ("delete", "user", "dev", "admin"),
    ]


async def test_listing_filters_by_name(backends: Backends, admin: Principal) -> None:
    await _dev(backends, admin)
    rows, total = await user.list_users(
        backends, ListQuery({"username": Term(Match.CONTAINS, ("de",))})
    )
    assert (total, [r["username"] for r in rows]) == (1, ["dev"])
    rows, total = await user.list_users(backends, ListQuery(page_size=1, page=2))
    assert (total, len(rows)) == (2, 1)
