"""Harbor's error envelope: ``{"errors":[{"code","message"}]}``, one table from domain errors."""

from __future__ import annotations

import json
import logging

from starlette.responses import Response

from registry.services import errors, login
from registry.services.errors import (
    ArtifactInUse,
    ConfigurationInvalid,
    ProjectExists,
    ProjectInvalid,
    ProjectNotEmpty,
    QuotaExceeded,
    ScheduleInvalid,
    TagExists,
    TagImmutable,
)

log = logging.getLogger(__name__)


class HarborError(Exception):
    """An API answer that is not a success."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(HarborError):
    status, code = 400, "BAD_REQUEST"


class Unauthorized(HarborError):
    status, code = 401, "UNAUTHORIZED"


class Forbidden(HarborError):
    status, code = 403, "FORBIDDEN"


class NotFound(HarborError):
    status, code = 404, "NOT_FOUND"


class Conflict(HarborError):
    status, code = 409, "CONFLICT"


class PreconditionFailed(HarborError):
    status, code = 412, "PRECONDITION"


class PayloadTooLarge(HarborError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class TooManyRequests(HarborError):
    status, code = 429, "TOO_MANY_REQUESTS"


class Unavailable(HarborError):
    status, code = 503, "SERVICE_UNAVAILABLE"


_LOGIN_REFUSALS: dict[int, type[HarborError]] = {
    login.WRONG_CREDENTIALS: Unauthorized,
    login.THROTTLED: TooManyRequests,
    login.UNAVAILABLE: Unavailable,
}


def login_refused(refused: login.LoginRefused) -> HarborError:
    """A refused login in Harbor's envelope."""
    return _LOGIN_REFUSALS[refused.status](refused.message)


_DOMAIN: dict[type[errors.RegistryError], type[HarborError]] = {
    errors.NameInvalid: BadRequest,
    errors.NameUnknown: NotFound,
    errors.ManifestUnknown: NotFound,
    errors.BlobUnknown: NotFound,
    errors.TagInvalid: BadRequest,
    errors.DigestInvalid: BadRequest,
    errors.PaginationInvalid: BadRequest,
    ConfigurationInvalid: BadRequest,
    ProjectInvalid: BadRequest,
    ProjectExists: Conflict,
    ProjectNotEmpty: PreconditionFailed,
    TagExists: Conflict,
    ArtifactInUse: PreconditionFailed,
    TagImmutable: PreconditionFailed,
    QuotaExceeded: Forbidden,
    ScheduleInvalid: BadRequest,
    errors.ServiceUnavailable: Unavailable,
    errors.InvalidRequest: BadRequest,
    errors.NotPermitted: Forbidden,
    errors.ResourceUnknown: NotFound,
    errors.ResourceExists: Conflict,
    errors.BlobUploadUnknown: NotFound,
    errors.BlobUploadInvalid: BadRequest,
    errors.RangeInvalid: BadRequest,
    errors.SizeInvalid: BadRequest,
    errors.ManifestInvalid: BadRequest,
    errors.ManifestTooLarge: PayloadTooLarge,
    errors.ManifestBlobUnknown: BadRequest,
    errors.Unsupported: BadRequest,
    errors.LoginThrottled: TooManyRequests,
    errors.BackendUnavailable: Unavailable,
    errors.RuleInvalid: BadRequest,
    errors.RetentionPolicyInvalid: BadRequest,
    errors.RuleConflict: Conflict,
    # Harbor answers 400 here: a client should have read the project's retention_id.
    errors.PolicyExists: BadRequest,
    errors.WebhookPolicyInvalid: BadRequest,
    errors.ScannerInvalid: BadRequest,
    errors.ScannerUnreachable: BadRequest,
    errors.ScanUnavailable: PreconditionFailed,
    errors.PolicyViolation: PreconditionFailed,
    errors.ChartInvalid: BadRequest,
    # ChartMuseum's answer to an upload of a version that is already there.
    errors.ChartExists: Conflict,
}


def from_domain(exc: errors.RegistryError) -> HarborError:
    """The Harbor error for a domain error; one the table does not know is a bug: 500, logged,
    as on /v2/."""
    for kind in type(exc).__mro__:
        if kind in _DOMAIN:
            return _DOMAIN[kind](exc.message)
    log.error("no Harbor error for %s: %s", type(exc).__name__, exc.message)
    error = HarborError("internal server error")
    error.status, error.code = 500, "INTERNAL_SERVER_ERROR"
    return error


def render(exc: HarborError, headers: dict[str, str] | None = None) -> Response:
    body = {"errors": [{"code": exc.code, "message": exc.message}]}
    return Response(
        json.dumps(body), status_code=exc.status, media_type="application/json", headers=headers
    )
