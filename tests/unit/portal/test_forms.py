from __future__ import annotations

import pytest

from registry.portal.forms import Form, tokens_match, whole_number


@pytest.mark.parametrize(
    ("text", "number"),
    [("0", 0), ("42", 42), ("", None), ("-1", None), ("4.5", None), ("²", None), ("9" * 19, None)],
)
def test_only_ascii_whole_numbers_count(text: str, number: int | None) -> None:
    assert whole_number(text) == number


def test_a_form_reads_its_last_value_and_checkboxes() -> None:
    form = Form({"name": ["a", " b "], "public": ["on"], "op": ["pull", "push"]})
    assert form.get("name") == "b"
    assert form.flag("public")
    assert not form.flag("missing")
    assert form.all("op") == ["pull", "push"]


def test_an_empty_expected_token_matches_nothing() -> None:
    assert tokens_match("abc", "abc")
    assert not tokens_match("", "")
    assert not tokens_match("abc", "abd")
