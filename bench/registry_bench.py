#!/usr/bin/env python3
"""Throughput and latency benchmark for any OCI distribution registry.

Single file, needs only ``httpx``. Run ``python bench/registry_bench.py --help``;
bench/README.md explains every figure.

Each target gets a fresh, randomly named repository, so runs never collide:

1. push monolithic: POST an upload, one streamed PATCH without Content-Range
   (chunked transfer encoding, the way Docker sends a layer), PUT ?digest=.
2. push chunked: the same size as PATCHes of --chunk-mib with Content-Range.
3. pull single: GET the blob, stream it, hash it, verify the digest; --pull-repeats in a
   row, their median.
4. pull concurrent: --concurrency parallel GETs of the same blob, aggregate rate.
5. manifest PUT and GET: --requests OCI image manifests under distinct tags,
   then as many GETs by tag, --rate-concurrency at a time: req/s, p50, p99.
6. blob HEAD: --requests HEADs of a small blob: req/s, p50, p99.

With wrk and ab on the PATH (Debian's wrk and apache2-utils), the request-rate phases
are driven by them for --wrk-seconds after checked requests: manifest PUT (each request
a new manifest under a new tag, made by a Lua script), manifest GET and tags/list by wrk,
blob HEAD by ab (wrk waits for the body a HEAD answer announces and never gets). With
curl on the PATH, the pulls are curl processes writing to /dev/null, after one pull
whose digest this script checks. A Python client spends a core of its own per few
hundred requests a second, or per few hundred MiB/s it hashes, and would measure
itself, not the registry (--load-generator python keeps httpx for every phase).

Blob bytes are never held whole in memory: they are generated from a seed in
1 MiB chunks and hashed with SHA-256 while they are sent.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gzip
import hashlib
import importlib.util
import io
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import httpx

MIB = 1024 * 1024
GEN_CHUNK = MIB  # blob bytes are generated, hashed and sent in pieces of this size
POOL_BLOCKS = 8  # pseudo-random 1 MiB blocks per blob that chunks are derived from
MAX_REDIRECTS = 5
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join((MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST))

# Repository name grammar of the OCI distribution spec.
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPO_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
LABEL_RE = re.compile(r"^[A-Za-z0-9_.:+-]+$")

# WWW-Authenticate parsing (RFC 7235): a scheme token, then comma separated
# name=value pairs whose values may be quoted strings containing commas.
_TCHARS = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_SCHEME_RE = re.compile(rf"[\s,]*({_TCHARS})(?=\s|$)")
_PARAM_RE = re.compile(rf'[\s,]*({_TCHARS})\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)')
_ESCAPE_RE = re.compile(r"\\(.)")


class BenchError(Exception):
    """A registry answered something the benchmark cannot go on with."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data


