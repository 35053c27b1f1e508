"""Provenance files (``<chart>.tgz.prov``): a PGP clear-signed message holding the chart's
Chart.yaml and, under ``files:``, the archive's name and sha256. Berth does not verify the
signature (the client does, with its own keyring); it checks the file is one and that it
names the chart it is stored beside, with that chart's digest."""

from __future__ import annotations

import re

from registry.charts.metadata import BadChart

_BEGIN = b"-----BEGIN PGP SIGNED MESSAGE-----"
_SIGNATURE = b"-----BEGIN PGP SIGNATURE-----"


def files_of(prov: bytes) -> dict[str, str]:
    """The ``files:`` section: archive name → ``sha256:<hex>``."""
    if not prov.lstrip().startswith(_BEGIN) or _SIGNATURE not in prov:
        raise BadChart("the provenance file is not a PGP clear-signed message")
    body = prov.split(_SIGNATURE, 1)[0].decode("utf-8", errors="replace")
    found: dict[str, str] = {}
    in_files = False
    for line in body.splitlines():
        if line.startswith("files:"):
            in_files = True
            continue
        if in_files:
            match = re.match(r"^\s+['\"]?([^'\":]+?)['\"]?:\s*['\"]?(sha256:[0-9a-f]{64})", line)
            if match:
                found[match.group(1)] = match.group(2)
            elif line and not line[0].isspace():
                in_files = False
    if not found:
        raise BadChart("the provenance file names no chart archive")
    return found


def chart_named(prov: bytes) -> str:
    """The archive file name the provenance file signs."""
    names = list(files_of(prov))
    return names[0]


def check_matches(prov: bytes, filename: str, digest: str) -> None:
    """The provenance file must sign ``filename`` with ``digest`` (``sha256:<hex>``)."""
    files = files_of(prov)
    if filename not in files:
        raise BadChart(f"the provenance file does not sign {filename}")
    if files[filename] != digest:
        raise BadChart(f"the provenance file signs other bytes than those of {filename}")
