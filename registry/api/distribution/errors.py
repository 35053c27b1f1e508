"""OCI error responses: one table from domain errors to wire codes and statuses."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.responses import Response

from registry.services import errors
from registry.services.errors import QuotaExceeded, TagImmutable

log = logging.getLogger(__name__)

# domain error → (OCI code, HTTP status)
_CODES: dict[type[errors.RegistryError], tuple[str, int]] = {
    errors.BlobUnknown: ("BLOB_UNKNOWN", 404),
    errors.BlobUploadUnknown: ("BLOB_UPLOAD_UNKNOWN", 404),
    errors.BlobUploadInvalid: ("BLOB_UPLOAD_INVALID", 400),
    errors.RangeInvalid: ("BLOB_UPLOAD_INVALID", 416),
    errors.DigestInvalid: ("DIGEST_INVALID", 400),
    errors.SizeInvalid: ("SIZE_INVALID", 400),
    errors.ManifestUnknown: ("MANIFEST_UNKNOWN", 404),
    errors.ManifestInvalid: ("MANIFEST_INVALID", 400),
    errors.ManifestTooLarge: ("MANIFEST_INVALID", 413),
    errors.ManifestBlobUnknown: ("MANIFEST_BLOB_UNKNOWN", 400),
    errors.NameInvalid: ("NAME_INVALID", 400),
    errors.NameUnknown: ("NAME_UNKNOWN", 404),
    errors.TagInvalid: ("MANIFEST_INVALID", 400),
    errors.Unsupported: ("UNSUPPORTED", 405),
    errors.PaginationInvalid: ("PAGINATION_NUMBER_INVALID", 400),
    # Distribution's own code for a registry that cannot serve right now.
    errors.ServiceUnavailable: ("UNAVAILABLE", 503),
}


class Unauthorized(errors.RegistryError):
    """authentication required"""


class Denied(errors.RegistryError):
    """requested access to the resource is denied"""


class TooManyRequests(errors.RegistryError):
    """too many requests"""


_CODES[QuotaExceeded] = ("DENIED", 403)
_CODES[TagImmutable] = ("DENIED", 403)
_CODES[Unauthorized] = ("UNAUTHORIZED", 401)
_CODES[TooManyRequests] = ("TOOMANYREQUESTS", 429)
_CODES[Denied] = ("DENIED", 403)
# Rules the management API shares with /v2/ (project lookups, logins, index children).
_CODES[errors.NotPermitted] = ("DENIED", 403)
_CODES[errors.ArtifactInUse] = ("DENIED", 403)
_CODES[errors.ResourceUnknown] = ("NAME_UNKNOWN", 404)
_CODES[errors.LoginThrottled] = ("TOOMANYREQUESTS", 429)
_CODES[errors.BackendUnavailable] = ("UNAVAILABLE", 503)
# Harbor's answer to a pull a project policy refuses (vulnerabilities, content trust).
_CODES[errors.PolicyViolation] = ("PROJECTPOLICYVIOLATION", 412)
# The management rules every face shares: Distribution has no codes for them, so /v2/ answers
# as Harbor's does, with Harbor's code and the status the management API gives them.
_CODES.update(
    dict.fromkeys(
        (
            errors.InvalidRequest,
            errors.ConfigurationInvalid,
            errors.ProjectInvalid,
            errors.RuleInvalid,
            errors.ScheduleInvalid,
            errors.RetentionPolicyInvalid,
            errors.WebhookPolicyInvalid,
            errors.PolicyExists,
            errors.ScannerInvalid,
            errors.ScannerUnreachable,
            errors.ChartInvalid,
        ),
        ("BAD_REQUEST", 400),
    )
)
_CODES.update(
    dict.fromkeys(
        (
            errors.ResourceExists,
            errors.TagExists,
            errors.ProjectExists,
            errors.RuleConflict,
            errors.ChartExists,
        ),
        ("CONFLICT", 409),
    )
)
_CODES[errors.ProjectNotEmpty] = ("PRECONDITION", 412)
_CODES[errors.ScanUnavailable] = ("PRECONDITION", 412)


def oci_error(
    code: str, message: str, status: int, detail: Any = None, headers: dict[str, str] | None = None
) -> Response:
    body = {"errors": [{"code": code, "message": message, "detail": detail}]}
    return Response(
        json.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def render(exc: errors.RegistryError, headers: dict[str, str] | None = None) -> Response:
    """The OCI error for a domain error; one the table does not know is a bug: 500, logged, as
    on /api/v2.0."""
    found = next((_CODES[kind] for kind in type(exc).__mro__ if kind in _CODES), None)
    if found is None:
        log.error("no OCI error for %s: %s", type(exc).__name__, exc.message)
        return oci_error("UNKNOWN", "internal server error", 500, None, headers)
    code, status = found
    return oci_error(code, exc.message, status, exc.detail, headers)
