from __future__ import annotations

import time

import pytest

from registry.services.errors import RuleInvalid
from registry.services.immutability import (
    PatternInvalid,
    Rule,
    doublestar_match,
    protected_tags,
    validate_selectors,
)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("**", "", True),
        ("**", "a/b/c", True),
        ("*", "abc", True),
        ("*", "a/b", False),
        ("*", "", True),
        ("a*", "abc", True),
        ("a*", "ba", False),
        ("*c", "abc", True),
        ("a*c", "a/c", False),
        ("a/*", "a/b", True),
        ("a/*", "a/b/c", False),
        ("a/**", "a/b/c", True),
        ("a/**", "a", True),
        ("a/**", "a/", True),
        ("a/**", "ab", False),
        ("**/c", "c", True),
        ("**/c", "a/b/c", True),
        ("**/c", "a/bc", False),
        ("a/**/c", "a/c", True),
        ("a/**/c", "a/b/c", True),
        ("a/**/c", "a/b/x/c", True),
        ("a/**/c", "a/bc", False),
        ("a**", "a/b", True),
        ("**b", "a/b", True),
        ("a**z", "a/b/z", True),
        ("?", "a", True),
        ("?", "/", False),
        ("?", "ab", False),
        ("v?.?", "v1.2", True),
        ("[abc]", "b", True),
        ("[abc]", "d", False),
        ("[a-c]x", "bx", True),
        ("[a-c]x", "dx", False),
        ("[!a-c]", "d", True),
        ("[!a-c]", "a", False),
        ("[^a-c]", "a", False),
        ("[]]", "]", True),
        ("[a\\-z]", "-", True),
        ("[a\\-z]", "m", False),
        ("[!x]", "/", False),
        ("{a,b}", "a", True),
        ("{a,b}", "b", True),
        ("{a,b}", "c", False),
        ("v{1,2}.*", "v2.0", True),
        ("v{1,2}.*", "v3.0", False),
        ("{x,y{1,2}}z", "y2z", True),
        ("{x,y{1,2}}z", "yz", False),
        ("a{,b}", "a", True),
        ("a{,b}", "ab", True),
        ("{release-*,latest}", "release-1.0", True),
        ("{release-*,latest}", "latest", True),
        ("{[ab],c}", "b", True),
        ("[{]", "{", True),
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("a}", "a}", True),
        ("a,b", "a,b", True),
        ("latest", "latest", True),
        ("latest", "Latest", False),
        ("1.0", "1x0", False),
    ],
)
def test_doublestar_match(pattern: str, text: str, expected: bool) -> None:
    assert doublestar_match(pattern, text) is expected


@pytest.mark.parametrize("pattern", ["[abc", "{a,b", "a\\", "[z-a]", "x{y,[}"])
def test_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(PatternInvalid):
        doublestar_match(pattern, "anything")


def test_brace_expansion_is_bounded() -> None:
    with pytest.raises(PatternInvalid):
        doublestar_match("{a,b}" * 10, "a" * 10)


def test_many_stars_do_not_backtrack_exponentially() -> None:
    started = time.monotonic()
    assert not doublestar_match("*a" * 20 + "b", "a" * 128)
    assert not doublestar_match("**a" * 20 + "b", "a/" * 64)
    assert time.monotonic() - started < 2


def _selector(decoration: str, pattern: str) -> dict[str, str]:
    return {"kind": "doublestar", "decoration": decoration, "pattern": pattern}


def _rule(
    rule_id: int,
    tag: tuple[str, str],
    repository: tuple[str, str],
    disabled: bool = False,
) -> Rule:
    return Rule.from_json(
        rule_id, disabled, [_selector(*tag)], {"repository": [_selector(*repository)]}
    )


def test_a_rule_needs_both_its_repository_and_its_tag_selected() -> None:
    rule = _rule(1, ("matches", "v*"), ("repoMatches", "app/**"))
    assert rule.protects("app/web", "v1")
    assert rule.protects("app", "v1")
    assert not rule.protects("app/web", "latest")
    assert not rule.protects("other", "v1")


def test_excludes_invert_the_selection() -> None:
    rule = _rule(1, ("excludes", "dev-*"), ("repoExcludes", "scratch"))
    assert rule.protects("app", "1.0")
    assert not rule.protects("app", "dev-1")
    assert not rule.protects("scratch", "1.0")


def test_disabled_rules_protect_nothing() -> None:
    assert not _rule(1, ("matches", "**"), ("repoMatches", "**"), disabled=True).protects("a", "b")


def test_several_selectors_must_all_select() -> None:
    rule = Rule.from_json(
        1,
        False,
        [_selector("matches", "v*"), _selector("excludes", "*-rc*")],
        {"repository": [_selector("repoMatches", "**")]},
    )
    assert rule.protects("a", "v1.0")
    assert not rule.protects("a", "v1.0-rc1")


def test_a_stored_invalid_pattern_protects_nothing() -> None:
    assert not _rule(1, ("excludes", "[oops"), ("repoMatches", "**")).protects("a", "v1")


def test_protected_tags_is_the_union_over_rules() -> None:
    rules = [
        _rule(1, ("matches", "v*"), ("repoMatches", "web")),
        _rule(2, ("matches", "latest"), ("repoMatches", "**")),
        _rule(3, ("matches", "**"), ("repoMatches", "**"), disabled=True),
    ]
    tags = ["v1", "latest", "dev"]
    assert protected_tags(rules, "web", tags) == {"v1", "latest"}
    assert protected_tags(rules, "api", tags) == {"latest"}
    assert protected_tags([], "web", tags) == set()


def test_validate_selectors_normalizes() -> None:
    tags, scopes = validate_selectors(
        [{"kind": "doublestar", "decoration": "matches", "pattern": "**", "junk": 1}],
        {"repository": [_selector("repoExcludes", "{a,b}/**")]},
    )
    assert tags == [_selector("matches", "**")]
    assert scopes == {"repository": [_selector("repoExcludes", "{a,b}/**")]}


@pytest.mark.parametrize(
    ("tag_selectors", "scope_selectors"),
    [
        ([], {"repository": [_selector("repoMatches", "**")]}),
        (None, {"repository": [_selector("repoMatches", "**")]}),
        ([_selector("matches", "**")], {}),
        ([_selector("matches", "**")], {"repository": []}),
        ([_selector("matches", "**")], {"repository": [_selector("matches", "**")]}),
        ([_selector("repoMatches", "**")], {"repository": [_selector("repoMatches", "**")]}),
        ([_selector("matches", "")], {"repository": [_selector("repoMatches", "**")]}),
        ([_selector("matches", "[x")], {"repository": [_selector("repoMatches", "**")]}),
        ([_selector("matches", "x" * 300)], {"repository": [_selector("repoMatches", "**")]}),
        (
            [{"kind": "regexp", "decoration": "matches", "pattern": ".*"}],
            {"repository": [_selector("repoMatches", "**")]},
        ),
        (
            [_selector("matches", "**")],
            {"repository": [_selector("repoMatches", "**")], "namespace": []},
        ),
        (["**"], {"repository": [_selector("repoMatches", "**")]}),
    ],
)
def test_validate_selectors_refuses(tag_selectors: object, scope_selectors: object) -> None:
    with pytest.raises(RuleInvalid):
        validate_selectors(tag_selectors, scope_selectors)
