"""Debian's nginx in front of the two servers of ``berth_pair``, running deploy/nginx.conf.

The production file is rendered for the test by exact text substitution of its listen ports,
upstream addresses and log/temp directories, nothing else; every substituted text must be
found, so an edit of deploy/nginx.conf that the rendering no longer matches fails loudly
instead of leaving a production address in the test config.

``enable_tls`` applies the file's own instructions for TLS (remove the plain-HTTP server,
uncomment the example) so the commented TLS servers are run too.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e._servers import REPO_ROOT, ServerError, ServerProcess, free_port

DEPLOY_CONF = REPO_ROOT / "deploy" / "nginx.conf"
NGINX_BINARY = "/usr/sbin/nginx"
NGINX_READY_TIMEOUT = 20.0
# The upstream servers deploy/nginx.conf names, as `server <address> ` lines.
PRODUCTION_UPSTREAMS = ("127.0.0.1:5000", "127.0.0.1:5001")
PLAIN_LISTEN = "listen 80 default_server;"
TLS_LISTEN = "listen 443 ssl http2 default_server;"
# IPv6 may be off on a test machine; the test servers listen on 127.0.0.1 only.
IPV6_LISTENS = ("listen [::]:80 default_server;", "listen [::]:443 ssl http2 default_server;")
CERTIFICATE = "/etc/nginx/tls/berth.crt"
# The alias of the internal location nginx serves blob files from (Berth's storage root).
STORAGE_ROOT = "/var/lib/berth/storage/"
CERTIFICATE_KEY = "/etc/nginx/tls/berth.key"
TLS_BEGIN = "# BEGIN TLS EXAMPLE"
TLS_END = "# END TLS EXAMPLE"
_UPSTREAM_FIELD = re.compile(r"\bupstream=(.*?) ustatus=")


def deploy_conf() -> str:
    return DEPLOY_CONF.read_text()


def _substitute(text: str, old: str, new: str) -> str:
    assert old in text, f"{DEPLOY_CONF} no longer contains {old!r}; update tests/e2e/_nginx.py"
    return text.replace(old, new)


def render(
    text: str,
    *,
    root: Path,
    http_port: int,
    upstreams: list[str],
    https_port: int | None = None,
    certificate: tuple[Path, Path] | None = None,
    storage_root: Path | None = None,
) -> str:
    """``text`` with the test's ports, backends and directories; everything else unchanged.

    Both nginx logs go to ``root/nginx.log``, the file ``ServerProcess`` reports from, so a
    failed test shows the access and error lines interleaved. The internal blob location
    serves ``storage_root`` (by default an empty directory under ``root``).
    """
    assert len(upstreams) == len(PRODUCTION_UPSTREAMS), upstreams
    text = _substitute(text, PLAIN_LISTEN, f"listen 127.0.0.1:{http_port} default_server;")
    if https_port is not None:
        text = _substitute(
            text, TLS_LISTEN, f"listen 127.0.0.1:{https_port} ssl http2 default_server;"
        )
    for listen in IPV6_LISTENS:
        text = _substitute(text, listen, "")
    for production, address in zip(PRODUCTION_UPSTREAMS, upstreams, strict=True):
        text = _substitute(text, f"server {production} ", f"server {address} ")
    if certificate is not None:
        text = _substitute(text, CERTIFICATE_KEY, str(certificate[1]))
        text = _substitute(text, CERTIFICATE, str(certificate[0]))
    storage = storage_root if storage_root is not None else root / "no-storage"
    text = _substitute(text, STORAGE_ROOT, f"{storage}/")
    log = root / "nginx.log"
    text = _substitute(text, "/var/log/nginx/access.log", str(log))
    text = _substitute(text, "/var/log/nginx/error.log", str(log))
    return _substitute(text, "/var/lib/nginx/", f"{root}/")


def server_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each ``server { … }`` block of uncommented text."""
    blocks = []
    for match in re.finditer(r"^[ \t]*server\s*\{", text, re.MULTILINE):
        depth = 0
        for index in range(match.end() - 1, len(text)):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    blocks.append((match.start(), index + 1))
                    break
    return blocks


def directives(block: str, *, from_first: str = "location ") -> list[str]:
    """The block's directive lines from the first ``from_first`` on, comments and blanks
    dropped, whitespace normalised: what nginx acts on."""
    lines = []
    started = False
    for raw in block.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith(from_first):
            started = True
        if started and line:
            lines.append(" ".join(line.split()))
    return lines


def uncomment_tls_example(text: str) -> str:
    """The text with one leading ``#`` removed from each line of the TLS example."""
    begin = text.index(TLS_BEGIN)
    end = text.index(TLS_END)
    head, body, tail = text[:begin], text[begin:end], text[end:]
    lines = body.splitlines(keepends=True)
    # The BEGIN line itself stays a comment.
    uncommented = [lines[0], *(line[1:] if line.startswith("#") else line for line in lines[1:])]
    return head + "".join(uncommented) + tail


