"""How values read on a page: sizes, times, digests."""

from __future__ import annotations

from datetime import UTC, datetime

from registry.services.quota import human_size as _human_size


def human_size(size: int | None) -> str:
    return "—" if size is None else _human_size(size)


def when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def short_digest(digest: str | None) -> str:
    if not digest:
        return ""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}"


def parse_size(text: str) -> int:
    """A storage limit typed in a form: ``-1`` or empty (unlimited), bytes, or a number with
    KiB/MiB/GiB/TiB (also KB, MB, GB, TB, meaning the same powers of 1024, as Harbor's form)."""
    cleaned = text.strip().replace(" ", "").upper()
    if cleaned in ("", "-1"):
        return -1
    factors = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    for suffix in ("IB", "B"):
        if cleaned.endswith(suffix) and cleaned[: -len(suffix)][-1:] in factors:
            cleaned = cleaned[: -len(suffix)]
            break
    factor = 1
    if cleaned[-1:] in factors:
        factor = factors[cleaned[-1]]
        cleaned = cleaned[:-1]
    try:
        number = float(cleaned)
    except ValueError:
        raise ValueError("the storage limit is a number, e.g. 10 GiB, or -1 for none") from None
    if number < 0 or number * factor > 2**62:
        raise ValueError("the storage limit must be positive (or -1 for none)")
    return int(number * factor)