class BlobSource:
    """Deterministic pseudo-random blob of ``size`` bytes, produced in 1 MiB chunks.

    ``POOL_BLOCKS`` random 1 MiB blocks are drawn from ``random.Random(seed)``;
    every chunk is one of them rotated by a seeded random offset and stamped with
    its chunk index, so no two chunks are equal while generation stays far
    cheaper than SHA-256 (and so rarely the bottleneck). The running SHA-256 is
    updated as chunks are handed out; at most 9 MiB is ever held.
    """

    def __init__(self, seed: int, size: int) -> None:
        if size <= 0:
            raise ValueError("blob size must be positive")
        self.size = size
        self.produced = 0
        self._rng = random.Random(seed)
        self._pool = [self._rng.randbytes(GEN_CHUNK) for _ in range(POOL_BLOCKS)]
        self._sha = hashlib.sha256()
        self._index = 0

    def next_chunk(self, limit: int) -> bytes:
        n = min(GEN_CHUNK, limit, self.size - self.produced)
        if n <= 0:
            raise BenchError("blob source exhausted")
        block = self._pool[self._rng.randrange(POOL_BLOCKS)]
        offset = self._rng.randrange(GEN_CHUNK - 8)
        chunk = b"".join((self._index.to_bytes(8, "big"), block[offset + 8 :], block[:offset]))
        if n < GEN_CHUNK:
            chunk = chunk[:n]
        self._sha.update(chunk)
        self._index += 1
        self.produced += n
        return chunk

    async def body(self, nbytes: int) -> AsyncIterator[bytes]:
        """Stream the next ``nbytes`` of the blob (a request body for httpx)."""
        remaining = nbytes
        while remaining > 0:
            chunk = self.next_chunk(remaining)
            remaining -= len(chunk)
            yield chunk

    def digest(self) -> str:
        if self.produced != self.size:
            raise BenchError(f"only {self.produced} of {self.size} blob bytes were sent")
        return "sha256:" + self._sha.hexdigest()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class TinyImage:
    config: bytes
    layer: bytes

    @property
    def config_digest(self) -> str:
        return sha256_digest(self.config)

    @property
    def layer_digest(self) -> str:
        return sha256_digest(self.layer)

    def manifest(self, index: int | str) -> bytes:
        """A distinct OCI image manifest per index (the annotation differs)."""
        doc = {
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "config": {
                "mediaType": MT_OCI_CONFIG,
                "digest": self.config_digest,
                "size": len(self.config),
            },
            "layers": [
                {"mediaType": MT_OCI_LAYER, "digest": self.layer_digest, "size": len(self.layer)}
            ],
            "annotations": {"org.opencontainers.image.title": f"registry-bench-{index}"},
        }
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def make_tiny_image(unique: str) -> TinyImage:
    """A real, pullable one-file image whose content is unique to this run."""
    payload = f"registry benchmark {unique}\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("bench.txt")
        info.size = len(payload)
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    tar_bytes = buf.getvalue()
    layer = gzip.compress(tar_bytes, mtime=0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar_bytes)]},
    }
    config_bytes = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
    return TinyImage(config=config_bytes, layer=layer)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sequence."""
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


# --------------------------------------------------------------------------- client


def parse_challenges(values: Sequence[str]) -> list[tuple[str, dict[str, str]]]:
    """Parse WWW-Authenticate header values into (lower-case scheme, params)."""
    result: list[tuple[str, dict[str, str]]] = []
    for value in values:
        pos = 0
        while pos < len(value):
            scheme = _SCHEME_RE.match(value, pos)
            if scheme is None:
                break
            pos = scheme.end()
            params: dict[str, str] = {}
            while (param := _PARAM_RE.match(value, pos)) is not None:
                raw = param.group(2)
                if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
                    raw = _ESCAPE_RE.sub(r"\1", raw[1:-1])
                params[param.group(1).lower()] = raw
                pos = param.end()
            result.append((scheme.group(1).lower(), params))
    return result


def origin_of(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme))


def basic_header(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


class RegistryClient:
    """httpx (HTTP/1.1) client for one registry and one repository.

    Requests go out on "lanes": one small httpx client per concurrent worker,
    so httpcore never scans a big shared pool per request (on a 2-core box
    that scan costs more client CPU than the request itself).

    Authorization is sent only to the registry's own origin. A 401 with a
    ``Bearer`` challenge fetches a token from the realm (Basic credentials if
    given, scope ``repository:<repo>:pull,push`` plus any scope the challenge
    names), caches it and retries once; a ``Basic`` challenge switches to Basic.
    Tokens are refreshed shortly before ``expires_in`` runs out so streamed
    uploads, which cannot be replayed, never meet an expired token.
    """

    def __init__(
        self,
        base_url: str,
        repo: str,
        creds: Credentials | None,
        *,
        timeout: float,
        verify_tls: bool,
    ) -> None:
        self.base = httpx.URL(base_url.rstrip("/") + "/")
        self.repo = repo
        self._creds = creds
        self._origin = origin_of(self.base)
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        # One SSL context for every lane (httpx would load the CA bundle per client).
        self._ssl = ssl.create_default_context()
        if not verify_tls:
            self._ssl.check_hostname = False
            self._ssl.verify_mode = ssl.CERT_NONE
        self._lanes: list[httpx.AsyncClient] = []
        self._token_http = self._new_http(2)
        self._auth: str | None = None
        self._scheme: str | None = None
        self._bearer: dict[str, str] = {}
        self._refresh_at = math.inf
        self._lock = asyncio.Lock()
        self.token_fetches = 0
        self.requests = 0

    def _new_http(self, connections: int) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            http1=True,
            http2=False,
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            follow_redirects=False,
            verify=self._ssl,
            trust_env=False,  # never route through a proxy taken from the environment
        )

    def _lane(self, lane: int) -> httpx.AsyncClient:
        # A lane is used by one worker at a time; 2 connections leave room for
        # a redirect to a storage host without dropping the registry connection.
        while len(self._lanes) <= lane:
            self._lanes.append(self._new_http(2))
        return self._lanes[lane]

    @property
    def creds(self) -> Credentials | None:
        return self._creds

    async def aclose(self) -> None:
        for http in [*self._lanes, self._token_http]:
            await http.aclose()

    @property
    def auth_scheme(self) -> str:
        return self._scheme or "none"

    async def authorization(self) -> str | None:
        """The Authorization header the registry takes now (renewed when about to expire)."""
        await self._refresh_if_expiring()
        return self._auth

    def url(self, path: str) -> httpx.URL:
        return self.base.join(path.lstrip("/"))

    def repo_url(self, suffix: str) -> httpx.URL:
        return self.url(f"v2/{self.repo}/{suffix}")

    async def send(
        self,
        method: str,
        url: httpx.URL,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        stream: bool = False,
        follow_redirects: bool = False,
        lane: int = 0,
    ) -> httpx.Response:
        """Send one request with auth, 401 retry and (optionally) redirects.

        With ``stream=True`` the caller must ``aclose()`` the response.
        """
        replayable = content is None or isinstance(content, bytes)
        http = self._lane(lane)
        await self._refresh_if_expiring()
        target = url
        hops = 0
        auth_retried = False
        while True:
            same_origin = origin_of(target) == self._origin
            sent_auth = self._auth if same_origin else None
            req_headers = dict(headers or {})
            if sent_auth is not None:
                req_headers["Authorization"] = sent_auth
            request = http.build_request(method, target, headers=req_headers, content=content)
            self.requests += 1
            response = await http.send(request, stream=True)
            status = response.status_code
            if status == 401 and same_origin and replayable and not auth_retried:
                challenges = response.headers.get_list("www-authenticate")
                await response.aclose()
                await self._authorize(challenges, sent_auth)
                auth_retried = True
                continue
            location = response.headers.get("location")
            if follow_redirects and status in REDIRECT_CODES and location and hops < MAX_REDIRECTS:
                # Presigned storage URLs live on another host: origin_of() keeps
                # the Authorization header from following them there.
                target = response.url.join(location)
                hops += 1
                await response.aclose()
                continue
            if not stream:
                await response.aread()
            return response

    async def _refresh_if_expiring(self) -> None:
        if self._scheme != "bearer" or time.monotonic() < self._refresh_at:
            return
        async with self._lock:
            if time.monotonic() >= self._refresh_at:
                await self._fetch_token()

    async def _authorize(self, challenges: Sequence[str], failed: str | None) -> None:
        async with self._lock:
            if self._auth != failed:
                return  # another request already renewed the credentials
            parsed = parse_challenges(challenges)
            for scheme, params in parsed:
                if scheme == "bearer" and params.get("realm"):
                    self._bearer = params
                    await self._fetch_token()
                    return
            for scheme, _params in parsed:
                if scheme == "basic":
                    if self._creds is None:
                        raise BenchError(
                            "registry wants HTTP Basic credentials: pass --username/--password"
                        )
                    self._auth = basic_header(self._creds.username, self._creds.password)
                    self._scheme = "basic"
                    return
            raise BenchError(f"401 without a usable WWW-Authenticate challenge: {challenges!r}")

    async def _fetch_token(self) -> None:
        params = self._bearer
        realm = self.base.join(params["realm"])
        scopes = [f"repository:{self.repo}:pull,push"]
        scopes += [s for s in params.get("scope", "").split(" ") if s and s not in scopes]
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query += [("scope", s) for s in scopes]
        headers: dict[str, str] = {}
        if self._creds is not None:
            headers["Authorization"] = basic_header(self._creds.username, self._creds.password)
        self.requests += 1
        response = await self._token_http.get(realm, params=tuple(query), headers=headers)
        if response.status_code != 200:
            raise BenchError(
                f"token endpoint {realm} answered {response.status_code}: {response.text[:200]}"
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise BenchError(f"token endpoint {realm} did not answer JSON") from exc
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise BenchError(f"token endpoint {realm} answered no token")
        try:
            lifetime = float(data.get("expires_in") or 60)
        except (TypeError, ValueError):
            lifetime = 60.0
        self._refresh_at = time.monotonic() + max(lifetime - 15.0, lifetime * 0.75)
        self._auth = f"Bearer {token}"
        self._scheme = "bearer"
        self.token_fetches += 1


def expect(response: httpx.Response, codes: Sequence[int], what: str) -> None:
    if response.status_code in codes:
        return
    body = ""
    with contextlib.suppress(httpx.ResponseNotRead, UnicodeDecodeError):
        body = response.text[:300].strip()
    raise BenchError(f"{what}: HTTP {response.status_code} (wanted {list(codes)}) {body}")


def location_of(response: httpx.Response, what: str) -> httpx.URL:
    location = response.headers.get("location")
    if not location:
        raise BenchError(f"{what}: HTTP {response.status_code} without a Location header")
    return response.url.join(location)


# --------------------------------------------------------------------------- operations


@dataclass
class Upload:
    location: httpx.URL
    min_chunk: int | None


async def start_upload(client: RegistryClient) -> Upload:
    response = await client.send("POST", client.repo_url("blobs/uploads/"), content=b"")
    expect(response, (202,), "POST blobs/uploads/")
    min_chunk = response.headers.get("oci-chunk-min-length")
    return Upload(
        location=location_of(response, "POST blobs/uploads/"),
        min_chunk=int(min_chunk) if min_chunk and min_chunk.isdigit() else None,
    )


async def finish_upload(
    client: RegistryClient, location: httpx.URL, digest: str, body: bytes = b""
) -> None:
    response = await client.send(
        "PUT",
        location.copy_merge_params({"digest": digest}),
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(body))},
        content=body,
    )
    expect(response, (201,), "PUT upload ?digest=")
    answered = response.headers.get("docker-content-digest")
    if answered and answered != digest:
        raise BenchError(f"registry stored digest {answered}, pushed {digest}")


async def push_small_blob(client: RegistryClient, data: bytes) -> str:
    digest = sha256_digest(data)
    upload = await start_upload(client)
    await finish_upload(client, upload.location, digest, data)
    return digest


@dataclass
class PushResult:
    nbytes: int
    seconds: float
    digest: str
    post_s: float
    patch_s: float
    put_s: float
    patches: int

    @property
    def mib_s(self) -> float:
        return self.nbytes / MIB / self.seconds

    def raw(self) -> dict[str, Any]:
        return {
            "bytes": self.nbytes,
            "seconds": self.seconds,
            "mib_per_s": self.mib_s,
            "digest": self.digest,
            "post_seconds": self.post_s,
            "patch_seconds": self.patch_s,
            "put_seconds": self.put_s,
            "patch_requests": self.patches,
        }


async def push_monolithic(client: RegistryClient, source: BlobSource) -> PushResult:
    t0 = time.perf_counter()
    upload = await start_upload(client)
    t1 = time.perf_counter()
    response = await client.send(
        "PATCH",
        upload.location,
        headers={"Content-Type": "application/octet-stream"},
        content=source.body(source.size),
    )
    expect(response, (202,), "PATCH (streamed, no Content-Range)")
    location = location_of(response, "PATCH")
    t2 = time.perf_counter()
    digest = source.digest()
    await finish_upload(client, location, digest)
    t3 = time.perf_counter()
    return PushResult(source.size, t3 - t0, digest, t1 - t0, t2 - t1, t3 - t2, 1)


async def push_chunked(client: RegistryClient, source: BlobSource, chunk: int) -> PushResult:
    t0 = time.perf_counter()
    upload = await start_upload(client)
    if upload.min_chunk is not None and chunk < upload.min_chunk < source.size:
        log(f"  note: registry asks for chunks of at least {upload.min_chunk} bytes")
    t1 = time.perf_counter()
    location = upload.location
    offset = 0
    patches = 0
    while offset < source.size:
        n = min(chunk, source.size - offset)
        response = await client.send(
            "PATCH",
            location,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + n - 1}",
                "Content-Length": str(n),
            },
            content=source.body(n),
        )
        expect(response, (202,), f"PATCH Content-Range {offset}-{offset + n - 1}")
        location = location_of(response, "PATCH")
        offset += n
        patches += 1
    t2 = time.perf_counter()
    digest = source.digest()
    await finish_upload(client, location, digest)
    t3 = time.perf_counter()
    return PushResult(source.size, t3 - t0, digest, t1 - t0, t2 - t1, t3 - t2, patches)


@dataclass
class PullResult:
    nbytes: int
    seconds: float
    ttfb: float

    @property
    def mib_s(self) -> float:
        return self.nbytes / MIB / self.seconds


async def pull_blob(client: RegistryClient, digest: str, size: int, lane: int = 0) -> PullResult:
    t0 = time.perf_counter()
    response = await client.send(
        "GET",
        client.repo_url(f"blobs/{digest}"),
        headers={"Accept-Encoding": "identity"},
        stream=True,
        follow_redirects=True,
        lane=lane,
    )
    sha = hashlib.sha256()
    nbytes = 0
    try:
        if response.status_code != 200:
            await response.aread()
            expect(response, (200,), f"GET blob {digest[:19]}")
        ttfb = time.perf_counter() - t0
        async for piece in response.aiter_bytes():
            sha.update(piece)
            nbytes += len(piece)
    finally:
        await response.aclose()
    seconds = time.perf_counter() - t0
    got = "sha256:" + sha.hexdigest()
    if nbytes != size or got != digest:
        raise BenchError(f"GET blob returned {nbytes} bytes with digest {got}, wanted {digest}")
    return PullResult(nbytes, seconds, ttfb)


def start_curl(
    curl: str, url: httpx.URL, headers: dict[str, str], *, insecure: bool, timeout: float
) -> subprocess.Popen[str]:
    """A curl GET of ``url`` into /dev/null that follows redirects (curl sends no
    Authorization header to another host, as a presigned URL wants)."""
    argv = [curl, "-sS", "-o", "/dev/null", "-L", "--max-redirs", str(MAX_REDIRECTS)]
    argv += ["--max-time", f"{timeout:g}", "-H", "Accept-Encoding: identity"]
    argv += ["-w", "%{http_code} %{size_download} %{time_total} %{time_starttransfer}"]
    argv += ["-k"] if insecure else []
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    return subprocess.Popen(
        [*argv, str(url)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_curl(proc: subprocess.Popen[str], size: int) -> PullResult:
    out, err = proc.communicate()
    fields = out.split()
    if proc.returncode != 0 or len(fields) != 4:
        raise BenchError(f"curl failed ({proc.returncode}): {err.strip()[-400:]}")
    status, nbytes = fields[0], int(fields[1])
    if status != "200" or nbytes != size:
        raise BenchError(f"curl GET blob: status {status}, {nbytes} bytes, wanted {size}")
    return PullResult(nbytes, float(fields[2]), float(fields[3]))


@dataclass
class RateResult:
    count: int
    concurrency: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.count / self.seconds

    def p(self, pct: float) -> float:
        return percentile(sorted(self.latencies_ms), pct)

    def raw(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        return {
            "requests": self.count,
            "concurrency": self.concurrency,
            "seconds": self.seconds,
            "req_per_s": self.rps,
            "p50_ms": percentile(ordered, 50),
            "p90_ms": percentile(ordered, 90),
            "p99_ms": percentile(ordered, 99),
            "min_ms": ordered[0],
            "max_ms": ordered[-1],
            "mean_ms": sum(ordered) / len(ordered),
            "latencies_ms": [round(x, 4) for x in self.latencies_ms],
        }


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


Op = Callable[[int, int], Awaitable[None]]  # op(index, lane)


async def run_bounded(count: int, concurrency: int, op: Op) -> float:
    """Run op(0..count-1) with at most ``concurrency`` in flight; return wall seconds."""
    result = await measure_rate(count, concurrency, op)
    return result.seconds


async def measure_rate(count: int, concurrency: int, op: Op) -> RateResult:
    """Call op(i, lane) for i in 0..count-1 from ``concurrency`` workers (worker w
    uses lane w); time each call."""
    latencies = [0.0] * count
    next_index = 0

    async def worker(lane: int) -> None:
        nonlocal next_index
        while next_index < count:
            i = next_index
            next_index += 1
            start = time.perf_counter()
            await op(i, lane)
            latencies[i] = (time.perf_counter() - start) * 1000.0

    t0 = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            for lane in range(min(concurrency, count)):
                group.create_task(worker(lane))
    except BaseExceptionGroup as exc:
        raise first_error(exc) from None
    return RateResult(count, concurrency, time.perf_counter() - t0, latencies)


# --------------------------------------------------------------------------- wrk

_WRK_SCRIPT = """
local paths = {%(paths)s}
local i = 0
wrk.method = %(method)s
%(headers)s
request = function()
  i = i %% #paths + 1
  return wrk.format(nil, paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-JSON {\\"requests\\": %%d, \\"microseconds\\": %%d, \\"socket_errors\\": %%d, "
    .. "\\"bad_status\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


# Every request PUTs a manifest no one sent before: the body and the tag carry this run's
# token, the wrk thread's number and a counter. done() prints each thread's last counter, so
# the caller can name (and delete) every manifest the run may have stored.
_WRK_PUT_SCRIPT = """
local prefix, suffix, base, token = %(prefix)s, %(suffix)s, %(base)s, %(token)s
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end
counter = 0  -- a global: done() reads it with thread:get
wrk.method = "PUT"
%(headers)s
request = function()
  counter = counter + 1
  local unique = token .. "-" .. thread_id .. "-" .. counter
  return wrk.format(nil, base .. unique, nil, prefix .. unique .. suffix)
end
done = function(summary, latency, requests)
  local e = summary.errors
  local counters = {}
  for i, thread in ipairs(threads) do
    counters[i] = tostring(thread:get("counter"))
  end
  io.write(string.format(
    "WRK-JSON {\\"requests\\": %%d, \\"microseconds\\": %%d, \\"socket_errors\\": %%d, "
    .. "\\"bad_status\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d, \\"counters\\": [%%s]}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), table.concat(counters, ", ")))
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


@dataclass
class WrkResult:
    requests: int
    seconds: float
    connections: int
    p50_ms: float
    p99_ms: float
    tool: str = "wrk"

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def raw(self) -> dict[str, Any]:
        return {
            "load_generator": self.tool,
            "requests": self.requests,
            "connections": self.connections,
            "seconds": self.seconds,
            "req_per_s": self.rps,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
        }


def _lua_headers(headers: dict[str, str]) -> str:
    return "\n".join(
        f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()
    )


def read_script(paths: Sequence[str], *, method: str, headers: dict[str, str]) -> str:
    """A wrk script cycling through ``paths``."""
    return _WRK_SCRIPT % {
        "paths": ", ".join(_lua_string(p) for p in paths),
        "method": _lua_string(method),
        "headers": _lua_headers(headers),
    }


def put_script(
    path_prefix: str, body: bytes, placeholder: str, token: str, headers: dict[str, str]
) -> str:
    """A wrk script PUTting ``body`` to ``path_prefix + unique`` with ``placeholder`` in the
    body replaced by the same ``unique`` (``token``-thread-counter)."""
    prefix, suffix = body.decode().split(placeholder)
    return _WRK_PUT_SCRIPT % {
        "prefix": _lua_string(prefix),
        "suffix": _lua_string(suffix),
        "base": _lua_string(path_prefix),
        "token": _lua_string(token),
        "headers": _lua_headers(headers),
    }


def run_wrk(
    wrk: str, base: httpx.URL, script: str, *, connections: int, seconds: float
) -> tuple[WrkResult, dict[str, Any]]:
    """Run wrk with ``script`` at ``base``; every answer must be 2xx/3xx. Returns the result
    and what the script's done() reported."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                wrk,
                "--threads",
                str(min(2, connections)),
                "--connections",
                str(connections),
                "--duration",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "--script",
                f.name,
                str(base),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        os.unlink(f.name)
    found = re.search(r"^WRK-JSON (.*)$", out.stdout, re.MULTILINE)
    if out.returncode != 0 or found is None:
        raise BenchError(f"wrk failed ({out.returncode}): {(out.stderr or out.stdout)[-400:]}")
    data: dict[str, Any] = json.loads(found.group(1))
    if data["bad_status"] or data["socket_errors"]:
        raise BenchError(
            f"wrk: {data['bad_status']} answers were not 2xx/3xx and "
            f"{data['socket_errors']} requests met socket errors"
        )
    if not data["requests"]:
        raise BenchError("wrk: no request completed")
    result = WrkResult(
        data["requests"],
        data["microseconds"] / 1e6,
        connections,
        data["p50_us"] / 1000.0,
        data["p99_us"] / 1000.0,
    )
    return result, data


def run_ab_head(
    ab: str, url: httpx.URL, *, headers: dict[str, str], connections: int, seconds: float
) -> WrkResult:
    """HEAD ``url`` with ab over kept-alive connections; every answer must be 2xx."""
    argv = [ab, "-i", "-k", "-q", "-c", str(connections), "-t", str(max(1, round(seconds)))]
    argv += ["-n", "10000000", "-s", "10"]  # -n after -t: ab's -t alone stops at 50 000
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*argv, str(url)], capture_output=True, text=True, timeout=seconds + 60, check=False
    )

    def number(label: str, default: str | None = None) -> float:
        found = re.search(rf"^{label}:\s+([0-9.]+)", out.stdout, re.MULTILINE)
        if found is None:
            if default is not None:
                return float(default)
            raise BenchError(f"ab ({out.returncode}): {(out.stderr or out.stdout)[-400:]}")
        return float(found.group(1))

    def percentile_ms(pct: int) -> float:
        found = re.search(rf"^\s+{pct}%\s+([0-9]+)", out.stdout, re.MULTILINE)
        return float(found.group(1)) if found else math.nan

    done = int(number("Complete requests"))
    failed = int(number("Failed requests")) + int(number("Non-2xx responses", "0"))
    if failed or not done:
        raise BenchError(f"ab: {failed} of {done} HEADs failed or were not 2xx")
    kept = int(number("Keep-Alive requests", "0"))
    if kept < done * 0.9:
        raise BenchError(f"ab: only {kept} of {done} requests reused a connection")
    return WrkResult(
        done,
        number("Time taken for tests"),
        connections,
        percentile_ms(50),
        percentile_ms(99),
        "ab",
    )