def enable_tls(text: str) -> str:
    """What the file tells an operator to do: drop the plain server, uncomment the example."""
    blocks = server_blocks(text)
    assert len(blocks) == 1, f"expected exactly one uncommented server in {DEPLOY_CONF}"
    start, end = blocks[0]
    return uncomment_tls_example(text[:start] + text[end:])


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throwaway certificate for ``host`` → (certificate path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth e2e")])
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
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "berth.crt"
    key_path = directory / "berth.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def nginx_workdir() -> Path:
    """A directory nginx's workers (``user www-data``) can enter for their temp files.

    pytest's tmp dirs sit under a mode-0700 directory of root's, which www-data cannot
    traverse; the caller removes this one.
    """
    path = Path(tempfile.mkdtemp(prefix="e2e-nginx-", dir="/tmp"))
    path.chmod(0o755)
    return path


def _wait_listening(server: ServerProcess, ports: list[int], timeout: float) -> None:
    assert server.proc is not None
    deadline = time.monotonic() + timeout
    pending = list(ports)
    while pending:
        code = server.proc.poll()
        if code is not None:
            raise ServerError(f"{server.name} exited with {code} before it was ready", server)
        try:
            with socket.create_connection(("127.0.0.1", pending[0]), timeout=1.0):
                pending.pop(0)
                continue
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ServerError(f"{server.name} not listening on {pending} after {timeout} s", server)
        time.sleep(0.1)


def start_nginx(
    root: Path, conf_text: str, *, ports: list[int], name: str = "nginx"
) -> ServerProcess:
    """Run ``nginx`` in the foreground on ``conf_text``; return once it accepts on ``ports``."""
    conf = root / "nginx.conf"
    conf.write_text(conf_text)
    server = ServerProcess(
        name,
        [
            NGINX_BINARY,
            "-p",
            f"{root}/",
            "-c",
            str(conf),
            "-g",
            f"daemon off; pid {root}/nginx.pid;",
        ],
        env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
        log_path=root / "nginx.log",
        cwd=root,
    )
    server.start()
    try:
        _wait_listening(server, ports, NGINX_READY_TIMEOUT)
    except ServerError:
        server.stop()
        raise
    return server


def start_nginx_front(
    root: Path, upstreams: list[str], storage_root: Path | None = None
) -> tuple[ServerProcess, str]:
    """deploy/nginx.conf as is (plain HTTP) in front of ``upstreams`` → (server, host)."""
    port = free_port()
    text = render(
        deploy_conf(), root=root, http_port=port, upstreams=upstreams, storage_root=storage_root
    )
    server = start_nginx(root, text, ports=[port])
    host = f"127.0.0.1:{port}"
    try:
        # Through nginx to a backend and back: the whole path works.
        server.wait_ready(f"http://{host}", NGINX_READY_TIMEOUT)
    except ServerError:
        server.stop()
        raise
    return server, host


def start_nginx_tls_front(root: Path, upstreams: list[str]) -> tuple[ServerProcess, str, str]:
    """deploy/nginx.conf with its TLS example enabled → (server, https host, redirect host)."""
    https_port, http_port = free_port(), free_port()
    text = render(
        enable_tls(deploy_conf()),
        root=root,
        http_port=http_port,
        upstreams=upstreams,
        https_port=https_port,
        certificate=self_signed_certificate(root),
    )
    server = start_nginx(root, text, ports=[https_port, http_port], name="nginx-tls")
    return server, f"127.0.0.1:{https_port}", f"127.0.0.1:{http_port}"


def spooled_bytes(server: ServerProcess) -> int:
    """Bytes nginx's processes hold in temp files under the server's directory right now.

    nginx unlinks a temp file (request body, buffered response) as soon as it creates it,
    so such files are only visible as open descriptors of its workers.
    """
    # deploy/nginx.conf's client_body_temp_path and proxy_temp_path, as rendered.
    temp_dirs = (f"{server.cwd}/body/", f"{server.cwd}/proxy/")
    total = 0
    for proc in server.process_tree():
        fd_dir = Path(f"/proc/{proc.pid}/fd")
        try:
            descriptors = list(fd_dir.iterdir())
        except (FileNotFoundError, ProcessLookupError):
            continue
        for fd in descriptors:
            try:
                if os.readlink(fd).startswith(temp_dirs):
                    total += fd.stat().st_size
            except (FileNotFoundError, ProcessLookupError):
                continue
    return total


def upstreams_in_log(log: str) -> list[str]:
    """The backend addresses of the access-log lines in ``log``, in order (``-`` when nginx
    answered itself; ``a, b`` when it retried)."""
    found: list[str] = []
    for match in _UPSTREAM_FIELD.finditer(log):
        found.extend(part.strip() for part in match.group(1).split(","))
    return found
