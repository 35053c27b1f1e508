"""Version orderings of the ecosystems Berth's scanner matches: dpkg, apk, PEP 440 and semver.

Each ``compare_*`` returns a negative number, zero or a positive number, as ``a`` sorts before,
equal to or after ``b``. Unparseable versions never raise: they compare as strings, so one bad
record in a vulnerability database cannot stop a scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cmp_to_key

from packaging.version import InvalidVersion, Version

Compare = Callable[[str, str], int]


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


# ---------------------------------------------------------------------------- dpkg


def _dpkg_char_order(char: str) -> int:
    """Debian Policy 5.6.12: ``~`` before everything (even the end), then the end, then
    letters, then everything else."""
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _dpkg_part(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        # A non-digit run, compared character by character; the end of a run counts as 0.
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ca = _dpkg_char_order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            cb = _dpkg_char_order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ca != cb:
                return _sign(ca - cb)
            i += 1
            j += 1
        # A digit run, compared numerically (empty is 0).
        start = i
        while i < len(a) and a[i].isdigit():
            i += 1
        na = int(a[start:i] or "0")
        start = j
        while j < len(b) and b[j].isdigit():
            j += 1
        nb = int(b[start:j] or "0")
        if na != nb:
            return _sign(na - nb)
    return 0


def _dpkg_split(version: str) -> tuple[int, str, str]:
    epoch = 0
    rest = version.strip()
    if ":" in rest:
        head, _, tail = rest.partition(":")
        if head.isdigit():
            epoch, rest = int(head), tail
    upstream, sep, revision = rest.rpartition("-")
    if not sep:
        return epoch, rest, "0"
    return epoch, upstream, revision


def compare_dpkg(a: str, b: str) -> int:
    ea, ua, ra = _dpkg_split(a)
    eb, ub, rb = _dpkg_split(b)
    if ea != eb:
        return _sign(ea - eb)
    return _dpkg_part(ua, ub) or _dpkg_part(ra, rb)


# ---------------------------------------------------------------------------- apk

_APK_PRE = {"alpha": -4, "beta": -3, "pre": -2, "rc": -1}
_APK_POST = {"cvs": 1, "svn": 2, "git": 3, "hg": 4, "p": 5}
_APK = re.compile(
    r"^(?P<nums>\d+(?:\.\d+)*)(?P<letter>[a-z]?)(?P<suffixes>(?:_[a-z]+\d*)*)"
    r"(?:~(?P<hash>[0-9a-f]+))?(?:-r(?P<rev>\d+))?$"
)


@dataclass(frozen=True, slots=True)
class _ApkVersion:
    # (is_integer, value): later components with a leading zero compare like fractions.
    numbers: tuple[tuple[bool, int, str], ...]
    letter: int
    suffixes: tuple[tuple[int, int], ...]
    revision: int


def _apk_key(version: str) -> _ApkVersion | None:
    match = _APK.match(version.strip())
    if match is None:
        return None
    numbers: list[tuple[bool, int, str]] = []
    for index, part in enumerate(match["nums"].split(".")):
        if index > 0 and part.startswith("0") and len(part) > 1:
            numbers.append((False, 0, part))
        else:
            numbers.append((True, int(part), part))
    suffixes: list[tuple[int, int]] = []
    for raw in (match["suffixes"] or "").split("_")[1:]:
        name = raw.rstrip("0123456789")
        number = int(raw[len(name) :] or "0")
        suffixes.append((_APK_PRE.get(name, _APK_POST.get(name, 0)), number))
    # No suffix sits between the pre-release ones (negative) and the post-release ones.
    suffixes.append((0, 0))
    letter = ord(match["letter"]) if match["letter"] else 0
    return _ApkVersion(tuple(numbers), letter, tuple(suffixes), int(match["rev"] or "0"))


def _apk_numbers(a: tuple[tuple[bool, int, str], ...], b: tuple[tuple[bool, int, str], ...]) -> int:
    for (int_a, va, sa), (int_b, vb, sb) in zip(a, b, strict=False):
        if int_a and int_b:
            if va != vb:
                return _sign(va - vb)
        elif sa != sb:
            return -1 if sa < sb else 1
    return _sign(len(a) - len(b))


def compare_apk(a: str, b: str) -> int:
    ka, kb = _apk_key(a), _apk_key(b)
    if ka is None or kb is None:
        return _sign((a > b) - (a < b))
    found = _apk_numbers(ka.numbers, kb.numbers)
    if found:
        return found
    if ka.letter != kb.letter:
        return _sign(ka.letter - kb.letter)
    for sa, sb in zip(ka.suffixes, kb.suffixes, strict=False):
        if sa != sb:
            return -1 if sa < sb else 1
    return _sign(ka.revision - kb.revision)


# ---------------------------------------------------------------------------- PEP 440


def compare_pep440(a: str, b: str) -> int:
    try:
        va, vb = Version(a), Version(b)
    except InvalidVersion:
        return _sign((a > b) - (a < b))
    return (va > vb) - (va < vb)


# ---------------------------------------------------------------------------- semver

_SEMVER = re.compile(
    r"^v?(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)


def _semver_pre(a: str, b: str) -> int:
    """semver 2.0.0 §11: a release sorts after its pre-releases; identifiers compare
    numerically when both are numbers, numbers before words, and a shorter list first."""
    if a == b:
        return 0
    if not a:
        return 1
    if not b:
        return -1
    for x, y in zip(a.split("."), b.split("."), strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return _sign(int(x) - int(y))
        if x.isdigit():
            return -1
        if y.isdigit():
            return 1
        return -1 if x < y else 1
    return _sign(len(a.split(".")) - len(b.split(".")))


def compare_semver(a: str, b: str) -> int:
    ma, mb = _SEMVER.match(a.strip()), _SEMVER.match(b.strip())
    if ma is None or mb is None:
        return _sign((a > b) - (a < b))
    for key in ("major", "minor", "patch"):
        na, nb = int(ma[key] or "0"), int(mb[key] or "0")
        if na != nb:
            return _sign(na - nb)
    return _semver_pre(ma["pre"] or "", mb["pre"] or "")


# ---------------------------------------------------------------------------- by ecosystem


def comparator(ecosystem: str) -> Compare:
    """The ordering of an OSV ecosystem (``Debian:12``, ``Alpine:v3.19``, ``PyPI``, ``npm``)."""
    base = ecosystem.split(":", 1)[0]
    if base in ("Debian", "Ubuntu"):
        return compare_dpkg
    if base in ("Alpine", "Wolfi", "Chainguard"):
        return compare_apk
    if base == "PyPI":
        return compare_pep440
    return compare_semver


def sort_versions(versions: list[str], compare: Compare) -> list[str]:
    return sorted(versions, key=cmp_to_key(compare))