# --------------------------------------------------------------------------- benchmark


@dataclass(frozen=True)
class FigureSpec:
    key: str
    phase: str
    label: str
    unit: str
    higher_is_better: bool

    @property
    def better(self) -> str:
        return "higher" if self.higher_is_better else "lower"


def figure_specs(args: argparse.Namespace) -> list[FigureSpec]:
    size = f"{args.blob_mib:g} MiB"
    specs = [
        FigureSpec("push_monolithic", "push_monolithic", f"push {size} monolithic", "MiB/s", True),
        FigureSpec(
            "push_chunked",
            "push_chunked",
            f"push {size} in {args.chunk_mib:g} MiB chunks",
            "MiB/s",
            True,
        ),
        FigureSpec("pull_single", "pull_single", f"pull {size}, 1 stream", "MiB/s", True),
        FigureSpec(
            "pull_concurrent",
            "pull_concurrent",
            f"pull {size}, {args.concurrency} streams (total)",
            "MiB/s",
            True,
        ),
    ]
    for phase, label in (
        ("manifest_put", "manifest PUT"),
        ("manifest_get", "manifest GET by tag"),
        ("blob_head", "blob HEAD"),
        ("tags_list", f"tags/list of {args.tags}"),
    ):
        specs += [
            FigureSpec(f"{phase}_rps", phase, f"{label} rate", "req/s", True),
            FigureSpec(f"{phase}_p50", phase, f"{label} p50", "ms", False),
            FigureSpec(f"{phase}_p99", phase, f"{label} p99", "ms", False),
        ]
    return specs


