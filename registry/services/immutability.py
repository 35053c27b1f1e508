"""Immutable tag rules, with Harbor's semantics.

A rule protects a tag when every repository selector and every tag selector of the rule
selects it. Selectors are doublestar globs; ``matches``/``repoMatches`` select what the
pattern matches, ``excludes``/``repoExcludes`` what it does not. Repository patterns see the
repository path without its project (``a/b`` for ``library/a/b``), as in Harbor.

Glob syntax: ``*`` any run of characters other than ``/``; ``**`` any run including ``/`` (as
a whole path segment it also matches zero segments: ``**/x`` matches ``x``, ``a/**`` matches
``a``); ``?`` one character other than ``/``; ``[abc]``, ``[a-z]``, ``[!a]``/``[^a]`` classes;
``{a,b}`` alternatives (nestable); ``\\`` escapes the next character.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from registry.db import immutable_rules
from registry.db.pool import Executor
from registry.services.errors import RuleInvalid

log = logging.getLogger(__name__)

KIND = "doublestar"
ACTION = "immutable"
TEMPLATE = "immutable_template"
REPOSITORY_SCOPE = "repository"
TAG_DECORATIONS = ("matches", "excludes")
REPOSITORY_DECORATIONS = ("repoMatches", "repoExcludes")
# Decorations that select what the pattern does NOT match.
_EXCLUDING = frozenset({"excludes", "repoExcludes"})

MAX_PATTERN_LENGTH = 256
MAX_SELECTORS = 16
# Brace expansion multiplies; a pattern that expands further than this is refused.
MAX_ALTERNATIVES = 256


class PatternInvalid(ValueError):
    """A glob that cannot be parsed."""


# --- the doublestar matcher ------------------------------------------------------------------

_LITERAL, _ONE, _CLASS, _STAR, _ANY, _DIRS, _TAIL = range(7)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: int
    char: str = ""
    ranges: tuple[tuple[str, str], ...] = ()
    negated: bool = False

    def accepts(self, ch: str) -> bool:
        """For the single-character tokens: whether ``ch`` matches."""
        if self.kind == _LITERAL:
            return ch == self.char
        if ch == "/":
            return False
        if self.kind == _ONE:
            return True
        return any(low <= ch <= high for low, high in self.ranges) != self.negated


_SLASH = _Token(_LITERAL, "/")


def _class_end(pattern: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start``."""
    i = start + 1
    if i < len(pattern) and pattern[i] in "!^":
        i += 1
    first = True
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
        elif ch == "]" and not first:
            return i
        else:
            i += 1
        first = False
    raise PatternInvalid(f"unclosed [ in {pattern!r}")


def _expand_braces(pattern: str) -> list[str]:
    """``a{b,c{d,e}}`` → ``[abd... ]``: every brace-free alternative the pattern stands for."""
    start = -1
    depth = 0
    commas: list[int] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = _class_end(pattern, i) + 1
            continue
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                break
        elif ch == "," and depth == 1:
            commas.append(i)
        i += 1
    if start < 0:
        return [pattern]
    if depth > 0:
        raise PatternInvalid(f"unclosed {{ in {pattern!r}")
    prefix, suffix = pattern[:start], pattern[i + 1 :]
    bounds = [start, *commas, i]
    found: list[str] = []
    for left, right in itertools.pairwise(bounds):
        for expanded in _expand_braces(prefix + pattern[left + 1 : right] + suffix):
            found.append(expanded)
            if len(found) > MAX_ALTERNATIVES:
                raise PatternInvalid("the pattern has too many {…} alternatives")
    return found


def _parse_class(pattern: str, start: int, end: int) -> _Token:
    i = start + 1
    negated = pattern[i] in "!^"
    if negated:
        i += 1
    chars: list[tuple[str, bool]] = []  # (character, escaped)
    while i < end:
        escaped = pattern[i] == "\\"
        if escaped:
            i += 1
        chars.append((pattern[i], escaped))
        i += 1
    ranges: list[tuple[str, str]] = []
    j = 0
    while j < len(chars):
        if j + 2 < len(chars) and chars[j + 1] == ("-", False):
            low, high = chars[j][0], chars[j + 2][0]
            if high < low:
                raise PatternInvalid(f"empty range {low}-{high} in {pattern!r}")
            ranges.append((low, high))
            j += 3
        else:
            ranges.append((chars[j][0], chars[j][0]))
            j += 1
    return _Token(_CLASS, ranges=tuple(ranges), negated=negated)


