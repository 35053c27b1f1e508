"""A real OpenLDAP server (slapd) for tests, with a small directory Berth can log in against.

The server runs in the foreground as a child process on free 127.0.0.1 ports, plain LDAP (which
also offers StartTLS) and LDAPS, both with a freshly generated self-signed certificate. Its
configuration (cn=config, mdb backend, memberof and refint overlays) is written with
``slapadd -n0`` and the entries are added over the wire after start, so that the memberof overlay
maintains ``memberOf`` the way it does in production.

Everything lives in a directory made with :func:`tempfile.mkdtemp`, not under pytest's tmp_path
tree (pytest resets that tree's permissions, and slapd must be able to read its files whatever
user it runs as). slapd is never told to drop privileges (no ``-u``/``-g``), so it runs as the
user running the tests.

The directory::

    dc=berth,dc=test
      cn=admin                      rootdn (not an entry)
      cn=reader                     read-only search account
      ou=people
        uid=alice                   developers
        uid=bob                     ops (and so admins, nested)
        uid=carol                   no groups, departmentNumber=sales
        uid=o'neil(*)+,\\x          developers (special characters in the uid)
        uid=twin                    also exists in ou=contractors: two matches in a subtree
        uid=erin                    loop1 (loop1 ∈ loop2 ∈ loop1: a cycle)
        uid=frank                   chain0 (chain0 ∈ chain1 ∈ … ∈ chain13)
        ou=contractors
          uid=dave                  developers
          uid=twin
      ou=groups
        cn=developers               alice, dave, o'neil
        cn=ops                      bob
        cn=admins                   cn=ops (a group inside a group)
        cn=loop1, cn=loop2          each a member of the other
        cn=chain0 … cn=chain13      each a member of the next
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from registry.auth.ldap import LdapConfig

with warnings.catch_warnings():
    # ldap3 2.9.1 imports pyasn1 names pyasn1 0.6 deprecates; see registry.auth.ldap.
    warnings.filterwarnings(
        "ignore", message=r"(tagMap|typeMap) is deprecated", category=DeprecationWarning
    )
    import ldap3
    from ldap3.utils.dn import escape_rdn

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
MODULE_PATH = "/usr/lib/ldap"
SCHEMA_DIR = "/etc/ldap/schema"
START_SECONDS = 5.0
STOP_SECONDS = 5.0

BASE_DN = "dc=berth,dc=test"
PEOPLE_DN = f"ou=people,{BASE_DN}"
CONTRACTORS_DN = f"ou=contractors,{PEOPLE_DN}"
GROUPS_DN = f"ou=groups,{BASE_DN}"
SPECIAL_UID = "o'neil(*)+,\\x"
# Groups chain0 ∋ frank, chain1 ∋ chain0, …: longer than any nesting walk should follow.
CHAIN_LENGTH = 14


def slapd_available() -> bool:
    return (
        all(os.access(tool, os.X_OK) for tool in (SLAPD, SLAPADD))
        and Path(MODULE_PATH, "back_mdb.so").exists()
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "server.crt"
    key_path = directory / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class User:
    uid: str
    password: str
    mail: str
    cn: str
    display_name: str | None = None
    parent: str = PEOPLE_DN
    department: str = "eng"

    @property
    def dn(self) -> str:
        return f"uid={escape_rdn(self.uid)},{self.parent}"


@dataclass
class LdapServer:
    """One slapd with the test directory; ``start()`` it, ``stop()`` it when done."""

    admin_dn: str = f"cn=admin,{BASE_DN}"
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    reader_dn: str = f"cn=reader,{BASE_DN}"
    reader_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    base_dn: str = BASE_DN
    people_dn: str = PEOPLE_DN
    contractors_dn: str = CONTRACTORS_DN
    groups_dn: str = GROUPS_DN
    special_uid: str = SPECIAL_UID
    port: int = 0
    ldaps_port: int = 0
    root: Path | None = None
    cert_file: Path | None = None
    users: dict[str, User] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        def user(uid: str, cn: str, **extra: Any) -> User:
            return User(
                uid=uid,
                password=f"{uid[:3]}-{secrets.token_urlsafe(9)}",
                mail=f"{uid.replace(chr(92), '')}@berth.test",
                cn=cn,
                **extra,
            )

        self.users = {
            "alice": user("alice", "Alice Liddell", display_name="Alice L."),
            "bob": user("bob", "Bob Builder"),
            "carol": user("carol", "Carol Danvers", department="sales"),
            SPECIAL_UID: user(SPECIAL_UID, "Special Person"),
            "dave": user("dave", "Dave Contractor", parent=CONTRACTORS_DN),
            "twin": user("twin", "Twin One"),
            "twin2": user("twin", "Twin Two", parent=CONTRACTORS_DN),
            "erin": user("erin", "Erin Loop"),
            "frank": user("frank", "Frank Chain"),
        }

    # -- addresses and convenience ----------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def password(self, uid: str) -> str:
        return self.users[uid].password

    def dn(self, uid: str) -> str:
        return self.users[uid].dn

    def group_dn(self, name: str) -> str:
        return f"cn={name},{GROUPS_DN}"

    def config(self, **overrides: Any) -> LdapConfig:
        """A configuration for this server searching as the reader; keywords override fields."""
        values: dict[str, Any] = {
            "ldap_url": self.url,
            "ldap_search_dn": self.reader_dn,
            "ldap_search_password": self.reader_password,
            "ldap_base_dn": PEOPLE_DN,
            "ldap_uid": "uid",
            "ldap_scope": 2,
            "ldap_timeout": 5,
            "ldap_group_base_dn": GROUPS_DN,
            "ldap_group_search_filter": "(objectClass=groupOfNames)",
            "ldap_group_attribute_name": "cn",
            "ldap_group_admin_dn": self.group_dn("admins"),
        }
        values.update(overrides)
        return LdapConfig.model_validate(values)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LdapServer:
        self.root = Path(tempfile.mkdtemp(prefix="berth-test-slapd-"))
        try:
            self.cert_file, key_file = _self_signed(self.root)
            config_dir = self.root / "slapd.d"
            data_dir = self.root / "data"
            config_dir.mkdir()
            data_dir.mkdir()
            ldif = self.root / "config.ldif"
            ldif.write_text(self._config_ldif(data_dir, self.cert_file, key_file))
            subprocess.run(
                [SLAPADD, "-n0", "-F", str(config_dir), "-l", str(ldif)],
                check=True,
                capture_output=True,
                timeout=30,
            )
            self._launch(config_dir)
            self._populate()
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, config_dir: Path) -> None:
        assert self.root is not None
        last_error = ""
        for _ in range(3):  # a port picked as free may be taken before slapd binds it
            self.port, self.ldaps_port = _free_port(), _free_port()
            urls = f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.ldaps_port}/"
            log_path = self.root / "slapd.log"
            with log_path.open("wb") as log:
                # -d keeps slapd in the foreground, so it stays our child and SIGTERM stops it.
                self._process = subprocess.Popen(
                    [SLAPD, "-d", "0", "-F", str(config_dir), "-h", urls],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            deadline = time.monotonic() + START_SECONDS
            while time.monotonic() < deadline and self._process.poll() is None:
                if _listening(self.port) and _listening(self.ldaps_port):
                    return
                time.sleep(0.02)
            last_error = log_path.read_text(errors="replace")[-4000:]
            self._terminate()
        raise RuntimeError(f"slapd did not start:\n{last_error}")

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        self._terminate()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    # -- content ---------------------------------------------------------------------------

    def admin_connection(self) -> ldap3.Connection:
        server = ldap3.Server("127.0.0.1", port=self.port, get_info=ldap3.NONE, connect_timeout=5)
        return ldap3.Connection(
            server,
            user=self.admin_dn,
            password=self.admin_password,
            auto_bind=ldap3.AUTO_BIND_NO_TLS,
            receive_timeout=5,
            raise_exceptions=True,
        )

    def _populate(self) -> None:
        conn = self.admin_connection()
        try:

            def add(dn: str, object_class: list[str], attributes: dict[str, Any]) -> None:
                conn.add(dn, object_class, attributes)

            add(BASE_DN, ["dcObject", "organization"], {"dc": "berth", "o": "Berth Test"})
            add(
                self.reader_dn,
                ["organizationalRole", "simpleSecurityObject"],
                {"cn": "reader", "userPassword": self.reader_password},
            )
            add(PEOPLE_DN, ["organizationalUnit"], {"ou": "people"})
            add(CONTRACTORS_DN, ["organizationalUnit"], {"ou": "contractors"})
            add(GROUPS_DN, ["organizationalUnit"], {"ou": "groups"})
            for user in self.users.values():
                attributes: dict[str, Any] = {
                    "uid": user.uid,
                    "cn": user.cn,
                    "sn": user.cn.split()[-1],
                    "mail": user.mail,
                    "userPassword": user.password,
                    "departmentNumber": user.department,
                }
                if user.display_name:
                    attributes["displayName"] = user.display_name
                add(user.dn, ["inetOrgPerson"], attributes)
            # A member must exist before its group is added, for the memberof overlay to record
            # the membership on it: ops before admins, chain0 before chain1 and so on.
            groups = {
                "developers": [self.dn("alice"), self.dn("dave"), self.dn(SPECIAL_UID)],
                "ops": [self.dn("bob")],
                "admins": [self.group_dn("ops")],
                "loop1": [self.dn("erin")],
                "loop2": [self.group_dn("loop1")],
                "chain0": [self.dn("frank")],
            }
            for level in range(1, CHAIN_LENGTH):
                groups[f"chain{level}"] = [self.group_dn(f"chain{level - 1}")]
            for name, members in groups.items():
                add(self.group_dn(name), ["groupOfNames"], {"cn": name, "member": members})
            # Close the loop: loop1 ∈ loop2 ∈ loop1.
            conn.modify(
                self.group_dn("loop1"),
                {"member": [(ldap3.MODIFY_ADD, [self.group_dn("loop2")])]},
            )
        finally:
            conn.unbind()

    def _config_ldif(self, data_dir: Path, cert_file: Path, key_file: Path) -> str:
        assert self.root is not None
        schemas = "".join(
            f"include: file://{SCHEMA_DIR}/{name}.ldif\n"
            for name in ("core", "cosine", "nis", "inetorgperson")
        )
        return f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {self.root}/slapd.pid
olcArgsFile: {self.root}/slapd.args
olcTLSCertificateFile: {cert_file}
olcTLSCertificateKeyFile: {key_file}

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {MODULE_PATH}
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: 500

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {BASE_DN}
olcRootDN: {self.admin_dn}
olcRootPW: {self.admin_password}
olcDbDirectory: {data_dir}
olcDbMaxSize: 33554432
olcDbIndex: objectClass eq
olcDbIndex: uid,cn eq,sub
olcDbIndex: member eq
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to * by * read

dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {{0}}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={{1}}refint,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {{1}}refint
olcRefintAttribute: member
"""
