"""What ``/systeminfo`` tells about this registry beyond its configuration: the blob store's
volume and the CA certificate clients should trust."""

from __future__ import annotations

import asyncio
import importlib.metadata
import shutil
from dataclasses import dataclass
from pathlib import Path

from registry.services.context import Backends
from registry.services.errors import ResourceUnknown

# The Harbor API level Berth answers for: clients compare ``harbor_version`` with Harbor's.
HARBOR_API_LEVEL = "v2.13.0"


def harbor_version() -> str:
    """Harbor's style, ``v<harbor>-<build>``: the build part names Berth and its version."""
    try:
        berth = importlib.metadata.version("berth")
    except importlib.metadata.PackageNotFoundError:
        berth = "dev"
    return f"{HARBOR_API_LEVEL}-berth.{berth}"


@dataclass(frozen=True, slots=True)
class Volume:
    total: int
    free: int


async def volumes(b: Backends) -> list[Volume]:
    """The volume holding the blobs, for the filesystem driver; an object store reports none
    (its size is not the registry's to know)."""
    if b.settings.storage.driver != "filesystem":
        return []
    root = b.settings.storage_root
    usage = await asyncio.to_thread(shutil.disk_usage, root if root.exists() else root.parent)
    return [Volume(total=usage.total, free=usage.free)]


def ca_certificate_path(b: Backends) -> Path | None:
    path = b.settings.ca_certificate_path
    return path if path is not None and path.is_file() else None


async def ca_certificate(b: Backends) -> bytes:
    path = ca_certificate_path(b)
    if path is None:
        raise ResourceUnknown("no CA certificate is configured")
    return await asyncio.to_thread(path.read_bytes)