def _tokenize(pattern: str) -> tuple[_Token, ...]:
    """Tokens of one brace-free alternative."""
    tokens: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 == n:
                raise PatternInvalid(f"{pattern!r} ends with an escape")
            tokens.append(_Token(_LITERAL, pattern[i + 1]))
            i += 2
        elif ch == "?":
            tokens.append(_Token(_ONE))
            i += 1
        elif ch == "[":
            end = _class_end(pattern, i)
            tokens.append(_parse_class(pattern, i, end))
            i = end + 1
        elif ch == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            segment_start = not tokens or tokens[-1] == _SLASH or tokens[-1].kind == _DIRS
            segment_end = j == n or pattern[j] == "/"
            if j - i == 1:
                tokens.append(_Token(_STAR))
            elif segment_start and segment_end and j < n:
                tokens.append(_Token(_DIRS))  # "**/": zero or more whole segments
                j += 1
            elif segment_start and segment_end and tokens and tokens[-1] == _SLASH:
                tokens[-1] = _Token(_TAIL)  # trailing "/**": nothing, or "/" and anything
            else:
                tokens.append(_Token(_ANY))
            i = j
        else:
            tokens.append(_Token(_LITERAL, ch))
            i += 1
    return tuple(tokens)


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> tuple[tuple[_Token, ...], ...]:
    return tuple(_tokenize(alternative) for alternative in _expand_braces(pattern))


def _match_tokens(tokens: tuple[_Token, ...], text: str) -> bool:
    # Failed (token, position) pairs are remembered, so the work stays polynomial in the
    # lengths however many stars the pattern has (a backtracking regex would not).
    failed: set[tuple[int, int]] = set()
    n_tokens, n_text = len(tokens), len(text)

    def match(ti: int, si: int) -> bool:
        while ti < n_tokens and tokens[ti].kind <= _CLASS:
            if si == n_text or not tokens[ti].accepts(text[si]):
                return False
            ti, si = ti + 1, si + 1
        if ti == n_tokens:
            return si == n_text
        if (ti, si) in failed:
            return False
        kind = tokens[ti].kind
        if kind == _STAR:
            end = text.find("/", si)
            found = any(match(ti + 1, j) for j in range(si, (n_text if end < 0 else end) + 1))
        elif kind == _ANY:
            found = any(match(ti + 1, j) for j in range(si, n_text + 1))
        elif kind == _DIRS:
            found = match(ti + 1, si) or any(
                match(ti + 1, j + 1) for j in range(si, n_text) if text[j] == "/"
            )
        else:  # _TAIL, always the last token
            found = si == n_text or text[si] == "/"
        if not found:
            failed.add((ti, si))
        return found

    return match(0, 0)


def check_pattern(pattern: str) -> None:
    """Raise :class:`PatternInvalid` unless ``pattern`` is a well-formed glob."""
    _compile(pattern)


