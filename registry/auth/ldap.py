"""LDAP / Active Directory identity backend, configured with Harbor's ``ldap_*`` settings.

A login is a search bind (with ``ldap_search_dn``, or anonymous when it is empty), a search for
exactly one entry ``(&(<ldap_uid>=<username>)<ldap_filter>)`` under ``ldap_base_dn``, then a bind
as that entry's DN with the given password. Group memberships come from the user's
``ldap_group_membership_attribute`` (``memberOf``) when the server keeps one, else from a search
for groups under ``ldap_group_base_dn`` naming the user in ``member``, ``uniqueMember`` or
``memberUid``; groups inside groups are then followed breadth first, with a depth cap and cycle
protection. A member of ``ldap_group_admin_dn`` (directly or through nesting) is a system admin.

Every value that comes from a caller is escaped before it goes into a filter, and a bind with an
empty password (which LDAP treats as an unauthenticated, always successful bind) is never sent.
ldap3 is blocking, so each operation runs whole in a worker thread. A server that cannot be
reached or refuses the search account raises :class:`AuthBackendError`; wrong credentials, an
unknown user or a username that matches several entries yield None.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import urllib.parse
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator

from registry.auth.base import AuthBackendError, Identity

with warnings.catch_warnings():
    # ldap3 2.9.1 imports pyasn1 names that pyasn1 0.6 deprecates (tagMap, typeMap) when first
    # loaded; harmless, and not ours to fix.
    warnings.filterwarnings(
        "ignore", message=r"(tagMap|typeMap) is deprecated", category=DeprecationWarning
    )
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import escape_rdn, parse_dn

__all__ = [
    "LdapAuthenticator",
    "LdapConfig",
    "LdapGroup",
    "find_user",
    "ping",
    "search_groups",
    "search_users",
]

# How far groups-in-groups are followed, and how many groups one person may collect.
NESTING_DEPTH: Final = 10
MAX_GROUPS: Final = 1000
# DNs per ``(|(member=…)…)`` filter when looking for the groups that contain a set of groups.
_FILTER_BATCH: Final = 50
# Longest username worth asking the directory about.
_MAX_USERNAME: Final = 256

_SCOPES: Final = {0: ldap3.BASE, 1: ldap3.LEVEL, 2: ldap3.SUBTREE}
_DEFAULT_GROUP_FILTER: Final = (
    "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)"
    "(objectClass=posixGroup)(objectClass=group))"
)
_RESULT_SUCCESS: Final = 0
_RESULT_SIZE_LIMIT: Final = 4
_RESULT_NO_SUCH_OBJECT: Final = 32
_RESULT_INVALID_DN: Final = 34
_RESULT_INVALID_CREDENTIALS: Final = 49
_RESULT_UNWILLING: Final = 53
# Entry attributes that describe a person.
_MAIL: Final = "mail"
_DISPLAY_NAME: Final = "displayName"
_CN: Final = "cn"
# Group attributes that name members: a DN (groupOfNames, AD), a DN (groupOfUniqueNames),
# a uid (posixGroup).
_MEMBER_DN_ATTRIBUTES: Final = ("member", "uniqueMember")
_MEMBER_UID_ATTRIBUTE: Final = "memberUid"

Scope = Literal[0, 1, 2]


def _check_attribute(value: str, *, allow_empty: bool = False) -> str:
    """An attribute description (name or OID) safe to put into a filter unescaped."""
    value = value.strip()
    if not value and allow_empty:
        return value
    name_ok = value[:1].isascii() and value[:1].isalpha() and value.isascii()
    if name_ok and all(c.isalnum() or c == "-" for c in value):
        return value
    if value and all(part.isdigit() for part in value.split(".")):
        return value
    raise ValueError(f"not an LDAP attribute name: {value!r}")


def _check_filter(value: str) -> str:
    """A filter with its outer parentheses (Harbor accepts ``objectClass=person`` too)."""
    value = value.strip()
    if value and not value.startswith("("):
        value = f"({value})"
    # Parentheses inside values are written \28 and \29, so every literal one is structure.
    depth = 0
    for position, char in enumerate(value):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0 or (depth == 0 and position < len(value) - 1):
            raise ValueError(f"not one LDAP filter: {value!r}")
    if depth:
        raise ValueError(f"unbalanced parentheses in LDAP filter: {value!r}")
    return value


def _check_dn(value: str, *, allow_empty: bool = True) -> str:
    value = value.strip()
    if not value:
        if allow_empty:
            return value
        raise ValueError("a DN is required")
    try:
        parse_dn(value, escape=False, strip=True)
    except LDAPException as error:
        raise ValueError(f"not a DN: {value!r} ({error})") from None
    return value


class LdapConfig(BaseModel):
    """Harbor's LDAP settings, under Harbor's configuration key names."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # ldap://host[:port] or ldaps://host[:port]; a bare host[:port] means ldap://.
    ldap_url: str
    # The account searches run as; empty for an anonymous search bind.
    ldap_search_dn: str = ""
    ldap_search_password: SecretStr | None = None
    ldap_base_dn: str
    # Extra filter ANDed into every user search, e.g. (objectClass=person).
    ldap_filter: str = ""
    # The attribute holding the login name: uid, sAMAccountName, cn, mail…
    ldap_uid: str = "uid"
    # 0 base, 1 one level, 2 subtree.
    ldap_scope: Scope = 2
    # Seconds allowed to connect and for each answer. Harbor's ping API names it
    # ldap_connection_timeout.
    ldap_timeout: int = Field(
        default=5,
        ge=1,
        le=300,
        validation_alias=AliasChoices("ldap_timeout", "ldap_connection_timeout"),
    )
    ldap_verify_cert: bool = True
    # Upgrade a plain ldap:// connection with StartTLS (not a Harbor setting; ignored for ldaps).
    ldap_starttls: bool = False
    ldap_group_base_dn: str = ""
    ldap_group_search_filter: str = ""
    ldap_group_attribute_name: str = "cn"
    ldap_group_search_scope: Scope = 2
    # The attribute on a user entry listing its groups' DNs; empty to always search groups.
    ldap_group_membership_attribute: str = "memberof"
    # Members of this group (also through nested groups) are system administrators.
    ldap_group_admin_dn: str = ""
    # Harbor attaches a user's groups in parallel when set; Berth resolves them in one pass
    # either way, so the setting is accepted and changes nothing.
    ldap_group_attach_parallel: bool = False

    @field_validator("ldap_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if "://" not in value:
            value = f"ldap://{value}"
        parts = urllib.parse.urlsplit(value)
        if parts.scheme.lower() not in ("ldap", "ldaps"):
            raise ValueError("ldap_url must start with ldap:// or ldaps://")
        if not parts.hostname:
            raise ValueError("ldap_url names no host")
        _ = parts.port  # raises ValueError for a port that is not a number in range
        if parts.username is not None or parts.password is not None:
            raise ValueError("ldap_url must not carry credentials")
        return value

    @field_validator("ldap_filter", "ldap_group_search_filter")
    @classmethod
    def _filter(cls, value: str) -> str:
        return _check_filter(value)

    @field_validator("ldap_uid", "ldap_group_attribute_name")
    @classmethod
    def _attribute(cls, value: str) -> str:
        return _check_attribute(value)

    @field_validator("ldap_group_membership_attribute")
    @classmethod
    def _optional_attribute(cls, value: str) -> str:
        return _check_attribute(value, allow_empty=True)

    @field_validator("ldap_search_dn", "ldap_group_base_dn", "ldap_group_admin_dn")
    @classmethod
    def _dn(cls, value: str) -> str:
        return _check_dn(value)

    @field_validator("ldap_base_dn")
    @classmethod
    def _base_dn(cls, value: str) -> str:
        return _check_dn(value, allow_empty=False)

    @property
    def secure(self) -> bool:
        return urllib.parse.urlsplit(self.ldap_url).scheme.lower() == "ldaps"

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.ldap_url).hostname or ""

    @property
    def port(self) -> int:
        return urllib.parse.urlsplit(self.ldap_url).port or (636 if self.secure else 389)

    @property
    def group_base_dn(self) -> str:
        return self.ldap_group_base_dn or self.ldap_base_dn

    @property
    def group_filter(self) -> str:
        return self.ldap_group_search_filter or _DEFAULT_GROUP_FILTER


