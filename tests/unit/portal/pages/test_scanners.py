from __future__ import annotations

from registry.portal.forms import Form
from registry.portal.pages.scanners import AUTH_CHOICES, registration_body
from registry.services.scanner import AUTH_TYPES, registration_values


def test_the_new_scanner_form_is_a_registration_the_service_accepts() -> None:
    form = Form(
        {
            "name": ["trivy"],
            "url": ["http://scanner:8080/"],
            "auth": ["Bearer"],
            "access_credential": ["key"],
            "skip_cert_verify": ["on"],
        }
    )
    values = registration_values(registration_body(form))
    assert values["url"] == "http://scanner:8080"
    assert values["auth"] == "Bearer"
    assert values["access_credential"] == "key"
    assert values["skip_cert_verify"] is True


def test_every_authorization_the_service_takes_is_offered() -> None:
    assert [value for value, _ in AUTH_CHOICES] == list(AUTH_TYPES)
    assert dict(AUTH_CHOICES)[""] == "None"
