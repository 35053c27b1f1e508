"""ChartMuseum's error format, ``{"error": "<message>"}``, and the status of each domain
error on the chart repository routes."""

from __future__ import annotations

import json
import logging

from starlette.responses import Response

from registry.services import errors

log = logging.getLogger(__name__)


class ChartRepoError(Exception):
    """An error of the chart routes themselves (bad request shape, authentication)."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class Unauthorized(ChartRepoError):
    status = 401


# The most specific class wins (the lookup walks each error's MRO).
_STATUS: dict[type[errors.RegistryError], int] = {
    errors.ChartInvalid: 400,
    errors.InvalidRequest: 400,
    errors.TagInvalid: 400,
    errors.NameInvalid: 400,
    errors.DigestInvalid: 400,
    errors.SizeInvalid: 400,
    errors.ManifestInvalid: 400,
    errors.ChartExists: 409,
    errors.TagImmutable: 409,
    errors.ResourceUnknown: 404,
    errors.BlobUnknown: 404,
    errors.ManifestUnknown: 404,
    errors.NotPermitted: 403,
    # ChartMuseum answers a full store with 507.
    errors.QuotaExceeded: 507,
    errors.LoginThrottled: 429,
    errors.ServiceUnavailable: 503,
    errors.BackendUnavailable: 503,
}


def status_of(exc: errors.RegistryError) -> int:
    for kind in type(exc).__mro__:
        if kind in _STATUS:
            return _STATUS[kind]
    log.error("no chart repository status for %s: %s", type(exc).__name__, exc.message)
    return 500


def render(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if status >= 500 and status not in (503, 507):
        message = "internal server error"
    return Response(
        json.dumps({"error": message}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
