"""Where a replicated repository lands: Harbor's ``dest_namespace`` rules."""

from __future__ import annotations


class NamingInvalid(ValueError):
    """The destination name breaks the destination's path rules."""


def destination_repository(source: str, namespace: str, replace_count: int) -> str:
    """``source`` renamed under ``namespace``.

    An empty namespace keeps the source path. A count of -1 (Harbor's legacy default) keeps
    only the last component: ``ns/<last>``. A count of N replaces the first N components with
    the namespace (0 prefixes it); N past the path's length leaves ``ns/<last>``.
    """
    if not namespace:
        return source
    parts = source.split("/")
    if replace_count < 0:
        return f"{namespace}/{parts[-1]}"
    kept = parts[min(replace_count, len(parts) - 1) :]
    return "/".join([namespace, *kept])


def check_path_components(repository: str, rule: str) -> None:
    """Harbor's ``ONLY_TWO`` and ``AT_LEAST_TWO`` destination rules ("" checks nothing)."""
    count = len(repository.split("/"))
    if rule == "ONLY_TWO" and count != 2:
        raise NamingInvalid(f"{repository}: the destination takes exactly two path components")
    if rule == "AT_LEAST_TWO" and count < 2:
        raise NamingInvalid(f"{repository}: the destination takes at least two path components")
