from __future__ import annotations

from registry.portal.forms import Form
from registry.portal.pages.registries import registry_body


def _form(**fields: str) -> Form:
    return Form({key: [value] for key, value in fields.items()})


def test_an_edit_with_an_empty_secret_keeps_the_stored_one() -> None:
    form = _form(name="mirror", type="docker-registry", url="http://r", access_key="me")
    assert "access_secret" not in registry_body(form, editing=True)
    assert registry_body(form)["access_secret"] == ""
    typed = _form(name="mirror", access_secret="s3cret", insecure="on")
    assert registry_body(typed, editing=True)["access_secret"] == "s3cret"
    assert registry_body(typed)["insecure"] is True
    assert registry_body(typed)["credential_type"] == "basic"
