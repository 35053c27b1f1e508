"""Rendering a page: the Jinja2 environment and what every template can use."""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from registry.portal import formatting
from registry.portal.navigation import PROJECT_TABS, sections_for
from registry.portal.security import csrf_token
from registry.portal.static import static_url

# Pages load scripts and styles only from Berth itself; no inline script or style at all.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": _CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("registry.portal", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = formatting.human_size
    env.filters["when"] = formatting.when
    env.filters["short_digest"] = formatting.short_digest
    env.globals["static_url"] = static_url
    env.globals["project_tabs"] = PROJECT_TABS
    return env


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    title: str = "",
) -> HTMLResponse:
    viewer = getattr(request.state, "portal_viewer", None)
    sysadmin = bool(viewer is not None and viewer.sysadmin)
    values: dict[str, Any] = {
        "title": title,
        "viewer": viewer if viewer is not None and not viewer.anonymous else None,
        "csrf_token": csrf_token(request),
        "sections": sections_for(sysadmin),
        "path": request.url.path,
        "error": None,
        # A page answering a form itself (no redirect) sets its notice on the request.
        "notice": getattr(request.state, "portal_notice", "")
        or request.query_params.get("notice", ""),
    }
    values.update(context or {})
    body = environment().get_template(template).render(values)
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)
