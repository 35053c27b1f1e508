"""Docker token scopes as clients send them in ``scope=`` and as tokens carry them."""

from __future__ import annotations

import pytest

from registry.token.scope import InvalidScopeError, Scope, parse_scope, parse_scopes


def test_a_repository_scope() -> None:
    assert parse_scope("repository:library/app:pull,push") == Scope(
        "repository", "library/app", frozenset({"pull", "push"})
    )


def test_a_name_may_hold_colons_of_a_registry_host_with_a_port() -> None:
    scope = parse_scope("repository:registry.example:5000/team/app:pull")
    assert scope.name == "registry.example:5000/team/app"
    assert scope.actions == {"pull"}


def test_a_resource_class_does_not_change_the_type() -> None:
    assert parse_scope("repository(plugin):team/app:pull").type == "repository"


def test_the_catalog_scope_and_wildcard_action() -> None:
    assert parse_scope("registry:catalog:*") == Scope("registry", "catalog", frozenset({"*"}))


def test_no_actions_is_an_empty_set_not_an_empty_name() -> None:
    assert parse_scope("repository:team/app:").actions == frozenset()
    assert parse_scope("repository:team/app:pull,,push").actions == {"pull", "push"}


@pytest.mark.parametrize(
    "text", ["", "repository", "repository:team/app", ":team/app:pull", "repository::pull"]
)
def test_malformed_scopes_are_refused(text: str) -> None:
    with pytest.raises(InvalidScopeError, match="invalid scope"):
        parse_scope(text)


def test_the_claim_lists_known_actions_in_protocol_order_then_others_by_name() -> None:
    scope = Scope("repository", "team/app", frozenset({"*", "zap", "push", "delete", "pull", "a"}))
    assert scope.claim() == {
        "type": "repository",
        "name": "team/app",
        "actions": ["pull", "push", "delete", "*", "a", "zap"],
    }


def test_the_challenge_form_round_trips() -> None:
    scope = Scope("repository", "team/app", frozenset({"push", "pull"}))
    assert scope.challenge() == "repository:team/app:pull,push"
    assert parse_scope(scope.challenge()) == scope


def test_scope_parameters_are_split_on_spaces_and_merged_per_resource() -> None:
    scopes = parse_scopes(
        ["repository:team/app:pull repository:team/other:pull", "repository:team/app:push"]
    )
    assert scopes == [
        Scope("repository", "team/app", frozenset({"pull", "push"})),
        Scope("repository", "team/other", frozenset({"pull"})),
    ]


def test_one_bad_scope_refuses_the_whole_request() -> None:
    assert parse_scopes([]) == []
    with pytest.raises(InvalidScopeError):
        parse_scopes(["repository:team/app:pull nonsense"])
