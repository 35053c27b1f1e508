"""OCI error responses on /v2/: every domain error has its code and status, and one the table
does not know is a 500 that gives nothing away."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from starlette.responses import Response

from registry.api.distribution.errors import (
    Denied,
    TooManyRequests,
    Unauthorized,
    oci_error,
    render,
)
from registry.api.v2_0.errors import from_domain
from registry.services import errors
from tests.unit.domain_errors import domain_error_types, raised


class Unmapped(errors.RegistryError):
    """a secret internal detail"""


def body(response: Response) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(bytes(response.body))
    return parsed


@pytest.mark.parametrize("kind", domain_error_types(), ids=lambda kind: kind.__name__)
def test_every_domain_error_has_an_oci_status(kind: type[errors.RegistryError]) -> None:
    error = raised(kind)
    response = render(error)
    assert 400 <= response.status_code < 500 or response.status_code == 503
    [entry] = body(response)["errors"]
    assert entry["code"] != "UNKNOWN"
    assert entry["message"] == error.message


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (errors.BlobUnknown(), "BLOB_UNKNOWN", 404),
        (errors.BlobUploadUnknown(), "BLOB_UPLOAD_UNKNOWN", 404),
        (errors.BlobUploadInvalid(), "BLOB_UPLOAD_INVALID", 400),
        # A chunk out of order: 416, so the client asks where the upload stands.
        (errors.RangeInvalid(10), "BLOB_UPLOAD_INVALID", 416),
        (errors.DigestInvalid(), "DIGEST_INVALID", 400),
        (errors.SizeInvalid(), "SIZE_INVALID", 400),
        (errors.ManifestUnknown(), "MANIFEST_UNKNOWN", 404),
        (errors.ManifestInvalid(), "MANIFEST_INVALID", 400),
        (errors.ManifestTooLarge(), "MANIFEST_INVALID", 413),
        (errors.ManifestBlobUnknown(), "MANIFEST_BLOB_UNKNOWN", 400),
        (errors.NameInvalid(), "NAME_INVALID", 400),
        (errors.NameUnknown(), "NAME_UNKNOWN", 404),
        (errors.TagInvalid(), "MANIFEST_INVALID", 400),
        (errors.Unsupported(), "UNSUPPORTED", 405),
        (errors.PaginationInvalid(), "PAGINATION_NUMBER_INVALID", 400),
        (errors.ServiceUnavailable(), "UNAVAILABLE", 503),
        (errors.JobServiceUnavailable(), "UNAVAILABLE", 503),
        (errors.QuotaExceeded(), "DENIED", 403),
        (errors.TagImmutable(), "DENIED", 403),
        (errors.NotPermitted(), "DENIED", 403),
        (errors.ArtifactInUse(), "DENIED", 403),
        (errors.RepositoryUnknown(), "NAME_UNKNOWN", 404),
        (errors.LoginThrottled(), "TOOMANYREQUESTS", 429),
        (errors.BackendUnavailable(), "UNAVAILABLE", 503),
        (Unauthorized(), "UNAUTHORIZED", 401),
        (Denied(), "DENIED", 403),
        (TooManyRequests(), "TOOMANYREQUESTS", 429),
    ],
)
def test_the_distribution_code_and_status(
    error: errors.RegistryError, code: str, status: int
) -> None:
    response = render(error)
    assert response.status_code == status
    assert body(response)["errors"][0]["code"] == code


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (errors.InvalidRequest(), "BAD_REQUEST", 400),
        (errors.PasswordInvalid(), "BAD_REQUEST", 400),
        (errors.ConfigurationInvalid(), "BAD_REQUEST", 400),
        (errors.ProjectInvalid(), "BAD_REQUEST", 400),
        (errors.RuleInvalid(), "BAD_REQUEST", 400),
        (errors.ScheduleInvalid(), "BAD_REQUEST", 400),
        (errors.RetentionPolicyInvalid(), "BAD_REQUEST", 400),
        (errors.WebhookPolicyInvalid(), "BAD_REQUEST", 400),
        (errors.PolicyExists(), "BAD_REQUEST", 400),
        (errors.ResourceExists(), "CONFLICT", 409),
        (errors.TagExists(), "CONFLICT", 409),
        (errors.ProjectExists(), "CONFLICT", 409),
        (errors.RuleConflict(), "CONFLICT", 409),
        (errors.ProjectNotEmpty(), "PRECONDITION", 412),
    ],
)
def test_management_rules_answer_as_on_the_harbor_api(
    error: errors.RegistryError, code: str, status: int
) -> None:
    response = render(error)
    assert response.status_code == status
    assert response.status_code == from_domain(error).status
    assert body(response)["errors"][0]["code"] == code


def test_the_body_carries_message_and_detail() -> None:
    error = errors.ManifestBlobUnknown("blob unknown", detail={"digest": "sha256:abc"})
    assert body(render(error)) == {
        "errors": [
            {
                "code": "MANIFEST_BLOB_UNKNOWN",
                "message": "blob unknown",
                "detail": {"digest": "sha256:abc"},
            }
        ]
    }


def test_headers_go_out_with_the_error() -> None:
    challenge = 'Bearer realm="https://registry.example/service/token"'
    response = render(Unauthorized(), headers={"WWW-Authenticate": challenge})
    assert response.headers["WWW-Authenticate"] == challenge
    assert response.media_type == "application/json"


def test_an_unknown_domain_error_is_a_logged_500_that_says_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="registry.api.distribution.errors"):
        response = render(Unmapped("row 42 of table blobs is corrupt", detail={"row": 42}))
    assert response.status_code == 500
    assert body(response) == {
        "errors": [{"code": "UNKNOWN", "message": "internal server error", "detail": None}]
    }
    assert "no OCI error for Unmapped: row 42 of table blobs is corrupt" in caplog.messages


def test_a_hand_made_error_response() -> None:
    response = oci_error("DENIED", "requested access to the resource is denied", 403, ["pull"])
    assert response.status_code == 403
    assert body(response)["errors"] == [
        {
            "code": "DENIED",
            "message": "requested access to the resource is denied",
            "detail": ["pull"],
        }
    ]
