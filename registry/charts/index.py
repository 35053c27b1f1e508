"""The repository index (``index.yaml``) as Helm and ChartMuseum write it::

    apiVersion: v1
    entries:
      <name>:
      - <every Chart.yaml field>
        created: "<RFC 3339>"
        digest: <hex sha256 of the .tgz>
        name: <name>
        urls:
        - charts/<name>-<version>.tgz
    generated: "<RFC 3339>"
    serverInfo: {}

Each version's YAML (all but ``name`` and ``urls``) is written once, when the chart is
stored (:func:`entry_fragment`); building an index only joins those fragments, so even tens of
thousands of versions take milliseconds. ``serverInfo`` carries no ``contextPath``: the
``cm-push`` plugin then posts to ``/api/<repository path>/charts``, that is
``/api/chartrepo/<project>/charts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

_INDENT = "    "


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def entry_fragment(metadata: dict[str, Any], digest_hex: str, created: datetime) -> str:
    """One version's index entry, without ``name`` and ``urls``, as the YAML lines of an item
    of its name's list (already indented)."""
    entry = {k: v for k, v in metadata.items() if k not in ("name", "urls")}
    entry["created"] = rfc3339(created)
    entry["digest"] = digest_hex
    text: str = yaml.safe_dump(
        entry, default_flow_style=False, sort_keys=True, allow_unicode=True, width=2**31 - 1
    )
    lines = text.splitlines()
    return "".join(("  - " if i == 0 else _INDENT) + line + "\n" for i, line in enumerate(lines))


@dataclass(frozen=True, slots=True)
class IndexEntry:
    name: str
    url: str
    fragment: str


def _quoted(text: str) -> str:
    # Quoted, so no name reads as another type ("true", "1.0"); chart, project names and
    # versions never hold a quote or backslash, so they need no escaping.
    return f'"{text}"' if '"' not in text and "\\" not in text else json.dumps(text)


def render(entries: Iterable[IndexEntry], generated: datetime) -> bytes:
    """The index of ``entries``, grouped by name in the order given (Helm sorts each name's
    versions itself when it loads an index)."""
    out: list[str] = ["apiVersion: v1\n"]
    current: str | None = None
    quoted_name = ""
    any_entry = False
    for entry in entries:
        if not any_entry:
            out.append("entries:\n")
            any_entry = True
        if entry.name != current:
            current = entry.name
            quoted_name = _quoted(entry.name)
            out.append(f"  {quoted_name}:\n")
        out.append(entry.fragment)
        out.append(
            f"{_INDENT}name: {quoted_name}\n{_INDENT}urls:\n{_INDENT}- {_quoted(entry.url)}\n"
        )
    if not any_entry:
        out.append("entries: {}\n")
    out.append(f"generated: {_quoted(rfc3339(generated))}\n")
    out.append("serverInfo: {}\n")
    return "".join(out).encode()