def doublestar_match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches the glob ``pattern`` as a whole; :class:`PatternInvalid` for a
    malformed pattern."""
    return any(_match_tokens(tokens, text) for tokens in _compile(pattern))


# --- rules -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selector:
    decoration: str
    pattern: str

    def selects(self, value: str) -> bool:
        return doublestar_match(self.pattern, value) != (self.decoration in _EXCLUDING)


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    disabled: bool
    tag_selectors: tuple[Selector, ...]
    repository_selectors: tuple[Selector, ...]

    @classmethod
    def from_json(
        cls,
        rule_id: int,
        disabled: bool,
        tag_selectors: Iterable[Mapping[str, Any]],
        scope_selectors: Mapping[str, Iterable[Mapping[str, Any]]],
    ) -> Rule:
        return cls(
            rule_id,
            disabled,
            tuple(Selector(s["decoration"], s["pattern"]) for s in tag_selectors),
            tuple(
                Selector(s["decoration"], s["pattern"])
                for s in scope_selectors.get(REPOSITORY_SCOPE, ())
            ),
        )

    def protects(self, repository: str, tag: str) -> bool:
        """Whether the rule protects ``tag`` of ``repository`` (its path without the project).
        A rule without selectors of either kind protects nothing."""
        if self.disabled or not self.tag_selectors or not self.repository_selectors:
            return False
        try:
            return all(s.selects(repository) for s in self.repository_selectors) and all(
                s.selects(tag) for s in self.tag_selectors
            )
        except PatternInvalid:
            # The API refuses such patterns; one stored anyway must not break every push.
            log.warning("immutable rule %d has an invalid pattern; ignoring it", self.id)
            return False


def protected_tags(rules: Iterable[Rule], repository: str, tags: Iterable[str]) -> set[str]:
    """The tags among ``tags`` that some enabled rule protects in ``repository`` (its path
    without the project)."""
    rules = list(rules)
    return {tag for tag in tags if any(rule.protects(repository, tag) for rule in rules)}


async def immutable_tags(
    db: Executor, project_id: int, repository: str, tags: Iterable[str]
) -> set[str]:
    """Which of ``tags`` the enabled rules of the project protect in ``repository``, its full
    name (``library/a/b``; the first segment is the project)."""
    wanted = list(tags)
    if not wanted:
        return set()
    rows = await immutable_rules.enabled_for_project(db, project_id)
    if not rows:
        return set()
    rules = [
        Rule.from_json(r["id"], r["disabled"], r["tag_selectors"], r["scope_selectors"])
        for r in rows
    ]
    _, _, path = repository.partition("/")
    return protected_tags(rules, path, wanted)


# --- validation of what the API receives ----------------------------------------------------


def _selectors(value: object, decorations: tuple[str, ...], where: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise RuleInvalid(f"{where} must be a non-empty list of selectors")
    if len(value) > MAX_SELECTORS:
        raise RuleInvalid(f"{where} may hold at most {MAX_SELECTORS} selectors")
    clean: list[dict[str, str]] = []
    for item in value:
        if not isinstance(item, dict):
            raise RuleInvalid(f"each of {where} must be an object")
        kind, decoration, pattern = item.get("kind"), item.get("decoration"), item.get("pattern")
        if kind != KIND:
            raise RuleInvalid(f"{where}: kind must be {KIND!r}")
        if decoration not in decorations:
            allowed = " or ".join(repr(d) for d in decorations)
            raise RuleInvalid(f"{where}: decoration must be {allowed}")
        if not isinstance(pattern, str) or not pattern.strip():
            raise RuleInvalid(f"{where}: pattern is required")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise RuleInvalid(f"{where}: pattern longer than {MAX_PATTERN_LENGTH} characters")
        try:
            check_pattern(pattern)
        except PatternInvalid as exc:
            raise RuleInvalid(f"{where}: {exc}") from None
        selector = {"kind": kind, "decoration": str(decoration), "pattern": pattern}
        if isinstance(item.get("extras"), str):
            selector["extras"] = item["extras"]
        clean.append(selector)
    return clean


def validate_selectors(
    tag_selectors: object, scope_selectors: object
) -> tuple[list[dict[str, str]], dict[str, list[dict[str, str]]]]:
    """The selectors of a rule as they are stored, or :class:`RuleInvalid`."""
    tags = _selectors(tag_selectors, TAG_DECORATIONS, "tag_selectors")
    if not isinstance(scope_selectors, dict) or set(scope_selectors) != {REPOSITORY_SCOPE}:
        raise RuleInvalid('scope_selectors must be an object with only a "repository" list')
    repositories = _selectors(
        scope_selectors[REPOSITORY_SCOPE], REPOSITORY_DECORATIONS, "scope_selectors.repository"
    )
    return tags, {REPOSITORY_SCOPE: repositories}
