"""Icons for artifact types, as Harbor's ``/icons/{digest}`` serves them: each is a small PNG
named by the sha256 digest of its bytes, and an artifact's ``icon`` names its type's.

The PNGs are drawn here (a square of the type's colour), so Berth ships no image files."""

from __future__ import annotations

import base64
import functools
import hashlib
import struct
import zlib
from dataclasses import dataclass

from registry.services.errors import ResourceUnknown

_SIZE = 32
# Artifact kinds (and accessory families) and the colour of their icon.
_COLOURS: dict[str, tuple[int, int, int]] = {
    "IMAGE": (0x1E, 0x88, 0xE5),
    "CHART": (0x0F, 0x16, 0x89),
    "CNAB": (0x6A, 0x1B, 0x9A),
    "WASM": (0x65, 0x4F, 0xF0),
    "signature": (0x2E, 0x7D, 0x32),
    "sbom": (0xF9, 0xA8, 0x25),
    "UNKNOWN": (0x75, 0x75, 0x75),
}


@dataclass(frozen=True, slots=True)
class Icon:
    digest: str
    content_type: str
    content: bytes

    @property
    def base64(self) -> str:
        return base64.b64encode(self.content).decode()


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png(colour: tuple[int, int, int]) -> bytes:
    row = b"\x00" + bytes(colour) * _SIZE
    header = struct.pack(">IIBBBBB", _SIZE, _SIZE, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * _SIZE, 9))
        + _chunk(b"IEND", b"")
    )


@functools.cache
def _icons() -> dict[str, Icon]:
    by_kind = {}
    for kind, colour in _COLOURS.items():
        content = _png(colour)
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        by_kind[kind] = Icon(digest, "image/png", content)
    return by_kind


def icon_for(kind: str) -> str:
    """The digest of the icon of an artifact kind (``IMAGE``, ``CHART``, …, or an accessory
    type such as ``signature.cosign``)."""
    icons = _icons()
    family = kind.split(".", 1)[0]
    return (icons.get(kind) or icons.get(family) or icons["UNKNOWN"]).digest


def get_icon(digest: str) -> Icon:
    for icon in _icons().values():
        if icon.digest == digest:
            return icon
    raise ResourceUnknown(f"the icon {digest} not found")
