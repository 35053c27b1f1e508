from __future__ import annotations

import pytest

from registry.scanners.versions import (
    comparator,
    compare_apk,
    compare_dpkg,
    compare_pep440,
    compare_semver,
    sort_versions,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1.0", "1.1"),
        ("1.0~rc1", "1.0"),
        ("~~", "~~a"),
        ("~~a", "~"),
        ("~", ""),
        ("", "a"),
        ("1.2.3-1", "1.2.3-2"),
        ("1.2.3-1", "1.2.3-1+b1"),
        ("3.0.9-1", "3.0.11-1~deb12u2"),
        ("3.0.11-1~deb12u2", "3.0.11-1"),
        ("1:1.0", "2:0.1"),
        ("2.0", "1:0.1"),
        ("1.0a", "1.0+"),
        ("5.2.15-2", "5.2.15-2+b2"),
        ("1.2.13.dfsg-1", "1.2.13.dfsg-1.1"),
    ],
)
def test_dpkg_orders_as_debian_policy(a: str, b: str) -> None:
    assert compare_dpkg(a, b) < 0
    assert compare_dpkg(b, a) > 0


def test_dpkg_equal_forms() -> None:
    assert compare_dpkg("0:1.0-0", "1.0") == 0
    assert compare_dpkg("1.0-0", "1.0") == 0
    assert compare_dpkg("1.01", "1.1") == 0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1.36.1-r15", "1.36.1-r16"),
        ("1.2.4_git20230717-r4", "1.2.4_git20230717-r5"),
        ("1.2.4", "1.2.4_git20230717"),
        ("1.0_alpha1", "1.0_beta"),
        ("1.0_beta2", "1.0_pre1"),
        ("1.0_rc1", "1.0"),
        ("1.0", "1.0_p1"),
        ("1.0", "1.0a"),
        ("1.9", "1.10"),
        ("2.0-r9", "2.0.1-r0"),
        ("3.1.4-r5", "3.1.4a-r0"),
    ],
)
def test_apk_orders_as_apk_tools(a: str, b: str) -> None:
    assert compare_apk(a, b) < 0
    assert compare_apk(b, a) > 0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("2.28.1", "2.31.0"),
        ("1.0.dev1", "1.0a1"),
        ("1.0a1", "1.0b1"),
        ("1.0rc1", "1.0"),
        ("1.0", "1.0.post1"),
        ("1.0", "1!0.1"),
        ("1.26.5", "1.26.18"),
    ],
)
def test_pep440(a: str, b: str) -> None:
    assert compare_pep440(a, b) < 0
    assert compare_pep440(b, a) > 0
    assert compare_pep440("1.0", "1.0.0") == 0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-alpha.beta", "1.0.0-beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-rc.1", "1.0.0"),
        ("4.17.20", "4.17.21"),
        ("1.9.0", "1.10.0"),
    ],
)
def test_semver(a: str, b: str) -> None:
    assert compare_semver(a, b) < 0
    assert compare_semver(b, a) > 0
    assert compare_semver("1.0.0+build.1", "1.0.0") == 0


def test_comparator_by_ecosystem_and_sorting() -> None:
    assert comparator("Debian:12") is compare_dpkg
    assert comparator("Alpine:v3.19") is compare_apk
    assert comparator("PyPI") is compare_pep440
    assert comparator("npm") is compare_semver
    assert sort_versions(["1.10", "1.9", "1.9~rc1", "1:0.1"], compare_dpkg) == [
        "1.9~rc1",
        "1.9",
        "1.10",
        "1:0.1",
    ]
