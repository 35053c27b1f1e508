"""Chart.yaml: parsing it safely and the rules a chart's name and version must follow."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml


class BadChart(Exception):
    """The chart cannot be taken; the message says why, in words a user can act on."""


# A chart is also stored as an OCI artifact in the repository <project>/<name>, so its name
# must be a valid OCI path component (lowercase), which Helm recommends anyway.
_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_MAX_NAME = 128
# Helm's versions are semantic versions; like Helm, a leading "v" and a short "1.2" are taken.
_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)(\.(0|[1-9]\d*)){0,2}"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
# An OCI tag holds at most 128 characters.
_MAX_VERSION = 128
_TYPES = frozenset({"application", "library"})


def load_yaml(text: bytes, what: str) -> Any:
    """Parse one YAML document, refusing aliases: a few bytes of anchors and aliases can
    expand to gigabytes once the value is written out as JSON."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise BadChart(f"{what} uses YAML aliases, which Berth does not accept")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadChart(f"{what} is not valid YAML: {exc}") from None


def as_json_value(value: Any) -> Any:
    """``value`` with YAML-only types (dates, timestamps) turned into strings, as Helm's own
    YAML-to-JSON conversion does."""
    return json.loads(json.dumps(value, default=str))


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise BadChart("Chart.yaml has no name")
    if len(name) > _MAX_NAME or not _NAME.match(name):
        raise BadChart(
            f"chart name {name!r} is invalid: lowercase letters and digits, separated by "
            "single '.', '_' or '-'"
        )
    return name


def check_version(version: object) -> str:
    if isinstance(version, int | float) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str) or not version:
        raise BadChart("Chart.yaml has no version")
    if len(version) > _MAX_VERSION or not _VERSION.match(version):
        raise BadChart(f"chart version {version!r} is not a semantic version")
    return version


def parse_chart_yaml(text: bytes) -> dict[str, Any]:
    """Chart.yaml as a JSON-ready mapping, checked: apiVersion v1 or v2, a valid name and
    semantic version, a known type, dependencies that each name a chart."""
    raw = load_yaml(text, "Chart.yaml")
    if not isinstance(raw, dict):
        raise BadChart("Chart.yaml is not a mapping")
    meta: dict[str, Any] = as_json_value(raw)
    if meta.get("apiVersion") not in ("v1", "v2"):
        raise BadChart("Chart.yaml apiVersion must be v1 or v2")
    meta["name"] = check_name(meta.get("name"))
    meta["version"] = check_version(meta.get("version"))
    if "type" in meta and meta["type"] not in _TYPES:
        raise BadChart(f"chart type {meta['type']!r} is neither application nor library")
    check_dependencies(meta.get("dependencies"), "Chart.yaml")
    return meta


def check_dependencies(dependencies: object, where: str) -> list[dict[str, Any]]:
    if dependencies is None:
        return []
    if not isinstance(dependencies, list) or not all(
        isinstance(d, dict) and isinstance(d.get("name"), str) and d["name"] for d in dependencies
    ):
        raise BadChart(f"the dependencies in {where} must each be a mapping with a name")
    return dependencies


def version_key(version: str) -> tuple[Any, ...]:
    """Sorts versions as semantic versions do: numbers numerically, a pre-release before its
    release, build metadata ignored."""
    core, _, _build = version.lstrip("v").partition("+")
    core, _, pre = core.partition("-")
    numbers = [int(part) for part in core.split(".")] + [0, 0]
    if not pre:
        pre_key: tuple[Any, ...] = (1,)
    else:
        pre_key = (
            0,
            tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")),
        )
    return (numbers[0], numbers[1], numbers[2], pre_key)
