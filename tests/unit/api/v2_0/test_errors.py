"""Harbor's error envelope on /api/v2.0/: every domain error has its status, and one the table
does not know is a 500 that gives nothing away."""

from __future__ import annotations

import json
import logging

import pytest

from registry.api.v2_0.errors import HarborError, NotFound, from_domain, login_refused, render
from registry.services import errors, login
from tests.unit.domain_errors import domain_error_types, raised

# Harbor's code for each status it answers with.
CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    412: "PRECONDITION",
    413: "PAYLOAD_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}


class Unmapped(errors.RegistryError):
    """a secret internal detail"""


@pytest.mark.parametrize("kind", domain_error_types(), ids=lambda kind: kind.__name__)
def test_every_domain_error_has_a_harbor_status(kind: type[errors.RegistryError]) -> None:
    error = raised(kind)
    harbor = from_domain(error)
    assert harbor.status in CODES
    assert harbor.code == CODES[harbor.status]
    assert harbor.message == error.message


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.NameInvalid(), 400),
        (errors.Unsupported(), 400),
        (errors.PasswordInvalid(), 400),
        (errors.NotPermitted(), 403),
        (errors.QuotaExceeded(), 403),
        (errors.RobotUnknown(), 404),
        (errors.RuleUnknown(3), 404),
        (errors.ResourceExists(), 409),
        (errors.ProjectExists(), 409),
        (errors.RuleConflict(), 409),
        (errors.ProjectNotEmpty(), 412),
        (errors.TagImmutable(), 412),
        (errors.ArtifactInUse(), 412),
        (errors.ManifestTooLarge(), 413),
        (errors.LoginThrottled(), 429),
        (errors.JobServiceUnavailable(), 503),
        # Harbor's own answer to a second retention policy.
        (errors.PolicyExists(), 400),
    ],
)
def test_harbors_status_for_each_kind_of_failure(error: errors.RegistryError, status: int) -> None:
    assert from_domain(error).status == status


def test_an_unknown_domain_error_is_a_logged_500_that_says_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="registry.api.v2_0.errors"):
        harbor = from_domain(Unmapped("row 42 of table robots is corrupt"))
    assert (harbor.status, harbor.code) == (500, "INTERNAL_SERVER_ERROR")
    assert harbor.message == "internal server error"
    assert "no Harbor error for Unmapped: row 42 of table robots is corrupt" in caplog.messages
    # Setting the status on one error changes no other.
    assert (HarborError.status, HarborError.code) == (400, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (login.WRONG_CREDENTIALS, "UNAUTHORIZED"),
        (login.THROTTLED, "TOO_MANY_REQUESTS"),
        (login.UNAVAILABLE, "SERVICE_UNAVAILABLE"),
    ],
)
def test_a_refused_login_keeps_its_status_and_message(status: int, code: str) -> None:
    harbor = login_refused(login.LoginRefused(status, "the fixed message"))
    assert (harbor.status, harbor.code, harbor.message) == (status, code, "the fixed message")


def test_the_envelope_on_the_wire() -> None:
    response = render(NotFound("project library not found"), headers={"X-Request-Id": "r1"})
    assert response.status_code == 404
    assert response.media_type == "application/json"
    assert response.headers["X-Request-Id"] == "r1"
    assert json.loads(bytes(response.body)) == {
        "errors": [{"code": "NOT_FOUND", "message": "project library not found"}]
    }
