"""The rules on local accounts that need no database: the password rule, e-mail addresses,
and who may see an account."""

from __future__ import annotations

import pytest

from registry.auth.principal import Principal, PrincipalKind
from registry.services.errors import InvalidRequest, NotPermitted, PasswordInvalid
from registry.services.user import check_email, check_password, require_self_or_admin


@pytest.mark.parametrize("password", ["Harbor12345", "aB3aaaaa", "Zz9" + "x" * 125, "Ünï Cödé 1aA"])
def test_passwords_that_follow_harbors_rule(password: str) -> None:
    check_password(password)


@pytest.mark.parametrize(
    "password",
    [
        "",
        "aB3aaaa",  # seven characters
        "Zz9" + "x" * 126,  # 129 characters
        "harbor12345",  # no upper-case letter
        "HARBOR12345",  # no lower-case letter
        "HarborHarbor",  # no digit
        "ÄÖÜäöü123",  # only ASCII letters count as upper and lower case
    ],
)
def test_passwords_that_do_not(password: str) -> None:
    with pytest.raises(PasswordInvalid, match="8 to 128 characters"):
        check_password(password)


@pytest.mark.parametrize("email", [None, "", "dev@example.com", "a.b+c@sub.example"])
def test_acceptable_email_addresses(email: str | None) -> None:
    check_email(email)


@pytest.mark.parametrize(
    "email", ["dev", "dev@", "@example.com", "a@b@c", "dev @example.com", "dev@example.com\n"]
)
def test_unacceptable_email_addresses(email: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid email"):
        check_email(email)


def test_an_account_is_for_its_owner_and_the_administrators() -> None:
    owner = Principal("dev", PrincipalKind.USER, user_id=7)
    admin = Principal("admin", PrincipalKind.USER, user_id=1, sysadmin=True)
    require_self_or_admin(owner, 7)
    require_self_or_admin(admin, 7)
    with pytest.raises(NotPermitted, match="only see and change your own account"):
        require_self_or_admin(owner, 8)
    with pytest.raises(NotPermitted):
        require_self_or_admin(Principal(None), 7)
