"""/openapi.json and /openapi.yaml: the hand-written OpenAPI document of /api/v2.0.

Like Harbor's swagger endpoint it is public. The document is read once per process; the
YAML is served as written (comments included), the JSON as compact JSON.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DOCUMENT = Path(__file__).with_name("openapi.yaml")


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document, parsed."""
    loaded = yaml.safe_load(_yaml_bytes())
    if not isinstance(loaded, dict):
        raise TypeError(f"{DOCUMENT} does not hold a YAML mapping")
    return loaded


@functools.cache
def _yaml_bytes() -> bytes:
    return DOCUMENT.read_bytes()


@functools.cache
def _json_bytes() -> bytes:
    return json.dumps(document(), ensure_ascii=False, separators=(",", ":")).encode()


async def openapi_json(request: Request) -> Response:
    return Response(_json_bytes(), media_type="application/json")


async def openapi_yaml(request: Request) -> Response:
    return Response(_yaml_bytes(), media_type="application/yaml")


routes = [
    Route("/api/v2.0/openapi.json", openapi_json, methods=["GET"]),
    Route("/api/v2.0/openapi.yaml", openapi_yaml, methods=["GET"]),
]
