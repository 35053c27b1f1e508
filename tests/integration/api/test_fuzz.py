"""Fuzzing /v2/ with hypothesis, raw on the wire: manifests, upload sessions with their ranges,
blob ranges and listing parameters. Whatever arrives, Berth answers without a 5xx, and its 4xx
answers carry the OCI error body. Bounded: a fixed number of examples per target and no
example database; the three targets take some 10-20 s together."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.api.conftest import ADMIN_PASSWORD, Berth
from tests.integration.api.oci import OCI_INDEX, OCI_MANIFEST, digest_of, push_blob

REPOSITORY = "library/fuzz"
EXAMPLES = 200
SECONDS_PER_TARGET = 30.0

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Header values: anything HTTP lets through (no control characters), Latin-1 on the wire.
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
    max_size=40,
)
digits = st.text(st.sampled_from("0123456789²³\u0660\u0663\u096f"), min_size=1, max_size=6)
range_text = st.one_of(
    header_text,
    st.builds(lambda a, b: f"{a}-{b}", digits, digits),
    st.builds(lambda a, b: f"bytes={a}-{b}", digits | st.just(""), digits | st.just("")),
    st.builds(lambda a, b: f"{a}-{b}", st.integers(-3, 10**6), st.integers(-3, 10**6)),
)
# Any text at all, lone surrogates and NUL included; sent percent-encoded.
any_text = st.text(max_size=30)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | any_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)


class Wire:
    """Raw HTTP/1.1 to the server, Basic credentials, nothing sanitized on the way."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname is not None
        assert parts.port is not None
        self.host, self.port = parts.hostname, parts.port
        self.auth = "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
        self.answers = 0

    def send(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            conn.putheader("Authorization", self.auth)
            for name, value in (headers or {}).items():
                conn.putheader(name, _header_bytes(value))
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            answer = (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()
        self.answers += 1
        check_answer(method, path, *answer)
        return answer


def _header_bytes(value: str) -> bytes:
    """Latin-1 where it fits (one byte per character), else the UTF-8 bytes."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def check_answer(method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> None:
    assert status < 500, f"{method} {path} -> {status}: {body[:300]!r}"
    if 400 <= status < 500 and body and method != "HEAD":
        errors = json.loads(body)["errors"]
        assert errors, body
        assert isinstance(errors[0]["code"], str), body


def _run_bounded(target: Callable[[], None]) -> None:
    started = time.monotonic()
    target()
    elapsed = time.monotonic() - started
    assert elapsed < SECONDS_PER_TARGET, f"fuzzing took {elapsed:.0f} s"


def _manifest_bodies(config: dict[str, Any], layer: dict[str, Any]) -> st.SearchStrategy[bytes]:
    def image(extra: dict[str, Any], layers: list[Any]) -> bytes:
        body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
        return json.dumps({**body, **extra}).encode()

    descriptor_like = st.fixed_dictionaries(
        {},
        optional={
            "mediaType": any_text | json_values,
            "digest": st.just(layer["digest"]) | any_text,
            "size": st.integers() | json_values,
            "annotations": json_values,
            "urls": json_values,
        },
    )
    return st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.builds(image, st.dictionaries(any_text, json_values, max_size=3), st.just([layer])),
        st.builds(
            image,
            st.fixed_dictionaries(
                {"annotations": st.dictionaries(any_text, any_text, max_size=3)},
                optional={"artifactType": any_text, "subject": descriptor_like},
            ),
            st.just([layer]),
        ),
        st.builds(image, st.just({}), st.lists(descriptor_like | json_values, max_size=3)),
        st.builds(
            lambda entries: json.dumps(
                {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
            ).encode(),
            st.lists(descriptor_like, max_size=3),
        ),
    )


async def test_fuzz_manifest_puts(berth: Berth) -> None:
    config_bytes, layer_bytes = b"{}", b"fuzz layer"
    async with berth.client() as c:
        await push_blob(c, REPOSITORY, config_bytes)
        await push_blob(c, REPOSITORY, layer_bytes)
    config = {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": digest_of(config_bytes),
        "size": len(config_bytes),
    }
    layer = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar",
        "digest": digest_of(layer_bytes),
        "size": len(layer_bytes),
    }
    wire = Wire(berth.url)

    @FUZZ_SETTINGS
    @given(
        body=_manifest_bodies(config, layer),
        reference=any_text | st.just("v1") | st.just(digest_of(b"x")),
        content_type=st.sampled_from([OCI_MANIFEST, OCI_INDEX, "application/json", ""])
        | header_text,
    )
    def put(body: bytes, reference: str, content_type: str) -> None:
        path = f"/v2/{REPOSITORY}/manifests/{quote(reference, safe='', errors='surrogatepass')}"
        status, _, _ = wire.send("PUT", path, body, {"Content-Type": content_type})
        if status == 201:
            wire.send("GET", path)

    await asyncio.to_thread(_run_bounded, put)
    assert wire.answers >= EXAMPLES


async def test_fuzz_upload_sessions_and_ranges(berth: Berth) -> None:
    wire = Wire(berth.url)

    @FUZZ_SETTINGS
    @given(
        chunks=st.lists(st.tuples(st.binary(max_size=64), range_text | st.none()), max_size=4),
        final_range=range_text | st.none(),
        final_body=st.binary(max_size=32),
        digest=st.sampled_from(["", "sha256:" + "0" * 64]) | any_text,
        honest_digest=st.booleans(),
    )
    def upload(
        chunks: list[tuple[bytes, str | None]],
        final_range: str | None,
        final_body: bytes,
        digest: str,
        honest_digest: bool,
    ) -> None:
        status, headers, _ = wire.send("POST", f"/v2/{REPOSITORY}/blobs/uploads/")
        assert status == 202
        location = headers["location"]
        sent = b""
        for data, content_range in chunks:
            extra = {"Content-Type": "application/octet-stream"}
            if content_range is not None:
                extra["Content-Range"] = content_range
            status, _, _ = wire.send("PATCH", location, data, extra)
            if status == 202:
                sent += data
        status, headers, _ = wire.send("GET", location)
        if status == 204:
            assert headers["range"] == f"0-{max(len(sent) - 1, 0)}"
        if honest_digest:
            digest = digest_of(sent + final_body)
        extra = {} if final_range is None else {"Content-Range": final_range}
        query = quote(digest, safe=":", errors="surrogatepass")
        status, _, _ = wire.send("PUT", f"{location}?digest={query}", final_body, extra)
        if status == 201:
            _, _, stored = wire.send("GET", f"/v2/{REPOSITORY}/blobs/{digest}")
            assert digest_of(stored) == digest

    await asyncio.to_thread(_run_bounded, upload)
    assert wire.answers >= EXAMPLES * 3


async def test_fuzz_blob_ranges_and_listing(berth: Berth) -> None:
    data = bytes(range(256)) * 4
    async with berth.client() as c:
        digest = await push_blob(c, REPOSITORY, data)
    wire = Wire(berth.url)

    @FUZZ_SETTINGS
    @given(
        byte_range=range_text,
        n=digits | any_text,
        last=any_text,
        method=st.sampled_from(["GET", "HEAD"]),
    )
    def probe(byte_range: str, n: str, last: str, method: str) -> None:
        status, headers, body = wire.send(
            method, f"/v2/{REPOSITORY}/blobs/{digest}", headers={"Range": byte_range}
        )
        if status == 206:
            start, end = (int(x) for x in headers["content-range"][6:].split("/")[0].split("-"))
            assert body == data[start : end + 1]
        n_query = quote(n, safe="", errors="surrogatepass")
        last_query = quote(last, safe="", errors="surrogatepass")
        for path in ("/v2/_catalog", f"/v2/{REPOSITORY}/tags/list"):
            wire.send("GET", f"{path}?n={n_query}&last={last_query}")

    await asyncio.to_thread(_run_bounded, probe)
    assert wire.answers >= EXAMPLES * 3
