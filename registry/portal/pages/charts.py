"""A project's chart repository: uploading a packaged chart (and its provenance file), one
version's details with its values, and deleting a version."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response

from registry.auth import session
from registry.portal.endpoint import page, see_other
from registry.portal.errors import PageError, PageForbidden
from registry.portal.forms import signed_form, tokens_match
from registry.portal.pages.project import tab_page
from registry.portal.security import allowed, backends, csrf_token, project_page, signed_in, viewer
from registry.portal.templating import render
from registry.rbac import Action, ProjectRef
from registry.services import chart as chart_service
from registry.services.errors import ChartTooLarge, RegistryError

# Room for the multipart framing and the CSRF field around the two files.
_FRAMING_BYTES = 64 * 1024


def _charts_url(project: ProjectRef, notice: str = "") -> str:
    url = f"/projects/{quote(project.name)}/charts"
    return url + ("?notice=" + quote(notice) if notice else "")


async def _bounded(chunks: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise ChartTooLarge(f"the upload is larger than the {limit} byte limit")
        yield chunk


async def _upload_files(
    request: Request, limit: int
) -> tuple[chart_service.ChartFile, chart_service.ChartFile | None, str | None]:
    """The chart and provenance file of the upload form, once its CSRF token checks out."""
    await signed_in(request)
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise PageError("Upload the chart with the form.")
    parser = MultiPartParser(
        request.headers,
        _bounded(request.stream(), 2 * limit + _FRAMING_BYTES),
        max_files=2,
        max_fields=4,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise PageError(f"The form could not be read: {exc.message}.") from None
    sent = form.get("csrf_token") or request.headers.get(session.CSRF_HEADER, "")
    if not isinstance(sent, str) or not tokens_match(sent, csrf_token(request)):
        await form.close()
        raise PageForbidden("The form has expired or did not come from this site. Reload it.")
    chart, prov = form.get("chart"), form.get("prov")
    if not isinstance(chart, UploadFile) or not chart.filename:
        await form.close()
        raise PageError("Choose the chart archive (.tgz) to upload.")
    chart_file = chart_service.file_of(chart.file, limit, "chart")
    prov_file = None
    if isinstance(prov, UploadFile) and prov.filename:
        prov_file = chart_service.file_of(prov.file, limit, "provenance file")
    return chart_file, prov_file, chart.filename


@page
async def upload_chart(request: Request) -> Response:
    project = await project_page(request, Action.UPLOAD_CHART)
    b = backends(request)
    try:
        chart, prov, filename = await _upload_files(
            request, chart_service.limits(b).max_upload_bytes
        )
    except ChartTooLarge as exc:
        return await tab_page(request, project, "charts", error=exc)
    try:
        package = await chart_service.upload_chart(
            b, await viewer(request), project, chart, prov, filename=filename
        )
    except RegistryError as exc:
        return await tab_page(request, project, "charts", error=exc)
    finally:
        chart.stream.close()
        if prov is not None:
            prov.stream.close()
    return see_other(_charts_url(project, f"Chart {package.name} {package.version} uploaded."))


@page
async def version_page(request: Request) -> Response:
    project = await project_page(request, Action.READ_CHART)
    name = str(request.path_params["name"])
    version = str(request.path_params["version"])
    detail = await chart_service.version_detail(
        backends(request), await viewer(request), project, name, version
    )
    context: dict[str, Any] = {
        "project": project,
        "name": name,
        "version": version,
        "detail": detail,
        "can": await allowed(request, project),
    }
    return render(request, "chart_version.html", context, title=f"{name} {version}")


@page
async def delete_version(request: Request) -> Response:
    await signed_form(request)
    project = await project_page(request, Action.DELETE_CHART)
    name = str(request.path_params["name"])
    version = str(request.path_params["version"])
    try:
        await chart_service.delete_version(
            backends(request), await viewer(request), project, name, version
        )
    except RegistryError as exc:
        return await tab_page(request, project, "charts", error=exc)
    return see_other(_charts_url(project, f"Chart {name} {version} deleted."))
