"""The ``docker-registry`` adapter: any registry speaking the OCI distribution API (CNCF
Distribution, zot, …) through ``/v2/`` alone."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from urllib.parse import urljoin, urlsplit

import httpx

from registry.oci import mediatypes
from registry.replication.adapter import (
    AdapterError,
    Manifest,
    NotFound,
    RegistryInfo,
    RemoteArtifact,
    Unauthorized,
    Unreachable,
)
from registry.replication.client import Credential, check_answer, make_client
from registry.replication.untag import untag_through_placeholder

TYPE = "docker-registry"

# Every manifest type Berth stores; a registry that has several picks by this list.
ACCEPT = ", ".join(
    (
        mediatypes.OCI_INDEX,
        mediatypes.OCI_MANIFEST,
        mediatypes.DOCKER_MANIFEST_LIST,
        mediatypes.DOCKER_MANIFEST,
    )
)
PAGE = 1000
INFO = RegistryInfo(
    TYPE, "Any registry that speaks the OCI distribution API", supported_copy_by_chunk=True
)
BLOB_CHUNK = 1024 * 1024


class DistributionAdapter:
    def __init__(self, url: str, credential: Credential, *, insecure: bool = False) -> None:
        self.url = url.rstrip("/")
        self._http = make_client(self.url, credential, insecure=insecure)

    def info(self) -> RegistryInfo:
        return INFO

    async def close(self) -> None:
        await self._http.aclose()

    async def _send(
        self,
        method: str,
        path: str,
        what: str,
        **kwargs: object,
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            raise Unreachable(f"{what}: {type(exc).__name__}: {exc}") from exc
        check_answer(response, what)
        return response

    async def ping(self) -> None:
        response = await self._send("GET", "/v2/", "ping")
        if response.status_code != 200:
            raise AdapterError(f"GET /v2/ answered {response.status_code}")

    async def list_repositories(self) -> list[str]:
        names: list[str] = []
        path: str | None = f"/v2/_catalog?n={PAGE}"
        while path:
            response = await self._send("GET", path, "listing repositories")
            if response.status_code != 200:
                raise AdapterError(f"_catalog answered {response.status_code}")
            names.extend(response.json().get("repositories") or [])
            path = _next_link(response)
        return names

    async def list_tags(self, repository: str) -> list[str]:
        tags: list[str] = []
        path: str | None = f"/v2/{repository}/tags/list?n={PAGE}"
        while path:
            response = await self._send("GET", path, f"listing tags of {repository}")
            if response.status_code == 404:
                return []
            if response.status_code != 200:
                raise AdapterError(f"tags/list of {repository} answered {response.status_code}")
            tags.extend(response.json().get("tags") or [])
            path = _next_link(response)
        return tags

    async def list_artifacts(self, repository: str) -> list[RemoteArtifact]:
        by_digest: dict[str, list[str]] = {}
        for tag in await self.list_tags(repository):
            digest = await self.manifest_digest(repository, tag)
            if digest is not None:
                by_digest.setdefault(digest, []).append(tag)
        return [RemoteArtifact(d, tuple(tags)) for d, tags in by_digest.items()]

    async def prepare_for_push(self, repositories: list[str]) -> None:
        """Distribution makes repositories on first push."""

    async def manifest_digest(self, repository: str, reference: str) -> str | None:
        response = await self._send(
            "HEAD",
            f"/v2/{repository}/manifests/{reference}",
            f"looking up {repository}:{reference}",
            headers={"Accept": ACCEPT},
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise AdapterError(f"HEAD manifest {repository}:{reference}: {response.status_code}")
        digest = str(response.headers.get("Docker-Content-Digest", ""))
        if digest:
            return digest
        # Without the header only the body tells (some registries leave it out on HEAD).
        return (await self.pull_manifest(repository, reference)).digest

    async def pull_manifest(self, repository: str, reference: str) -> Manifest:
        response = await self._send(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            f"pulling {repository}:{reference}",
            headers={"Accept": ACCEPT},
        )
        if response.status_code == 404:
            raise NotFound(f"manifest {repository}:{reference} not found")
        if response.status_code != 200:
            raise AdapterError(f"GET manifest {repository}:{reference}: {response.status_code}")
        content = response.content
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        return Manifest(content, media_type or mediatypes.OCI_MANIFEST, digest)

    async def push_manifest(self, repository: str, reference: str, manifest: Manifest) -> None:
        response = await self._send(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            f"pushing {repository}:{reference}",
            content=manifest.content,
            headers={"Content-Type": manifest.media_type},
        )
        # 202: Quay accepts a manifest to store it a moment later.
        if response.status_code not in (200, 201, 202):
            raise AdapterError(
                f"PUT manifest {repository}:{reference}: {response.status_code} {response.text}"
            )

    async def delete_manifest(self, repository: str, digest: str) -> None:
        response = await self._send(
            "DELETE", f"/v2/{repository}/manifests/{digest}", f"deleting {repository}@{digest}"
        )
        if response.status_code == 404:
            raise NotFound(f"{repository}@{digest} not found")
        if response.status_code not in (200, 202):
            raise AdapterError(f"DELETE {repository}@{digest}: {response.status_code}")

    async def delete_tag(self, repository: str, tag: str) -> None:
        # Registries that follow OCI distribution 1.1 delete a tag in place; Distribution 2.8
        # answers 400 (it reads the tag as a digest) and others 405: there the tag is moved
        # onto a placeholder that is then deleted, as deleting its manifest would take the
        # artifact's other tags along.
        response = await self._send(
            "DELETE", f"/v2/{repository}/manifests/{tag}", f"deleting tag {repository}:{tag}"
        )
        if response.status_code in (200, 202):
            return
        if response.status_code == 404:
            raise NotFound(f"{repository}:{tag} not found")
        if response.status_code not in (400, 405):
            raise AdapterError(f"DELETE tag {repository}:{tag}: {response.status_code}")
        await untag_through_placeholder(self, repository, tag)

    async def blob_exists(self, repository: str, digest: str) -> bool:
        response = await self._send(
            "HEAD", f"/v2/{repository}/blobs/{digest}", f"checking blob {digest}"
        )
        return response.status_code == 200

    async def pull_blob(self, repository: str, digest: str) -> AsyncIterator[bytes]:
        what = f"pulling blob {digest}"
        try:
            async with self._http.stream("GET", f"/v2/{repository}/blobs/{digest}") as response:
                check_answer(response, what)
                if response.status_code == 404:
                    raise NotFound(f"blob {digest} not found in {repository}")
                if response.status_code != 200:
                    raise AdapterError(f"{what}: {response.status_code}")
                async for chunk in response.aiter_bytes(BLOB_CHUNK):
                    yield chunk
        except httpx.TransportError as exc:
            raise Unreachable(f"{what}: {type(exc).__name__}: {exc}") from exc

    async def open_blob(self, repository: str, digest: str) -> tuple[int, AsyncIterator[bytes]]:
        """The blob's size and its bytes as they arrive (for serving it on, as a proxy does);
        the connection stays open until the chunks are read or closed."""
        what = f"pulling blob {digest}"
        request = self._http.build_request("GET", f"/v2/{repository}/blobs/{digest}")
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise Unreachable(f"{what}: {type(exc).__name__}: {exc}") from exc
        try:
            check_answer(response, what)
            if response.status_code == 404:
                raise NotFound(f"blob {digest} not found in {repository}")
            if response.status_code != 200 or "Content-Length" not in response.headers:
                raise AdapterError(f"{what}: {response.status_code}")
            size = int(response.headers["Content-Length"])
        except BaseException:
            await response.aclose()
            raise

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_bytes(BLOB_CHUNK):
                    yield chunk
            finally:
                await response.aclose()

        return size, chunks()

    async def push_blob(
        self, repository: str, digest: str, size: int, chunks: AsyncIterator[bytes]
    ) -> None:
        what = f"pushing blob {digest}"
        started = await self._send("POST", f"/v2/{repository}/blobs/uploads/", what)
        if started.status_code not in (201, 202) or "Location" not in started.headers:
            raise AdapterError(f"{what}: starting the upload answered {started.status_code}")
        location = _absolute(self.url, started.headers["Location"])
        separator = "&" if "?" in location else "?"
        response = await self._send(
            "PUT",
            f"{location}{separator}digest={digest}",
            what,
            content=chunks,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        if response.status_code != 201:
            raise AdapterError(f"{what}: {response.status_code} {response.text[:200]}")

    async def push_blob_chunked(
        self,
        repository: str,
        digest: str,
        size: int,
        chunks: AsyncIterator[bytes],
        chunk_size: int,
    ) -> None:
        """The OCI chunked upload: ``PATCH`` requests of at most ``chunk_size`` bytes, each
        with its ``Content-Range``, streamed from ``chunks``, then a ``PUT`` with the digest."""
        what = f"pushing blob {digest} in chunks"
        started = await self._send("POST", f"/v2/{repository}/blobs/uploads/", what)
        if started.status_code not in (201, 202) or "Location" not in started.headers:
            raise AdapterError(f"{what}: starting the upload answered {started.status_code}")
        location = _absolute(self.url, started.headers["Location"])
        source = Slicer(chunks)
        offset = 0
        while offset < size:
            length = min(chunk_size, size - offset)
            response = await self._send(
                "PATCH",
                location,
                what,
                content=source.take(length),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(length),
                    "Content-Range": f"{offset}-{offset + length - 1}",
                },
            )
            if response.status_code != 202 or "Location" not in response.headers:
                raise AdapterError(
                    f"{what}: the chunk at {offset} answered {response.status_code} "
                    f"{response.text[:200]}"
                )
            location = _absolute(self.url, response.headers["Location"])
            offset += length
        separator = "&" if "?" in location else "?"
        done = await self._send(
            "PUT", f"{location}{separator}digest={digest}", what, headers={"Content-Length": "0"}
        )
        if done.status_code != 201:
            raise AdapterError(f"{what}: closing the upload answered {done.status_code}")

    async def referrers(self, repository: str, digest: str) -> list[str]:
        response = await self._send(
            "GET",
            f"/v2/{repository}/referrers/{digest}",
            f"listing referrers of {digest}",
            headers={"Accept": mediatypes.OCI_INDEX},
        )
        if response.status_code != 200:
            # 404: a registry from before the OCI 1.1 referrers API (Distribution 2.8).
            return []
        return [m["digest"] for m in response.json().get("manifests") or [] if "digest" in m]


class Slicer:
    """Cuts a stream of chunks into consecutive slices of given lengths, holding at most one
    incoming chunk (what is left of it waits for the next slice)."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    async def take(self, length: int) -> AsyncIterator[bytes]:
        """The next ``length`` bytes, as they come."""
        wanted = length
        while wanted:
            if not self._left:
                try:
                    self._left = await anext(self._chunks)
                except StopAsyncIteration:
                    raise AdapterError(
                        f"the source ended {wanted} bytes before the blob's size"
                    ) from None
            piece, self._left = self._left[:wanted], self._left[wanted:]
            wanted -= len(piece)
            yield piece


def _next_link(response: httpx.Response) -> str | None:
    link = response.headers.get("Link", "")
    if 'rel="next"' not in link:
        return None
    target = link.split(";")[0].strip().strip("<>")
    parts = urlsplit(str(target))
    return str(parts.path) + (f"?{parts.query}" if parts.query else "")


def _absolute(base: str, location: str) -> str:
    return urljoin(base + "/", location)


__all__ = ["TYPE", "DistributionAdapter", "Unauthorized"]
