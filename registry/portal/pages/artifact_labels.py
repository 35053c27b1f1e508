"""Attaching a label to an artifact and removing it, from the artifact's page (which lists
its labels and the project's and the system's labels it may be given). Those who may push
to the project may label its artifacts, as in the REST API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.portal.endpoint import Handler, page, see_other
from registry.portal.forms import path_id, signed_form, whole_number
from registry.portal.pages.artifact_view import ARTIFACT, artifact_url, resolve, show_page
from registry.portal.security import backends, viewer
from registry.rbac import Action
from registry.services import label as label_service
from registry.services.errors import RegistryError


def _handler(attach: bool) -> Handler:
    @page
    async def change(request: Request) -> Response:
        form = await signed_form(request)
        project, repository, row = await resolve(request, Action.PUSH)
        label_id = whole_number(form.get("label_id")) if attach else path_id(request, "label_id")
        if label_id is None:
            return await show_page(request, project, repository, row, "Choose a label.", 400)
        act = label_service.attach_label if attach else label_service.detach_label
        try:
            await act(backends(request), await viewer(request), project, repository, row, label_id)
        except RegistryError as exc:
            return await show_page(request, project, repository, row, exc)
        done = "Label added." if attach else "Label removed."
        return see_other(artifact_url(repository, row["digest"], done))

    return change


attach_label = _handler(attach=True)
detach_label = _handler(attach=False)

routes = [
    Route(f"{ARTIFACT}/labels", attach_label, methods=["POST"]),
    Route(f"{ARTIFACT}/labels/{{label_id}}/delete", detach_label, methods=["POST"]),
]