@dataclass(frozen=True)
class Target:
    label: str
    url: str
    managed: bool = False  # started by this script (no cleanup needed)


@dataclass
class TargetResult:
    label: str
    url: str
    repo: str
    values: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    # (min, max) over the rounds, when there were several.
    spread: dict[str, tuple[float, float]] = field(default_factory=dict)


async def run_phase(
    result: TargetResult, phase: str, seconds: float, work: Callable[[], Awaitable[str]]
) -> bool:
    """Run one phase under a time limit; log its summary and this process's CPU use.

    Client CPU near 100% of a core means the figure may be the client's limit,
    not the registry's.
    """
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    try:
        async with asyncio.timeout(seconds):
            summary = await work()
    except TimeoutError:
        message = f"timed out after {seconds:g} s"
    except BenchError as exc:
        message = str(exc)
    except (httpx.HTTPError, OSError) as exc:
        message = f"{type(exc).__name__}: {exc}"
    else:
        wall = max(time.perf_counter() - wall0, 1e-9)
        cpu = 100.0 * (time.process_time() - cpu0) / wall
        result.raw.setdefault("client_cpu_percent", {})[phase] = round(cpu, 1)
        log(f"[{result.label}] {summary} [phase {wall:.1f} s, client CPU {cpu:.0f}%]")
        return True
    result.errors[phase] = message
    log(f"[{result.label}] {phase} FAILED: {message}")
    return False


async def bench_target(
    target: Target, args: argparse.Namespace, creds: Credentials | None, seed: int
) -> TargetResult:
    repo = f"{args.repo_prefix}-{secrets.token_hex(4)}"
    result = TargetResult(label=target.label, url=target.url, repo=repo)
    client = RegistryClient(
        target.url, repo, creds, timeout=args.timeout, verify_tls=not args.insecure
    )
    log(f"[{target.label}] {target.url} repository {repo}")
    try:
        await Phases(client, result, args, seed, target).run()
    finally:
        result.raw["requests_sent"] = client.requests
        result.raw["token_fetches"] = client.token_fetches
        result.raw["auth"] = client.auth_scheme
        await client.aclose()
    return result