@dataclass(frozen=True, slots=True)
class LdapGroup:
    dn: str
    name: str


# -- connections -------------------------------------------------------------------------------


class _Tls(ldap3.Tls):  # type: ignore[misc]
    """TLS with Python's own certificate and host name checks.

    ldap3 checks host names with ``ssl.match_hostname``, deprecated since Python 3.7 and gone in
    3.12, so the socket is wrapped here by a default context that checks the name itself.
    """

    def __init__(self, host: str, verify: bool) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE)
        self._host = host
        self._verify = verify

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if not self._verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        connection.socket = context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=self._host,
        )


def _server(config: LdapConfig) -> Any:
    return ldap3.Server(
        config.host,
        port=config.port,
        use_ssl=config.secure,
        tls=_Tls(config.host, config.ldap_verify_cert),
        get_info=ldap3.NONE,
        connect_timeout=config.ldap_timeout,
    )


def _where(config: LdapConfig) -> str:
    return f"{'ldaps' if config.secure else 'ldap'}://{config.host}:{config.port}"


def _describe(error: BaseException, *secrets_: str | None) -> str:
    """An exception as text, with any secret that might be echoed in it blotted out."""
    text = f"{type(error).__name__}: {error}"
    for secret in secrets_:
        if secret:
            text = text.replace(secret, "***")
    return text


