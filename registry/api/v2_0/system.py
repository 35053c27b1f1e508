"""/ping, /health, /systeminfo and /configurations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from registry.api.v2_0.endpoint import harbor_endpoint, json_response, read_object
from registry.api.v2_0.errors import Unauthorized
from registry.api.v2_0.security import backends, principal_of, sysadmin
from registry.services import system, system_info
from registry.services.configuration import for_display
from registry.services.health import system_health


async def ping(request: Request) -> Response:
    return PlainTextResponse("Pong")


@harbor_endpoint
async def health(request: Request) -> Response:
    """Harbor's health document: overall status and each component with its error. Checks run
    at once, each bounded, so a frozen dependency cannot hold the answer; 503 unless every
    component is healthy (load balancers and Kubernetes probes read the status code)."""
    report = await system_health(backends(request))
    return json_response(report, status=200 if report["status"] == "healthy" else 503)


@harbor_endpoint
async def systeminfo(request: Request) -> Response:
    b = backends(request)
    config = await b.config.get()
    principal = await principal_of(request)
    external_url = b.settings.external_url or f"{request.url.scheme}://{request.url.netloc}"
    body: dict[str, Any] = {
        "auth_mode": config["auth_mode"],
        "primary_auth_mode": config["primary_auth_mode"],
        "self_registration": config["self_registration"],
        "harbor_version": system_info.harbor_version(),
        "registry_url": urlsplit(external_url).netloc,
        "external_url": external_url.rstrip("/"),
        "read_only": config["read_only"],
        # Each project has a ChartMuseum-style chart repository (/chartrepo/{project}).
        "with_chartmuseum": True,
        "banner_message": config["banner_message"],
        "current_time": datetime.now(UTC),
        "notification_enable": config["notification_enable"],
        "has_ca_root": system_info.ca_certificate_path(b) is not None,
        "registry_storage_provider_name": b.settings.storage.driver,
    }
    if config["auth_mode"] == "oidc_auth":
        body["oidc_provider_name"] = config["oidc_name"]
    if not principal.anonymous:
        body["project_creation_restriction"] = config["project_creation_restriction"]
    return json_response(body)


@harbor_endpoint
async def get_configurations(request: Request) -> Response:
    await sysadmin(request)
    return json_response(for_display(await backends(request).config.get(fresh=True)))


@harbor_endpoint
async def put_configurations(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    await system.update_configuration(backends(request), principal, body)
    return Response(status_code=200)


@harbor_endpoint
async def statistics(request: Request) -> Response:
    principal = await principal_of(request)
    if principal.anonymous:
        raise Unauthorized("authentication required")
    return json_response(await system.statistics(backends(request), principal))


@harbor_endpoint
async def search(request: Request) -> Response:
    principal = await principal_of(request)
    found = await system.search(backends(request), principal, request.query_params.get("q", ""))
    return json_response(
        {
            "project": [
                {
                    "project_id": p["id"],
                    "name": p["name"],
                    "creation_time": p["created_at"],
                    "metadata": {"public": "true" if p["public"] else "false"},
                }
                for p in found.projects
            ],
            "repository": [
                {
                    "repository_name": r["name"],
                    "project_id": r["project_id"],
                    "project_name": r["project_name"],
                    "project_public": r["public"],
                    "pull_count": r["pull_count"],
                    "artifact_count": r["artifact_count"],
                }
                for r in found.repositories
            ],
        }
    )