class Phases:
    """The benchmark phases against one target, in order, sharing state."""

    def __init__(
        self,
        client: RegistryClient,
        result: TargetResult,
        args: argparse.Namespace,
        seed: int,
        target: Target,
    ) -> None:
        self.client = client
        self.result = result
        self.args = args
        self.seed = seed
        self.target = target
        self.size = max(1, int(args.blob_mib * MIB))
        self.chunk = max(1, int(args.chunk_mib * MIB))
        self.limit: float = args.phase_timeout
        self.n: int = args.requests
        self.conc: int = args.rate_concurrency
        self.pushed: list[str] = []  # digests of the big blobs
        self.image = make_tiny_image(client.repo + secrets.token_hex(8))
        self.manifests = [self.image.manifest(i) for i in range(self.n)]
        self.digests = [sha256_digest(m) for m in self.manifests]
        self.stored = [False] * self.n
        self.tags: int = args.tags
        self.listed = [self.image.manifest(self.n + i) for i in range(self.tags)]
        self.listed_stored = [False] * self.tags
        self.wrk_put_names: list[str] = []  # what wrk's PUTs may have stored

    async def phase(self, name: str, work: Callable[[], Awaitable[str]]) -> bool:
        return await run_phase(self.result, name, self.limit, work)

    def skip(self, phases: Sequence[str], why: str) -> None:
        for name in phases:
            self.result.errors.setdefault(name, f"skipped: {why}")

    async def run(self) -> None:
        if not await self.phase("ping", self.ping):
            self.skip([s.phase for s in figure_specs(self.args)], "GET /v2/ failed")
            return
        await self.phase("push_monolithic", self.push_monolithic)
        await self.phase("push_chunked", self.push_chunked)
        if self.pushed:
            await self.phase("pull_single", self.pull_single)
            await self.phase("pull_concurrent", self.pull_concurrent)
        else:
            self.skip(["pull_single", "pull_concurrent"], "no blob could be pushed")
        if await self.phase("small_blobs", self.small_blobs):
            if await self.phase("manifest_put", self.manifest_put):
                await self.phase("manifest_get", self.manifest_get)
            else:
                self.skip(["manifest_get"], "manifest PUT failed")
            await self.phase("blob_head", self.blob_head)
            await self.phase("tags_list", self.tags_list)
        else:
            self.skip(
                ["manifest_put", "manifest_get", "blob_head", "tags_list"], "small blobs not pushed"
            )
        if not (self.target.managed or self.args.keep):
            await self.phase("cleanup", self.cleanup)

    async def ping(self) -> str:
        response = await self.client.send("GET", self.client.url("v2/"))
        expect(response, (200,), "GET /v2/")
        return f"GET /v2/ ok (auth: {self.client.auth_scheme})"

    async def push_monolithic(self) -> str:
        outcome = await push_monolithic(self.client, BlobSource(self.seed, self.size))
        self.pushed.append(outcome.digest)
        self.result.values["push_monolithic"] = outcome.mib_s
        self.result.raw["push_monolithic"] = outcome.raw()
        return f"push monolithic: {outcome.mib_s:.1f} MiB/s ({outcome.seconds:.2f} s)"

    async def push_chunked(self) -> str:
        source = BlobSource(self.seed + 1, self.size)
        outcome = await push_chunked(self.client, source, self.chunk)
        self.pushed.append(outcome.digest)
        self.result.values["push_chunked"] = outcome.mib_s
        self.result.raw["push_chunked"] = outcome.raw()
        return (
            f"push chunked: {outcome.mib_s:.1f} MiB/s "
            f"({outcome.patches} PATCHes, {outcome.seconds:.2f} s)"
        )

    async def curl_pulls(self, count: int, verify: bool = True) -> tuple[list[PullResult], float]:
        """``count`` curl processes pulling the first big blob at once (after one pull
        through httpx that checks its digest, unless ``verify`` is off): their results and
        the wall time."""
        if verify:
            await pull_blob(self.client, self.pushed[0], self.size)
        url = self.client.repo_url(f"blobs/{self.pushed[0]}")
        authorization = await self.client.authorization()
        headers = {} if authorization is None else {"Authorization": authorization}

        def run() -> tuple[list[PullResult], float]:
            t0 = time.perf_counter()
            procs = [
                start_curl(
                    self.args.curl,
                    url,
                    headers,
                    insecure=self.args.insecure,
                    timeout=self.args.timeout,
                )
                for _ in range(count)
            ]
            try:
                results = [finish_curl(proc, self.size) for proc in procs]
            finally:
                for proc in procs:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
            return results, time.perf_counter() - t0

        return await asyncio.to_thread(run)

    async def pull_single(self) -> str:
        # One pull of the big blob lasts a tenth of a second at loopback speed, so a single
        # scheduling hiccup moves it by a third: the figure is the median of several in a row.
        outcomes: list[PullResult] = []
        for index in range(self.args.pull_repeats):
            if self.args.curl:
                [outcome], _ = await self.curl_pulls(1, verify=index == 0)
            else:
                outcome = await pull_blob(self.client, self.pushed[0], self.size)
            outcomes.append(outcome)
        rates = sorted(outcome.mib_s for outcome in outcomes)
        median = statistics.median(rates)
        self.result.values["pull_single"] = median
        self.result.raw["pull_single"] = {
            "bytes": outcomes[0].nbytes,
            "pulls": [
                {"seconds": o.seconds, "ttfb_seconds": o.ttfb, "mib_per_s": o.mib_s}
                for o in outcomes
            ],
            "mib_per_s": median,
        }
        return (
            f"pull single: {median:.1f} MiB/s, median of {len(rates)} "
            f"({rates[0]:.0f}-{rates[-1]:.0f})"
        )

    async def pull_concurrent(self) -> str:
        streams: list[PullResult] = []
        count: int = self.args.concurrency

        async def one(_i: int, lane: int) -> None:
            streams.append(await pull_blob(self.client, self.pushed[0], self.size, lane))

        if self.args.curl:
            streams, wall = await self.curl_pulls(count)
        else:
            wall = await run_bounded(count, count, one)
        total = self.size * count / MIB / wall
        self.result.values["pull_concurrent"] = total
        self.result.raw["pull_concurrent"] = {
            "streams": count,
            "bytes_total": self.size * count,
            "seconds": wall,
            "mib_per_s": total,
            "per_stream_mib_per_s": [s.mib_s for s in streams],
        }
        return (
            f"pull x{count}: {total:.1f} MiB/s total "
            f"({wall:.2f} s for {count} x {self.size / MIB:g} MiB)"
        )

    async def head_layer(self, lane: int) -> httpx.Response:
        return await self.client.send(
            "HEAD",
            self.client.repo_url(f"blobs/{self.image.layer_digest}"),
            follow_redirects=True,
            lane=lane,
        )

    async def small_blobs(self) -> str:
        await push_small_blob(self.client, self.image.config)
        await push_small_blob(self.client, self.image.layer)

        async def warm(_i: int, lane: int) -> None:
            expect(await self.head_layer(lane), (200,), "HEAD blob (warm-up)")

        # Untimed: opens the connections (one per lane) the rate phases reuse.
        await run_bounded(self.conc, self.conc, warm)
        return f"config + layer pushed, {self.conc} connections warmed up"

    async def rate(self, phase: str, what: str, op: Op) -> str:
        outcome = await measure_rate(self.n, self.conc, op)
        p50, p99 = outcome.p(50), outcome.p(99)
        self.result.values[f"{phase}_rps"] = outcome.rps
        self.result.values[f"{phase}_p50"] = p50
        self.result.values[f"{phase}_p99"] = p99
        self.result.raw[phase] = outcome.raw()
        return f"{what}: {outcome.rps:.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms"

    async def wrk_rate(
        self,
        phase: str,
        what: str,
        method: str,
        paths: Sequence[str],
        headers: dict[str, str],
        client: RegistryClient | None = None,
    ) -> str:
        """The rate of ``method`` over ``paths`` as wrk measures it (see the module doc)."""
        client = client or self.client
        sent = dict(headers)
        authorization = await client.authorization()
        if authorization is not None:
            sent["Authorization"] = authorization
        outcome: WrkResult
        if method == "HEAD":
            [path] = paths
            outcome = await asyncio.to_thread(
                run_ab_head,
                self.args.ab,
                client.base.join(path.lstrip("/")),
                headers=sent,
                connections=self.conc,
                seconds=self.args.wrk_seconds,
            )
        else:
            outcome, _ = await asyncio.to_thread(
                run_wrk,
                self.args.wrk,
                client.base,
                read_script(paths, method=method, headers=sent),
                connections=self.conc,
                seconds=self.args.wrk_seconds,
            )
        return self.record_wrk(phase, what, outcome)

    def record_wrk(self, phase: str, what: str, outcome: WrkResult) -> str:
        self.result.values[f"{phase}_rps"] = outcome.rps
        self.result.values[f"{phase}_p50"] = outcome.p50_ms
        self.result.values[f"{phase}_p99"] = outcome.p99_ms
        self.result.raw[phase] = outcome.raw()
        return (
            f"{what} ({outcome.tool}, {outcome.requests} requests): {outcome.rps:.0f} req/s, "
            f"p50 {outcome.p50_ms:.2f} ms, p99 {outcome.p99_ms:.2f} ms"
        )

    def repo_path(self, suffix: str, repo: str | None = None) -> str:
        return f"/v2/{repo or self.client.repo}/{suffix}"

    async def manifest_put(self) -> str:
        async def put(i: int, lane: int) -> None:
            response = await self.client.send(
                "PUT",
                self.client.repo_url(f"manifests/bench-{i}"),
                headers={"Content-Type": MT_OCI_MANIFEST},
                content=self.manifests[i],
                lane=lane,
            )
            expect(response, (201,), f"PUT manifest bench-{i}")
            answered = response.headers.get("docker-content-digest")
            if answered and answered != self.digests[i]:
                raise BenchError(f"PUT manifest: registry says {answered}, sent {self.digests[i]}")
            self.stored[i] = True

        if not self.args.wrk:
            return await self.rate("manifest_put", "manifest PUT", put)
        # The manifests the GET phase reads, checked one by one; then the rate, from wrk.
        await run_bounded(self.n, self.conc, put)
        return await self.wrk_put()

    async def wrk_put(self) -> str:
        """wrk PUTs new manifests (each with its own annotation and tag) for --wrk-seconds."""
        placeholder = "@UNIQUE@"
        body = self.image.manifest(placeholder)
        token = secrets.token_hex(4)
        sent = {"Content-Type": MT_OCI_MANIFEST}
        authorization = await self.client.authorization()
        if authorization is not None:
            sent["Authorization"] = authorization
        script = put_script(self.repo_path("manifests/w-"), body, placeholder, token, sent)
        outcome, data = await asyncio.to_thread(
            run_wrk,
            self.args.wrk,
            self.client.base,
            script,
            connections=self.conc,
            seconds=self.args.wrk_seconds,
        )
        self.wrk_put_names = [
            f"{token}-{thread}-{n}"
            for thread, last in enumerate(data["counters"], 1)
            for n in range(1, last + 1)
        ]
        return self.record_wrk("manifest_put", "manifest PUT", outcome)

    async def manifest_get(self) -> str:
        async def get(i: int, lane: int) -> None:
            response = await self.client.send(
                "GET",
                self.client.repo_url(f"manifests/bench-{i}"),
                headers={"Accept": MANIFEST_ACCEPT},
                lane=lane,
            )
            expect(response, (200,), f"GET manifest bench-{i}")
            if sha256_digest(response.content) != self.digests[i]:
                raise BenchError(f"GET manifest bench-{i}: body differs from what was pushed")

        if self.args.wrk:
            await get(0, 0)  # the one checked answer; wrk checks only the status of the rest
            paths = [self.repo_path(f"manifests/bench-{i}") for i in range(self.n)]
            return await self.wrk_rate(
                "manifest_get", "manifest GET", "GET", paths, {"Accept": MANIFEST_ACCEPT}
            )
        return await self.rate("manifest_get", "manifest GET", get)

    async def blob_head(self) -> str:
        want = str(len(self.image.layer))

        async def head(_i: int, lane: int) -> None:
            response = await self.head_layer(lane)
            expect(response, (200,), "HEAD blob")
            length = response.headers.get("content-length")
            if length is not None and length != want:
                raise BenchError(f"HEAD blob: Content-Length {length}, wanted {want}")

        if self.args.wrk:
            await head(0, 0)
            paths = [self.repo_path(f"blobs/{self.image.layer_digest}")]
            return await self.wrk_rate("blob_head", "blob HEAD", "HEAD", paths, {})
        return await self.rate("blob_head", "blob HEAD", head)

    async def tags_list(self) -> str:
        """A repository of exactly ``--tags`` tags (pushed untimed), then ``--requests``
        GETs of its whole tag list."""
        repo = f"{self.client.repo}-tags"
        lister = RegistryClient(
            self.target.url,
            repo,
            self.client.creds,
            timeout=self.args.timeout,
            verify_tls=not self.args.insecure,
        )
        try:
            await push_small_blob(lister, self.image.config)
            await push_small_blob(lister, self.image.layer)

            async def put(i: int, lane: int) -> None:
                response = await lister.send(
                    "PUT",
                    lister.repo_url(f"manifests/list-{i}"),
                    headers={"Content-Type": MT_OCI_MANIFEST},
                    content=self.listed[i],
                    lane=lane,
                )
                expect(response, (201,), f"PUT manifest list-{i}")
                self.listed_stored[i] = True

            await run_bounded(self.tags, self.conc, put)
            url = lister.repo_url("tags/list").copy_merge_params({"n": str(self.tags * 2)})

            async def get(_i: int, lane: int) -> None:
                response = await lister.send("GET", url, lane=lane)
                expect(response, (200,), "GET tags/list")
                count = len(response.json().get("tags") or [])
                if count != self.tags:
                    raise BenchError(f"tags/list named {count} tags, wanted {self.tags}")

            if self.args.wrk:
                await get(0, 0)
                path = self.repo_path(f"tags/list?n={self.tags * 2}", repo)
                what = f"tags/list of {self.tags}"
                return await self.wrk_rate("tags_list", what, "GET", [path], {}, lister)
            return await self.rate("tags_list", f"tags/list of {self.tags}", get)
        finally:
            if not (self.target.managed or self.args.keep):
                digests = sorted(
                    {
                        sha256_digest(m)
                        for m, ok in zip(self.listed, self.listed_stored, strict=True)
                        if ok
                    }
                )
                urls = [lister.repo_url(f"manifests/{d}") for d in digests]
                urls += [
                    lister.repo_url(f"blobs/{d}")
                    for d in (self.image.config_digest, self.image.layer_digest)
                ]

                async def delete(i: int, lane: int) -> None:
                    await lister.send("DELETE", urls[i], lane=lane)

                await run_bounded(len(urls), self.conc, delete)
            await lister.aclose()

    async def cleanup(self) -> str:
        """Best effort: DELETE what was pushed; registries may refuse (405)."""
        counts: dict[str, int] = {}

        async def delete(url: httpx.URL, lane: int) -> None:
            response = await self.client.send("DELETE", url, lane=lane)
            key = str(response.status_code)
            counts[key] = counts.get(key, 0) + 1

        manifests = sorted({self.digests[i] for i in range(self.n) if self.stored[i]})
        manifests += [sha256_digest(self.image.manifest(u)) for u in self.wrk_put_names]
        blobs = [*self.pushed, self.image.config_digest, self.image.layer_digest]
        urls = [self.client.repo_url(f"manifests/{d}") for d in manifests]
        urls += [self.client.repo_url(f"blobs/{d}") for d in blobs]
        await run_bounded(len(urls), self.conc, lambda i, lane: delete(urls[i], lane))
        self.result.raw["cleanup_status_counts"] = counts
        return f"cleanup: DELETE answered {counts} (status: count)"