def _result_text(conn: Any) -> str:
    result = conn.result or {}
    description = result.get("description") or "error"
    message = result.get("message") or ""
    return f"{description} ({message})" if message else str(description)


def _result_code(conn: Any) -> int:
    result = conn.result or {}
    code = result.get("result")
    return code if isinstance(code, int) else -1


def _open(config: LdapConfig, user: str | None, password: str | None) -> tuple[Any, bool]:
    """A connection bound as ``user`` (anonymous when None), and whether the bind succeeded.

    Raises AuthBackendError when the server cannot be reached or TLS cannot be set up.
    """
    kwargs: dict[str, Any] = {
        "client_strategy": ldap3.SYNC,
        "read_only": True,
        "receive_timeout": config.ldap_timeout,
        "raise_exceptions": False,
        "auto_referrals": False,
        "auto_bind": ldap3.AUTO_BIND_NONE,
    }
    if user is None:
        conn = ldap3.Connection(_server(config), authentication=ldap3.ANONYMOUS, **kwargs)
    else:
        conn = ldap3.Connection(
            _server(config),
            user=user,
            password=password,
            authentication=ldap3.SIMPLE,
            **kwargs,
        )
    try:
        conn.open(read_server_info=False)
        if config.ldap_starttls and not config.secure:
            conn.start_tls(read_server_info=False)
        bound = bool(conn.bind(read_server_info=False))
    except (LDAPException, OSError) as error:  # OSError: a socket or TLS error ldap3 let through
        _close(conn)
        raise AuthBackendError(
            f"cannot talk to LDAP server {_where(config)}: {_describe(error, password)}"
        ) from None
    return conn, bound


def _close(conn: Any) -> None:
    with suppress(LDAPException, OSError):
        conn.unbind()
    # ldap3 leaves the socket of a connection that failed to open (refused, timed out, TLS
    # failure) for the garbage collector.
    sock = getattr(conn, "socket", None)
    if sock is not None:
        with suppress(OSError):
            sock.close()


@contextmanager
def _search_session(config: LdapConfig) -> Iterator[Any]:
    """A connection bound with the search account (or anonymous), closed on exit."""
    password = config.ldap_search_password.get_secret_value() if config.ldap_search_password else ""
    if config.ldap_search_dn:
        if not password:
            raise AuthBackendError(
                f"search bind as {config.ldap_search_dn} failed: no ldap_search_password set"
            )
        conn, bound = _open(config, config.ldap_search_dn, password)
    else:
        conn, bound = _open(config, None, None)
    if not bound:
        text = _result_text(conn)
        _close(conn)
        who = config.ldap_search_dn or "anonymous"
        raise AuthBackendError(f"search bind as {who} at {_where(config)} failed: {text}")
    try:
        yield conn
    finally:
        _close(conn)


