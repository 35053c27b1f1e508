from __future__ import annotations

import pytest

from registry.oci.digest import Digest, InvalidDigestError, StreamHasher, looks_like_digest
from registry.oci.names import is_valid_repository, is_valid_tag, project_of


@pytest.mark.parametrize(
    "name", ["library/app", "library/a/b/c", "team-x/app.v2", "p/a__b", "p/a---b", "p1/x_y"]
)
def test_valid_repository_names(name: str) -> None:
    assert is_valid_repository(name)


@pytest.mark.parametrize(
    "name",
    [
        "app",
        "library/App",
        "library//x",
        "library/x/",
        "/library/x",
        "library/../x",
        "library/-x",
        "library/a..b",
        "library/a_-b",
        "",
        "library/" + "a" * 300,
        "library/a b",
    ],
)
def test_invalid_repository_names(name: str) -> None:
    assert not is_valid_repository(name)


@pytest.mark.parametrize("tag", ["latest", "v1.0.0", "_x", "A-b_c.d", "a" * 128])
def test_valid_tags(tag: str) -> None:
    assert is_valid_tag(tag)


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a" * 129, "a/b", "a:b", "a+b"])
def test_invalid_tags(tag: str) -> None:
    assert not is_valid_tag(tag)


def test_project_is_the_first_segment() -> None:
    assert project_of("library/a/b") == "library"


def test_digest_parsing() -> None:
    d = Digest.parse("sha256:" + "0" * 64)
    assert str(d) == "sha256:" + "0" * 64
    assert Digest.parse("sha512:" + "f" * 128).algorithm == "sha512"
    for bad in [
        "sha256:" + "0" * 63,
        "sha256:" + "G" * 64,
        "md5:" + "0" * 32,
        "sha256",
        "SHA256:" + "0" * 64,
    ]:
        with pytest.raises(InvalidDigestError):
            Digest.parse(bad)


def test_stream_hasher_matches_one_shot_digest() -> None:
    data = b"abc" * 100_000
    hasher = StreamHasher(("sha256", "sha512"))
    for i in range(0, len(data), 7777):
        hasher.update(data[i : i + 7777])
    assert hasher.size == len(data)
    assert hasher.digest("sha256") == Digest.of(data)
    assert hasher.digest("sha512") == Digest.of(data, "sha512")


@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\n\n"])
def test_names_tags_and_digests_are_matched_in_full(suffix: str) -> None:
    # ``$`` also matches before a final newline: the grammars must cover the whole string.
    assert not is_valid_repository("library/app" + suffix)
    assert not is_valid_tag("latest" + suffix)
    with pytest.raises(InvalidDigestError):
        Digest.parse("sha256:" + "0" * 64 + suffix)


def test_a_reference_with_a_colon_is_meant_as_a_digest() -> None:
    assert looks_like_digest("sha256:" + "0" * 64)
    # Even a malformed one: it must then be refused as a digest, not looked up as a tag.
    assert looks_like_digest("sha256:abc")
    assert not looks_like_digest("latest")
    assert not looks_like_digest("v1.0")


def test_the_digest_of_content() -> None:
    assert str(Digest.of(b"")) == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert Digest.of(b"", "sha512").hex.startswith("cf83e1357eefb8bdf1542850d66d8007")


def test_a_stream_hasher_keeps_only_the_algorithms_asked_for() -> None:
    default = StreamHasher()
    assert default.has("sha256")
    assert not default.has("sha512")
    default.update(b"abc")
    assert default.digest() == Digest.of(b"abc")
    with pytest.raises(KeyError):
        default.digest("sha512")