# --------------------------------------------------------------------------- Distribution


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def distribution_config(rootdir: str, port: int) -> str:
    """Config for CNCF Distribution 2.x; JSON strings are valid YAML scalars. Its access log
    stays on, as by default (Berth's is on too); both logs go to a file."""
    q = json.dumps
    return (
        "version: 0.1\n"
        "log:\n"
        "  level: warn\n"
        "storage:\n"
        "  filesystem:\n"
        f"    rootdirectory: {q(rootdir)}\n"
        "  delete:\n"
        "    enabled: true\n"
        "http:\n"
        f"  addr: {q(f'127.0.0.1:{port}')}\n"
        f"  secret: {q(secrets.token_hex(16))}\n"
    )


@contextlib.contextmanager
def distribution_server(binary: str, startup_timeout: float = 20.0) -> Iterator[str]:
    """Start Distribution on a free loopback port with a temporary root; yield its URL."""
    tmp = tempfile.mkdtemp(prefix="registry-bench-distribution-")
    proc: subprocess.Popen[bytes] | None = None
    log_path = os.path.join(tmp, "registry.log")
    try:
        rootdir = os.path.join(tmp, "storage")
        os.mkdir(rootdir)
        port = free_port()
        config_path = os.path.join(tmp, "config.yml")
        with open(config_path, "w", encoding="utf-8") as fh:
            fh.write(distribution_config(rootdir, port))
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                [binary, "serve", config_path],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + startup_timeout
        with httpx.Client(trust_env=False, timeout=2.0) as http:
            while True:
                if proc.poll() is not None:
                    raise BenchError(f"{binary} exited with {proc.returncode}: {_tail(log_path)}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{url}/v2/").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise BenchError(f"{binary} not ready after {startup_timeout:g} s")
                time.sleep(0.1)
        log(f"[distribution] started {binary} (pid {proc.pid}) at {url}, root {rootdir}")
        yield url
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def berth_server(
    password: str, workers: int | None, startup_timeout: float = 240.0
) -> Iterator[str]:
    """Start `berth serve` as installed (embedded PostgreSQL and Redis in a temporary data
    dir, admin password ``password``) on a free loopback port; yield its URL."""
    tmp = tempfile.mkdtemp(prefix="registry-bench-berth-")
    proc: subprocess.Popen[bytes] | None = None
    log_path = os.path.join(tmp, "berth.log")
    command = [shutil.which("berth") or "berth"]
    if importlib.util.find_spec("registry") is not None:
        command = [sys.executable, "-m", "registry.cli"]
    try:
        port = free_port()
        argv = [*command, "serve", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--data-dir", os.path.join(tmp, "data")]
        if workers is not None:
            argv += ["--workers", str(workers)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
        env["BERTH_ADMIN_PASSWORD"] = password
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=env
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + startup_timeout
        with httpx.Client(trust_env=False, timeout=2.0) as http:
            while True:
                if proc.poll() is not None:
                    raise BenchError(
                        f"berth serve exited with {proc.returncode}: {_tail(log_path)}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{url}/v2/").status_code == 401:
                        break
                if time.monotonic() > deadline:
                    raise BenchError(f"berth serve not ready after {startup_timeout:g} s")
                time.sleep(0.2)
        log(f"[berth] started berth serve (pid {proc.pid}) at {url}, data in {tmp}")
        yield url
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()  # berth serve stops its embedded services and workers itself
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def _tail(path: str, limit: int = 800) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read()[-limit:].decode("utf-8", "replace").strip()
    except OSError:
        return ""


# --------------------------------------------------------------------------- reporting


def times_sign() -> str:
    encoding = sys.stdout.encoding or "ascii"
    try:
        "\u00d7".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "x"
    return "\u00d7"


def fmt_value(value: float, unit: str) -> str:
    if unit == "req/s":
        return f"{value:.0f}"
    if unit == "ms":
        return f"{value:.2f}"
    return f"{value:.1f}"


def compare(first: float, other: float, higher_is_better: bool) -> tuple[float, str]:
    ratio = first / other
    if 0.98 <= ratio <= 1.02:
        return ratio, "same"
    wins = ratio > 1 if higher_is_better else ratio < 1
    return ratio, "better" if wins else "worse"


def ratios(specs: Sequence[FigureSpec], results: Sequence[TargetResult]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    first = results[0]
    for other in results[1:]:
        for spec in specs:
            a = first.values.get(spec.key)
            b = other.values.get(spec.key)
            if a is None or b is None or b == 0:
                continue
            ratio, verdict = compare(a, b, spec.higher_is_better)
            out.append(
                {
                    "figure": spec.key,
                    "first": first.label,
                    "other": other.label,
                    "ratio": ratio,
                    "better": spec.better,
                    "first_is": verdict,
                }
            )
    return out


def render_table(specs: Sequence[FigureSpec], results: Sequence[TargetResult]) -> str:
    x = times_sign()
    header = ["figure", "unit", "better"] + [r.label for r in results]
    first = results[0]
    header += [f"{first.label}/{other.label}" for other in results[1:]]
    rows: list[list[str]] = []
    for spec in specs:
        row = [spec.label, spec.unit, spec.better]
        for res in results:
            value = res.values.get(spec.key)
            cell = "error" if value is None else fmt_value(value, spec.unit)
            if value is not None and spec.key in res.spread:
                lo, hi = res.spread[spec.key]
                cell += f" ({fmt_value(lo, spec.unit)}-{fmt_value(hi, spec.unit)})"
            row.append(cell)
        a = first.values.get(spec.key)
        for other in results[1:]:
            b = other.values.get(spec.key)
            if a is None or b is None or b == 0:
                row.append("-")
            else:
                ratio, verdict = compare(a, b, spec.higher_is_better)
                row.append(f"{ratio:.2f}{x} {verdict}")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [c.ljust(widths[i]) if i < 3 else c.rjust(widths[i]) for i, c in enumerate(cells)]
        return "  ".join(parts).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    if any(r.spread for r in results):
        out.append("")
        out.append("each cell: median of the rounds (min-max); ratios are of the medians.")
    if len(results) > 1:
        out.append("")
        out.append(f"ratio = {first.label}'s figure / the other target's figure.")
        out.append(
            f"'better' = {first.label} wins: MiB/s and req/s higher is better (ratio > 1), "
            "latency in ms lower is better (ratio < 1); 'same' = within 2%."
        )
    return "\n".join(out)


def client_bound_phases(
    specs: Sequence[FigureSpec], results: Sequence[TargetResult]
) -> dict[str, list[str]]:
    """Measured phases (per target) in which this process used at least 90% of a core."""
    measured = {s.phase for s in specs}
    out: dict[str, list[str]] = {}
    for res in results:
        raws = [r["raw"] for r in res.raw["rounds"]] if "rounds" in res.raw else [res.raw]
        phases: list[str] = []
        for raw in raws:
            for phase, pct in raw.get("client_cpu_percent", {}).items():
                if pct >= 90.0 and phase in measured and phase not in phases:
                    phases.append(phase)
        if phases:
            out[res.label] = phases
    return out


def client_ceiling() -> dict[str, float]:
    """How fast this client alone generates+hashes, and just hashes, blob bytes."""
    n = 64 * MIB
    source = BlobSource(12345, n)  # pool set-up stays outside the timing
    t0 = time.perf_counter()
    while source.produced < n:
        source.next_chunk(n)
    generate = time.perf_counter() - t0
    block = random.Random(1).randbytes(GEN_CHUNK)
    sha = hashlib.sha256()
    t0 = time.perf_counter()
    for _ in range(n // GEN_CHUNK):
        sha.update(block)
    hashing = time.perf_counter() - t0
    return {
        "generate_and_hash_mib_per_s": n / MIB / generate,
        "hash_mib_per_s": n / MIB / hashing,
    }


# --------------------------------------------------------------------------- CLI


def parse_target(spec: str, index: int) -> Target:
    label = ""
    url = spec
    if "=" in spec.split("://", 1)[0]:
        label, url = spec.split("=", 1)
        if not LABEL_RE.match(label):
            raise BenchError(f"bad label {label!r} in --url {spec!r}")
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BenchError(f"--url wants http://host:port or NAME=http://host:port, got {spec!r}")
    if not label:
        label = parsed.host + (f":{parsed.port}" if parsed.port else "") or f"target{index}"
    return Target(label=label, url=url.rstrip("/"))


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def bounded_int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="registry_bench.py",
        description="Benchmark blob push/pull throughput and manifest/HEAD request rates "
        "of OCI distribution registries. See bench/README.md.",
    )
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="[NAME=]URL",
        help="registry base URL, e.g. http://127.0.0.1:5000 or berth=http://127.0.0.1:8080; "
        "repeat to compare (the first is compared with each other one)",
    )
    parser.add_argument(
        "--distribution",
        action="store_true",
        help="also start Debian's docker-registry (CNCF Distribution) on a free loopback port "
        "with a temporary root, benchmark it as target 'distribution' (after the --url ones) "
        "and stop it afterwards",
    )
    parser.add_argument(
        "--distribution-bin",
        default=shutil.which("docker-registry") or "/usr/bin/docker-registry",
        help="Distribution binary for --distribution (default: %(default)s)",
    )
    parser.add_argument("--username", help="user for Basic auth or the token endpoint")
    parser.add_argument(
        "--password",
        default=os.environ.get("REGISTRY_BENCH_PASSWORD"),
        help="password (default: $REGISTRY_BENCH_PASSWORD)",
    )
    parser.add_argument(
        "--repo-prefix",
        default="library/bench",
        help="repositories are named PREFIX-<random>; on Berth the first segment must be an "
        "existing project (default: %(default)s)",
    )
    parser.add_argument(
        "--blob-mib", type=positive_float, default=256.0, help="big blob size (default: 256)"
    )
    parser.add_argument(
        "--chunk-mib", type=positive_float, default=8.0, help="PATCH size, chunked push (8)"
    )
    parser.add_argument(
        "--pull-repeats",
        type=bounded_int(1, 50),
        default=5,
        help="single-stream pulls in a row per round; the figure is their median (default: 5)",
    )
    parser.add_argument(
        "--concurrency",
        type=bounded_int(1, 64),
        default=8,
        help="parallel GETs in the concurrent pull (default: 8)",
    )
    parser.add_argument(
        "--requests",
        type=bounded_int(1, 100_000),
        default=500,
        help="manifest PUTs, manifest GETs and blob HEADs each (default: 500)",
    )
    parser.add_argument(
        "--rate-concurrency",
        type=bounded_int(1, 256),
        default=16,
        help="requests in flight in the manifest and HEAD phases (default: 16)",
    )
    parser.add_argument(
        "--rounds",
        type=bounded_int(1, 20),
        default=1,
        help="repeat everything this often, targets alternating, and report the median "
        "of each figure (default: 1)",
    )
    parser.add_argument(
        "--tags",
        type=bounded_int(1, 10_000),
        default=200,
        help="tags in the repository whose tags/list is timed (default: 200)",
    )
    parser.add_argument(
        "--berth",
        action="store_true",
        help="start `berth serve` (its embedded PostgreSQL and Redis, a temporary data dir, "
        "token auth as admin with a random password), benchmark it as target 'berth' (before "
        "the --url ones) and stop it afterwards",
    )
    parser.add_argument(
        "--berth-workers",
        type=bounded_int(1, 64),
        help="--workers for the started `berth serve` (default: Berth's own)",
    )
    parser.add_argument(
        "--ceilings",
        action="store_true",
        help="also measure the machine's raw ceilings (bench/ceilings.py) and print them",
    )
    parser.add_argument("--seed", type=int, help="blob content seed (default: random)")
    parser.add_argument(
        "--timeout", type=positive_float, default=120.0, help="per-request timeout, s (120)"
    )
    parser.add_argument(
        "--phase-timeout",
        type=positive_float,
        default=600.0,
        help="give up on a phase after this many seconds (default: 600)",
    )
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify TLS certificates (https URLs)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="do not DELETE the benchmark's manifests and blobs afterwards",
    )
    parser.add_argument(
        "--load-generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="what drives manifest PUT/GET, blob HEAD, tags/list and the pulls: wrk (ab for "
        "HEAD, curl for pulls), or this script's httpx client; auto takes each tool that is "
        "on the PATH (default: %(default)s)",
    )
    parser.add_argument(
        "--wrk-seconds",
        type=positive_float,
        default=10.0,
        help="how long wrk or ab drives each request-rate phase (default: 10)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    return parser


async def bench_all(
    targets: Sequence[Target], args: argparse.Namespace, creds: Credentials | None, seed: int
) -> list[TargetResult]:
    """Run every round; within a round the targets go one after the other, in
    reverse order every other round (A B, B A, ...), so drift on the machine
    (other load, warming caches) hits all of them alike."""
    per_target: list[list[TargetResult]] = [[] for _ in targets]
    for rnd in range(args.rounds):
        if args.rounds > 1:
            log(f"--- round {rnd + 1} of {args.rounds}")
        order = list(enumerate(targets))
        for i, target in order[::-1] if rnd % 2 else order:
            # Distinct blob contents per target and round: no registry sees another's.
            round_seed = seed + 1000 * i + 100_000 * rnd
            per_target[i].append(await bench_target(target, args, creds, round_seed))
    return [merge_rounds(rounds) for rounds in per_target]


def merge_rounds(rounds: Sequence[TargetResult]) -> TargetResult:
    """One result per target: the median of each figure over the rounds."""
    if len(rounds) == 1:
        return rounds[0]
    first = rounds[0]
    merged = TargetResult(label=first.label, url=first.url, repo=first.repo)
    merged.repo = ", ".join(r.repo for r in rounds)
    keys = {key for r in rounds for key in r.values}
    for key in sorted(keys):
        measured = [r.values[key] for r in rounds if key in r.values]
        merged.values[key] = statistics.median(measured)
        merged.spread[key] = (min(measured), max(measured))
    for number, r in enumerate(rounds, 1):
        for phase, message in r.errors.items():
            merged.errors[f"{phase} (round {number})"] = message
    merged.raw = {
        "rounds": [{"repository": r.repo, "values": r.values, "raw": r.raw} for r in rounds]
    }
    return merged


def machine_ceilings() -> str:
    """bench/ceilings.py's figures, measured now (after the targets, so they compete with
    nothing of this run)."""
    here = os.path.dirname(os.path.abspath(__file__))
    done = subprocess.run(
        [sys.executable, os.path.join(here, "ceilings.py"), "--mib", "512"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.rstrip() if done.returncode == 0 else f"ceilings failed: {done.stderr}"


def speed_up_httpcore() -> None:
    """httpcore runs ``import sniffio`` for every lock it creates; when sniffio is
    not installed each failed import rescans sys.path (a fifth of a millisecond,
    several times per request). A None entry in sys.modules makes that import
    fail at once, which is the asyncio fallback httpcore takes anyway."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        cast("dict[str, Any]", sys.modules)["sniffio"] = None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.wrk = args.ab = args.curl = None
    if args.load_generator != "python":
        args.curl = shutil.which("curl")
        args.wrk, args.ab = shutil.which("wrk"), shutil.which("ab")
        if args.wrk is None or args.ab is None or args.curl is None:
            if args.load_generator == "wrk":
                build_parser().error(
                    "--load-generator wrk: wrk, ab and curl must be on the PATH "
                    "(apt install wrk apache2-utils curl)"
                )
            args.wrk = args.ab = None
    speed_up_httpcore()
    try:
        targets = [parse_target(spec, i) for i, spec in enumerate(args.url)]
    except (BenchError, httpx.InvalidURL) as exc:
        log(f"error: {exc}")
        return 2
    if not targets and not (args.distribution or args.berth):
        log("error: give at least one --url, --berth or --distribution")
        return 2
    if not REPO_RE.match(args.repo_prefix + "-x"):
        log(f"error: --repo-prefix {args.repo_prefix!r} is not a valid repository name")
        return 2
    if args.password is not None and args.username is None:
        log("error: --password needs --username")
        return 2
    labels = (["berth"] if args.berth else []) + [t.label for t in targets]
    labels += ["distribution"] if args.distribution else []
    if len(set(labels)) != len(labels):
        log(f"error: target labels must differ, got {labels}; use --url NAME=URL")
        return 2
    if args.berth and args.username is None:
        args.username, args.password = "admin", "Bench-" + secrets.token_urlsafe(12)
    creds = Credentials(args.username, args.password or "") if args.username else None
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    specs = figure_specs(args)
    started = datetime.now(UTC)
    ceiling = client_ceiling()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = (
        f"blob {args.blob_mib:g} MiB, chunks {args.chunk_mib:g} MiB, {args.concurrency} pull "
        f"streams, {args.requests} requests x {args.rate_concurrency} in flight, "
        f"{args.rounds} round(s), seed {seed}\n"
        f"client alone: generate+sha256 {ceiling['generate_and_hash_mib_per_s']:.0f} MiB/s, "
        f"sha256 {ceiling['hash_mib_per_s']:.0f} MiB/s; load average at start {load:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    log(f"registry_bench: {len(labels)} target(s), seed {seed}")

    with contextlib.ExitStack() as stack:
        if args.berth:
            try:
                url = stack.enter_context(berth_server(args.password or "", args.berth_workers))
            except BenchError as exc:
                log(f"error: could not start Berth: {exc}")
                return 1
            targets.insert(0, Target(label="berth", url=url, managed=True))
        if args.distribution:
            if not os.access(args.distribution_bin, os.X_OK):
                log(f"error: {args.distribution_bin} is not executable (Debian: docker-registry)")
                return 2
            try:
                url = stack.enter_context(distribution_server(args.distribution_bin))
            except BenchError as exc:
                log(f"error: could not start Distribution: {exc}")
                return 1
            targets.append(Target(label="distribution", url=url, managed=True))
        try:
            results = asyncio.run(bench_all(targets, args, creds, seed))
        except KeyboardInterrupt:
            log("interrupted")
            return 130

    print(header)
    if args.ceilings:
        print()
        print(machine_ceilings())
    print()
    print(render_table(specs, results))
    busy = client_bound_phases(specs, results)
    if busy:
        print()
        print(
            "client CPU reached 90% of a core in: "
            + "; ".join(f"{label}: {', '.join(phases)}" for label, phases in busy.items())
        )
        print("those figures may show the limit of this client rather than of the registry.")
    failures = {r.label: r.errors for r in results if r.errors}
    for label, errors in failures.items():
        for phase, message in errors.items():
            print(f"{label}: {phase}: {message}")

    if args.json:
        document = {
            "tool": "bench/registry_bench.py",
            "format": 1,
            "started": started.isoformat(),
            "finished": datetime.now(UTC).isoformat(),
            "host": {
                "python": platform.python_version(),
                "httpx": httpx.__version__,
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "load_average_at_start": load,
            },
            "params": {
                "blob_bytes": max(1, int(args.blob_mib * MIB)),
                "chunk_bytes": max(1, int(args.chunk_mib * MIB)),
                "pull_concurrency": args.concurrency,
                "requests": args.requests,
                "rate_concurrency": args.rate_concurrency,
                "rounds": args.rounds,
                "seed": seed,
                "repo_prefix": args.repo_prefix,
            },
            "client_ceiling": ceiling,
            "figures": [
                {"key": s.key, "label": s.label, "unit": s.unit, "better": s.better} for s in specs
            ],
            "targets": [
                {
                    "label": r.label,
                    "url": r.url,
                    "repository": r.repo,
                    "values": r.values,
                    "errors": r.errors,
                    "raw": r.raw,
                }
                for r in results
            ],
            "ratios": ratios(specs, results),
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2)
            fh.write("\n")
        log(f"raw results written to {args.json}")
    return 1 if any(not k.startswith("cleanup") for e in failures.values() for k in e) else 0


if __name__ == "__main__":
    sys.exit(main())
