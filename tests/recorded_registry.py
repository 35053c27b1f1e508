"""A local HTTP server that answers with recorded exchanges, in the order they were recorded.

Registries that cannot be reached from here (Docker Hub, Quay, GHCR, GitLab) are tested
against conversations kept as files under ``tests/fixtures/replication/``: each exchange is
the request a client makes (method, path, query, the headers that matter, a digest of the
body) and the answer the registry gave (status, headers, body). The server checks every
request against the next exchange and answers with its response; a request that differs is
answered 599 and recorded as a mismatch, so the test fails saying what was expected.

``{origin}`` in recorded headers and bodies stands for this server's ``http://host:port``:
the registry, its token realm and its management API all answer there. ``{storage}`` is a
second address of the same conversation, standing for the storage (a CDN, S3, GCS) blob
downloads are redirected to: another origin, as in life, so a client must not carry the
registry's credentials there.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "replication"
MISMATCH = 599


class Conversation:
    def __init__(self, path: Path) -> None:
        document = json.loads(path.read_text())
        self.name = path.stem
        self.exchanges: list[dict[str, Any]] = document["exchanges"]
        self.position = 0
        self.mismatches: list[str] = []
        self.lock = threading.Lock()

    def next_for(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Any:
        with self.lock:
            if self.position >= len(self.exchanges):
                self.mismatches.append(f"unexpected {method} {target}: the recording has ended")
                return None
            exchange = self.exchanges[self.position]
            problem = _differs(exchange["request"], method, target, headers, body)
            if problem:
                self.mismatches.append(f"exchange {self.position}: {problem}")
                return None
            self.position += 1
            return exchange["response"]

    def check_finished(self) -> None:
        assert not self.mismatches, "\n".join(self.mismatches)
        left = self.exchanges[self.position :]
        assert not left, f"{len(left)} recorded exchanges never asked for: {left[0]['request']}"


def _differs(
    expected: dict[str, Any], method: str, target: str, headers: dict[str, str], body: bytes
) -> str:
    parts = urlsplit(target)
    wanted = f"{expected['method']} {expected['path']}"
    if method != expected["method"] or parts.path != expected["path"]:
        return f"expected {wanted}, got {method} {parts.path}"
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if query != expected.get("query", {}):
        return f"{wanted}: expected query {expected.get('query', {})}, got {query}"
    for name, value in expected.get("headers", {}).items():
        got = headers.get(name.lower())
        if got != value:
            return f"{wanted}: expected header {name}: {value!r}, got {got!r}"
    if "body_sha256" in expected:
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if digest != expected["body_sha256"]:
            return f"{wanted}: body {digest}, recorded {expected['body_sha256']}"
    if "json" in expected and json.loads(body or b"null") != expected["json"]:
        return f"{wanted}: body {body[:200]!r}, recorded {expected['json']}"
    if "form" in expected and dict(parse_qsl(body.decode())) != expected["form"]:
        return f"{wanted}: form {body[:200]!r}, recorded {expected['form']}"
    return ""


def _body(response: dict[str, Any], places: dict[str, str]) -> bytes:
    if "json" in response:
        return _placed(json.dumps(response["json"]), places).encode()
    if "base64" in response:
        return base64.b64decode(str(response["base64"]))
    if "file" in response:
        return (FIXTURES / str(response["file"])).read_bytes()
    return _placed(str(response.get("text", "")), places).encode()


def _placed(text: str, places: dict[str, str]) -> str:
    for name, value in places.items():
        text = text.replace("{" + name + "}", value)
    return text


def _handler(
    conversation: Conversation, places: dict[str, str]
) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = conversation.next_for(self.command, self.path, headers, body)
            if response is None:
                self.send_response(MISMATCH)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            payload = _body(response, places)
            self.send_response(response["status"])
            for name, value in response.get("headers", {}).items():
                self.send_header(name, _placed(str(value), places))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: a mismatch is reported by the test."""

    return Handler


@contextmanager
def recorded_registry(name: str) -> Iterator[tuple[str, Conversation]]:
    """Serve ``fixtures/replication/<name>.json``; yields the origin and the conversation,
    and checks at the end that every exchange was asked for and nothing else."""
    conversation = Conversation(FIXTURES / f"{name}.json")
    places: dict[str, str] = {}
    servers = [
        http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(conversation, places))
        for _ in ("origin", "storage")
    ]
    for place, server in zip(("origin", "storage"), servers, strict=True):
        places[place] = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield places["origin"], conversation
    except BaseException as exc:
        # The answer the client choked on was a mismatch: say which.
        for mismatch in conversation.mismatches:
            exc.add_note(mismatch)
        raise
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    conversation.check_finished()