# -- searching ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    dn: str
    attributes: dict[str, list[str]]  # lower-cased attribute name → values

    def values(self, name: str) -> list[str]:
        return self.attributes.get(name.lower(), [])

    def first(self, name: str) -> str | None:
        values = self.values(name)
        return values[0] if values else None


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _search(
    conn: Any,
    config: LdapConfig,
    base: str,
    scope: int,
    search_filter: str,
    attributes: Iterable[str],
    *,
    size_limit: int = 0,
    missing_ok: bool = False,
) -> tuple[list[_Entry], bool]:
    """Entries found, and whether the server cut the answer short at ``size_limit``.

    A base that does not exist is an empty answer when ``missing_ok``, else a backend error
    (a misconfigured base DN must not look like a wrong password).
    """
    try:
        conn.search(
            base,
            search_filter,
            search_scope=_SCOPES[scope],
            attributes=sorted(set(attributes)) or [ldap3.NO_ATTRIBUTES],
            size_limit=size_limit,
            time_limit=config.ldap_timeout,
        )
    except LDAPException as error:
        raise AuthBackendError(
            f"LDAP search under {base!r} at {_where(config)} failed: {_describe(error)}"
        ) from None
    code = _result_code(conn)
    if code in (_RESULT_NO_SUCH_OBJECT, _RESULT_INVALID_DN) and missing_ok:
        return [], False
    if code not in (_RESULT_SUCCESS, _RESULT_SIZE_LIMIT):
        raise AuthBackendError(
            f"LDAP search under {base!r} at {_where(config)} failed: {_result_text(conn)}"
        )
    entries = []
    for item in conn.response or []:
        if item.get("type") != "searchResEntry":
            continue  # search references (referrals) are not followed
        raw = item.get("raw_attributes") or {}
        entries.append(
            _Entry(
                dn=str(item.get("dn", "")),
                attributes={
                    str(name).lower(): [_decode(value) for value in values]
                    for name, values in raw.items()
                },
            )
        )
    return entries, code == _RESULT_SIZE_LIMIT


def _and(*filters: str) -> str:
    present = [f for f in filters if f]
    return present[0] if len(present) == 1 else f"(&{''.join(present)})"


def _user_attributes(config: LdapConfig) -> list[str]:
    names = [config.ldap_uid, _MAIL, _DISPLAY_NAME, _CN]
    if config.ldap_group_membership_attribute:
        names.append(config.ldap_group_membership_attribute)
    return names


def _lookup_user(conn: Any, config: LdapConfig, username: str) -> _Entry | None:
    """The single entry whose login attribute equals ``username``, else None."""
    search_filter = _and(f"({config.ldap_uid}={escape_filter_chars(username)})", config.ldap_filter)
    entries, truncated = _search(
        conn,
        config,
        config.ldap_base_dn,
        config.ldap_scope,
        search_filter,
        _user_attributes(config),
        size_limit=2,
    )
    if truncated or len(entries) != 1:
        return None
    return entries[0]


def normalize_dn(dn: str) -> str:
    """A DN in a form fit for comparing: attribute names and values lower-cased, no spaces."""
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except LDAPException:
        return dn.strip().lower()
    return "".join(f"{name.lower()}={value.lower()}{sep}" for name, value, sep in parts)


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _containing_groups(conn: Any, config: LdapConfig, dns: list[str]) -> list[str]:
    """DNs of the groups under the group base that list any of ``dns`` as a member."""
    found: list[str] = []
    for batch in _batches(dns, _FILTER_BATCH):
        members = "".join(
            f"({attribute}={escape_filter_chars(dn)})"
            for dn in batch
            for attribute in _MEMBER_DN_ATTRIBUTES
        )
        entries, _ = _search(
            conn,
            config,
            config.group_base_dn,
            config.ldap_group_search_scope,
            _and(config.group_filter, f"(|{members})"),
            [],
            size_limit=MAX_GROUPS,
            missing_ok=True,
        )
        found.extend(entry.dn for entry in entries)
    return found


