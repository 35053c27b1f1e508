"""Label scopes as the API names them."""

from __future__ import annotations

import pytest

from registry.services.errors import InvalidRequest
from registry.services.label import check_scope


def test_global_and_project_scopes() -> None:
    assert check_scope("g") == "g"
    assert check_scope("p") == "p"


@pytest.mark.parametrize("scope", ["", "G", "global", None, 1])
def test_other_scopes_are_refused(scope: object) -> None:
    with pytest.raises(InvalidRequest, match=r"scope must be g \(global\) or p \(project\)"):
        check_scope(scope)
