"""Repository name and tag grammar (OCI distribution spec), and the project a name lives in.

Grammars are applied with ``fullmatch``: ``$`` also matches before a trailing newline, so
``^…$`` with ``match`` would take ``latest\n`` for a tag.
"""

from __future__ import annotations

import re

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# Distribution caps names at 255 characters; the whole reference must stay usable in URLs.
MAX_NAME_LENGTH = 255


def is_valid_repository(name: str) -> bool:
    """A repository needs a project segment and at least one more: ``project/repo``."""
    return len(name) <= MAX_NAME_LENGTH and "/" in name and _NAME.fullmatch(name) is not None


def is_valid_tag(tag: str) -> bool:
    return _TAG.fullmatch(tag) is not None


def project_of(repository: str) -> str:
    return repository.split("/", 1)[0]
