"""Docker token scopes: ``type[(class)]:name:actions``.

Repository names may contain ``:`` (a registry host with a port), so the type is everything up
to the first colon and the actions everything after the last one.
"""

from __future__ import annotations

from dataclasses import dataclass

KNOWN_ACTIONS = ("pull", "push", "delete", "*")


@dataclass(frozen=True, slots=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]

    def claim(self) -> dict[str, object]:
        """The JWT ``access`` entry; actions in a stable order."""
        order = {a: i for i, a in enumerate(KNOWN_ACTIONS)}
        actions = sorted(self.actions, key=lambda a: (order.get(a, len(order)), a))
        return {"type": self.type, "name": self.name, "actions": actions}

    def challenge(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"


class InvalidScopeError(ValueError):
    pass


def parse_scope(text: str) -> Scope:
    kind, sep, rest = text.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not kind or not name:
        raise InvalidScopeError(f"invalid scope {text!r}")
    kind = kind.split("(", 1)[0]  # "repository(plugin)" is still a repository
    return Scope(kind, name, frozenset(a for a in actions.split(",") if a))


def parse_scopes(values: list[str]) -> list[Scope]:
    """Every ``scope`` parameter, each possibly space-separated; the same resource named
    twice gets the union of its actions."""
    merged: dict[tuple[str, str], set[str]] = {}
    for value in values:
        for text in value.split():
            scope = parse_scope(text)
            merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return [Scope(kind, name, frozenset(actions)) for (kind, name), actions in merged.items()]