def _memberships(conn: Any, config: LdapConfig, dn: str) -> list[str]:
    """The membership attribute (memberOf) of the entry at ``dn``."""
    entries, _ = _search(
        conn,
        config,
        dn,
        0,
        "(objectClass=*)",
        [config.ldap_group_membership_attribute],
        missing_ok=True,
    )
    return entries[0].values(config.ldap_group_membership_attribute) if entries else []


def _groups_of(conn: Any, config: LdapConfig, user: _Entry, uid: str) -> list[str]:
    """DNs of every group the user is in, directly or through groups inside groups."""
    attribute = config.ldap_group_membership_attribute
    direct = user.values(attribute) if attribute else []
    by_attribute = bool(direct)
    if not by_attribute:
        members = "".join(
            f"({name}={escape_filter_chars(user.dn)})" for name in _MEMBER_DN_ATTRIBUTES
        )
        members += f"({_MEMBER_UID_ATTRIBUTE}={escape_filter_chars(uid)})"
        entries, _ = _search(
            conn,
            config,
            config.group_base_dn,
            config.ldap_group_search_scope,
            _and(config.group_filter, f"(|{members})"),
            [],
            size_limit=MAX_GROUPS,
            missing_ok=True,
        )
        direct = [entry.dn for entry in entries]

    seen: dict[str, str] = {}  # normalized DN → DN as the server spelled it
    frontier: list[str] = []
    for dn in direct:
        key = normalize_dn(dn)
        if key not in seen:
            seen[key] = dn
            frontier.append(dn)
    for _depth in range(NESTING_DEPTH):
        if not frontier or len(seen) >= MAX_GROUPS:
            break
        if by_attribute:
            parents = [parent for dn in frontier for parent in _memberships(conn, config, dn)]
        else:
            parents = _containing_groups(conn, config, frontier)
        frontier = []
        for dn in parents:
            key = normalize_dn(dn)
            if key not in seen and len(seen) < MAX_GROUPS:
                seen[key] = dn
                frontier.append(dn)
    return list(seen.values())


def _login_name(entry: _Entry, config: LdapConfig, asked: str | None) -> str:
    values = entry.values(config.ldap_uid)
    if asked is not None:
        for value in values:
            if value.casefold() == asked.casefold():
                return value
    return values[0] if values else (asked or entry.dn)


def _identity(
    conn: Any,
    config: LdapConfig,
    entry: _Entry,
    asked: str | None,
    *,
    with_groups: bool = True,
) -> Identity:
    username = _login_name(entry, config, asked)
    groups = _groups_of(conn, config, entry, username) if with_groups else []
    admin = normalize_dn(config.ldap_group_admin_dn) if config.ldap_group_admin_dn else None
    return Identity(
        username=username,
        email=entry.first(_MAIL),
        realname=entry.first(_DISPLAY_NAME) or entry.first(_CN),
        groups=tuple(groups),
        sysadmin=admin is not None and any(normalize_dn(dn) == admin for dn in groups),
        external_id=entry.dn,
    )


# -- blocking operations (run in a worker thread) ---------------------------------------------


def _verify_password(config: LdapConfig, dn: str, password: str) -> bool:
    conn, bound = _open(config, dn, password)
    try:
        if bound:
            return True
        code = _result_code(conn)
        if code in (_RESULT_INVALID_CREDENTIALS, _RESULT_UNWILLING):
            return False
        raise AuthBackendError(f"LDAP bind at {_where(config)} failed: {_result_text(conn)}")
    finally:
        _close(conn)


def _authenticate(config: LdapConfig, username: str, password: str) -> Identity | None:
    with _search_session(config) as conn:
        entry = _lookup_user(conn, config, username)
        if entry is None:
            # Spend the round trip a real bind would, so an unknown name is not faster.
            decoy = f"{config.ldap_uid}={escape_rdn(secrets.token_hex(16))},{config.ldap_base_dn}"
            _verify_password(config, decoy, password)
            return None
        if not _verify_password(config, entry.dn, password):
            return None
        return _identity(conn, config, entry, username)


