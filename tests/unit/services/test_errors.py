"""Domain errors: each one says what went wrong without being told."""

from __future__ import annotations

import pytest

from registry.services import errors
from tests.unit.domain_errors import domain_error_types, raised


def test_the_list_of_domain_errors_is_complete() -> None:
    # A guard for the tests that walk every error: it finds the whole module.
    found = {kind.__name__ for kind in domain_error_types()}
    assert {"BlobUnknown", "PasswordInvalid", "PolicyUnknown", "ServiceUnavailable"} <= found
    assert len(found) >= 40


@pytest.mark.parametrize("kind", domain_error_types(), ids=lambda kind: kind.__name__)
def test_every_error_has_a_message_of_its_own(kind: type[errors.RegistryError]) -> None:
    error = raised(kind)
    assert error.message
    assert error.message.strip() == error.message
    assert str(error) == error.message
    assert error.detail is None


def test_the_message_is_the_errors_description_unless_one_is_given() -> None:
    assert errors.BlobUnknown().message == "blob unknown to registry"
    assert errors.BlobUnknown("sha256:abc is not here").message == "sha256:abc is not here"
    assert errors.PasswordInvalid().message.startswith("the password needs 8 to 128 characters")


def test_the_detail_travels_with_the_error() -> None:
    error = errors.ManifestBlobUnknown("layer missing", detail={"digest": "sha256:abc"})
    assert error.detail == {"digest": "sha256:abc"}


def test_a_range_error_tells_where_the_upload_stands() -> None:
    error = errors.RangeInvalid(1024)
    assert (error.current_size, error.message) == (1024, "chunk does not continue the upload")
    assert errors.RangeInvalid(5, "starts at 9").message == "starts at 9"


def test_errors_about_one_rule_or_policy_name_it() -> None:
    assert errors.RuleUnknown(3).message == "immutable tag rule 3 not found"
    assert errors.PolicyUnknown(4).message == "webhook policy 4 not found"


@pytest.mark.parametrize(
    ("kind", "base"),
    [
        (errors.RuleUnknown, errors.ResourceUnknown),
        (errors.LabelUnknown, errors.ResourceUnknown),
        (errors.RepositoryUnknown, errors.ResourceUnknown),
        (errors.UserUnknown, errors.ResourceUnknown),
        (errors.PasswordInvalid, errors.InvalidRequest),
        (errors.JobServiceUnavailable, errors.ServiceUnavailable),
    ],
)
def test_resource_errors_derive_from_the_kind_each_face_maps_once(
    kind: type[errors.RegistryError], base: type[errors.RegistryError]
) -> None:
    assert issubclass(kind, base)


def test_retry_later_carries_its_delay_and_is_no_domain_error() -> None:
    retry = errors.RetryLater("registry busy", 30.0)
    assert (str(retry), retry.delay) == ("registry busy", 30.0)
    assert not isinstance(retry, errors.RegistryError)