def _ping(config: LdapConfig) -> None:
    with _search_session(config) as conn:
        _search(conn, config, config.ldap_base_dn, 0, "(objectClass=*)", [])


def _search_users(config: LdapConfig, username: str | None, limit: int) -> list[Identity]:
    if username:
        wanted = f"({config.ldap_uid}=*{escape_filter_chars(username)}*)"
    else:
        wanted = f"({config.ldap_uid}=*)"
    with _search_session(config) as conn:
        entries, _ = _search(
            conn,
            config,
            config.ldap_base_dn,
            config.ldap_scope,
            _and(wanted, config.ldap_filter),
            _user_attributes(config),
            size_limit=limit,
        )
        people = [_identity(conn, config, entry, None, with_groups=False) for entry in entries]
    return sorted(people, key=lambda person: person.username)


def _search_groups(config: LdapConfig, name: str | None, dn: str | None) -> list[LdapGroup]:
    attribute = config.ldap_group_attribute_name
    if dn:
        try:
            parse_dn(dn, escape=False, strip=True)
        except LDAPException:
            return []  # no group can live at something that is not a DN
        base, scope, wanted = dn, 0, ""
    else:
        base, scope = config.group_base_dn, config.ldap_group_search_scope
        wanted = f"({attribute}=*{escape_filter_chars(name)}*)" if name else ""
    with _search_session(config) as conn:
        entries, _ = _search(
            conn,
            config,
            base,
            scope,
            _and(config.group_filter, wanted),
            [attribute],
            size_limit=MAX_GROUPS,
            missing_ok=bool(dn),
        )
    groups = [
        LdapGroup(dn=entry.dn, name=entry.first(attribute) or _rdn_value(entry.dn))
        for entry in entries
    ]
    return sorted(groups, key=lambda group: (group.name.casefold(), group.dn))


def _rdn_value(dn: str) -> str:
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except LDAPException:
        return dn
    return str(parts[0][1]) if parts else dn


def _find_user(config: LdapConfig, username: str) -> Identity | None:
    with _search_session(config) as conn:
        entry = _lookup_user(conn, config, username)
        return None if entry is None else _identity(conn, config, entry, username)


def _usable(username: str) -> bool:
    return bool(username) and len(username) <= _MAX_USERNAME


# -- public API ---------------------------------------------------------------------------------


class LdapAuthenticator:
    """Checks usernames and passwords against an LDAP or Active Directory server."""

    name: str = "ldap"

    def __init__(self, config: LdapConfig) -> None:
        self.config = config

    async def authenticate(self, username: str, password: str) -> Identity | None:
        # LDAP treats a simple bind without a password as an anonymous bind that succeeds,
        # so an empty password must never reach the server.
        if not password or not _usable(username):
            return None
        return await asyncio.to_thread(_authenticate, self.config, username, password)


async def ping(config: LdapConfig) -> None:
    """Connect, bind as the search account and read the base DN; AuthBackendError says why not."""
    await asyncio.to_thread(_ping, config)


async def search_users(
    config: LdapConfig, username: str | None, *, limit: int = 1000
) -> list[Identity]:
    """People whose login name contains ``username`` (every person when None or empty).

    ``username`` is matched literally: a ``*`` in it is a star, not a wildcard. Groups are not
    resolved here (use :func:`find_user` for one person).
    """
    if username is not None and len(username) > _MAX_USERNAME:
        return []
    return await asyncio.to_thread(_search_users, config, username, limit)


async def search_groups(
    config: LdapConfig, name: str | None = None, dn: str | None = None
) -> list[LdapGroup]:
    """Groups matching the group filter: the one at ``dn``, else those whose name contains
    ``name`` (all when both are None) under ``ldap_group_base_dn``."""
    return await asyncio.to_thread(_search_groups, config, name, dn)


async def find_user(config: LdapConfig, username: str) -> Identity | None:
    """The person with exactly this login name, groups resolved, without checking a password."""
    if not _usable(username):
        return None
    return await asyncio.to_thread(_find_user, config, username)
