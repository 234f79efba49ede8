"""Image reference parsing and rewriting: the vectors of rancher-api.md §9 and distribution/reference's own tests."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from ranchersync.kernel.errors import RancherSyncError, ValidationError
from ranchersync.kernel.images import ImageRef, is_valid_image, parse_image, retag

F64 = "f" * 64
D = "sha256:1a2b3c4d5e6f" + "0" * 52  # a sha256 digest whose short form is easy to read
D2 = "sha256:" + "a" * 64
SHA384 = "sha384:" + "c" * 96
SHA512 = "sha512:" + "e" * 128

# input, domain as written, registry, repository (normalized), tag, digest. "§9 #n" marks the spec's vectors.
VALID = [
    ("nginx", None, "docker.io", "library/nginx", None, None),  # §9 #1
    ("test.com:5000", None, "docker.io", "library/test.com", "5000", None),  # §9 #2: no "/", so 5000 is a tag
    ("test:5000/repo:tag", "test:5000", "test:5000", "repo", "tag", None),  # §9 #3
    (f"test:5000/repo@sha256:{F64}", "test:5000", "test:5000", "repo", None, f"sha256:{F64}"),  # §9 #4
    (f"test:5000/repo:tag@sha256:{F64}", "test:5000", "test:5000", "repo", "tag", f"sha256:{F64}"),  # §9 #5
    ("localhost:5000/app:v1", "localhost:5000", "localhost:5000", "app", "v1", None),  # §9 #6
    ("localhost/debian", "localhost", "localhost", "debian", None, None),  # §9 #7
    ("foo/foo_bar.com:8080", None, "docker.io", "foo/foo_bar.com", "8080", None),  # §9 #8: normalized wins
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com",
        "sub-dom1.foo.com",
        "bar/baz/quux",
        "some-long-tag",
        None,
    ),  # §9 #9
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io",
        "b.gcr.io",
        "test.example.com/my-app",
        "test.example.com",
        None,
    ),  # §9 #10
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "192.168.1.1:5000", "repo", "5050", None),  # §9 #11
    ("192.168.1.1:5000", None, "docker.io", "library/192.168.1.1", "5000", None),  # §9 #12
    ("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "[2001:db8::1]:5000", "repo", "tag", None),  # §9 #13
    (
        f"xn--7o8h.com/myimage:xn--7o8h.com@sha256:{F64}",
        "xn--7o8h.com",
        "xn--7o8h.com",
        "myimage",
        "xn--7o8h.com",
        f"sha256:{F64}",
    ),  # §9 #16
    ("lowercase:Uppercase", None, "docker.io", "library/lowercase", "Uppercase", None),  # §9 #18
    ("LOCALDOMAIN/debian", "LOCALDOMAIN", "LOCALDOMAIN", "debian", None, None),  # §9 #19
    ("docker.io/busybox", "docker.io", "docker.io", "library/busybox", None, None),  # §9 #20
    ("index.docker.io/busybox", "index.docker.io", "docker.io", "library/busybox", None, None),  # §9 #20
    ("a--b/c__d:v_1.0-rc", None, "docker.io", "a--b/c__d", "v_1.0-rc", None),  # §9 #24
    (f"busybox:latest@sha256:{F64}", None, "docker.io", "library/busybox", "latest", f"sha256:{F64}"),  # §9 #28
    # From reference_test.go and normalize_test.go.
    ("test_com", None, "docker.io", "library/test_com", None, None),
    ("test_com/foo", None, "docker.io", "test_com/foo", None, None),
    ("192.168.1.1", None, "docker.io", "library/192.168.1.1", None, None),
    ("192.168.1.1/repo", "192.168.1.1", "192.168.1.1", "repo", None, None),
    ("[2001:db8::1]/repo", "[2001:db8::1]", "[2001:db8::1]", "repo", None, None),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", None),
    ("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "[2001:db8::]:5000", "repo", None, None),
    ("[::1]:5000/repo", "[::1]:5000", "[::1]:5000", "repo", None, None),
    ("test-com:8080/foo", "test-com:8080", "test-com:8080", "foo", None, None),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "xn--n3h.com:18080", "foo", None, None),
    ("Docker/docker", "Docker", "Docker", "docker", None, None),
    ("docker.io/library/foo/bar", "docker.io", "docker.io", "library/foo/bar", None, None),
    ("index.docker.io/library/debian", "index.docker.io", "docker.io", "library/debian", None, None),
    ("127.0.0.1:5000/library/debian", "127.0.0.1:5000", "127.0.0.1:5000", "library/debian", None, None),
    ("docker---rules/docker", None, "docker.io", "docker---rules/docker", None, None),
    ("dock__er/docker", None, "docker.io", "dock__er/docker", None, None),
    ("d/docker", None, "docker.io", "d/docker", None, None),
    # Not an image ID once a registry is written.
    (f"docker.io/{'1a3f' * 16}", "docker.io", "docker.io", f"library/{'1a3f' * 16}", None, None),
    ("library/nginx:1", None, "docker.io", "library/nginx", "1", None),
    # Digest algorithms: go-digest's registered set (see the module docstring).
    (f"validname@{SHA512}", None, "docker.io", "library/validname", None, SHA512),
    (f"validname@{SHA384}", None, "docker.io", "library/validname", None, SHA384),
    (f"xn--7o8h.com/myimage:xn--7o8h.com@{SHA512}", "xn--7o8h.com", "xn--7o8h.com", "myimage", "xn--7o8h.com", SHA512),
    # Lengths right at the limits.
    ("a/" * 127 + "a:tag", None, "docker.io", "a/" * 127 + "a", "tag", None),  # path of exactly 255
    ("a" * 247, None, "docker.io", "library/" + "a" * 247, None, None),  # library/ brings it to exactly 255
    ("app:" + "t" * 128, None, "docker.io", "library/app", "t" * 128, None),
]

# input, a fragment the message must contain (so a wrong rejection reason fails the test).
INVALID = [
    ("[2001:db8::1]", "IPv6 registry must be followed"),  # §9 #14
    ("[2001:db8::1]:5000", "IPv6 registry must be followed"),  # §9 #14
    ("[2001:db8::1]:tag", "IPv6 registry must be followed"),
    ("[fe80::1%eth0]:5000/repo", "zone ids"),  # §9 #15
    ("[fe80::1%@invalidzone]:5000/repo", "zone ids"),
    ("registry.example.com/[fe80::1%eth0]/app", "not a valid repository name component"),
    ("Uppercase:tag", "must be lowercase"),  # §9 #17
    ("docker/Docker", "must be lowercase"),
    ("docker.io/docker/Docker", "must be lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "must be lowercase"),
    ("repo@sha256:" + "f" * 34, "exactly 64 hex characters, not 34"),  # §9 #21
    ("validname@sha512:" + "f" * 127, "exactly 128 hex characters, not 127"),  # §9 #22: sha512 needs 128 hex
    (f"validname@invaliddigest:{F64}", "not supported"),
    (f"validname@md5:{'f' * 32}", "not supported"),
    (f"repo@sha256:{'F' * 64}", "lower-case hex"),
    (f"repo@sha256:{'g' * 64}", "hexadecimal"),
    ("repo@sha256", "algorithm:hex"),
    ("repo@", "algorithm:hex"),
    (":justtag", "no repository name"),  # §9 #23
    (f"@sha256:{F64}", "no repository name"),  # §9 #23
    ("", "empty"),
    ("a___b/c", "'a___b' is not a valid repository name component"),  # §9 #25
    ("a-/b", "'a-' is not a valid"),  # §9 #25
    ("-docker/docker", "'-docker' is not a valid"),  # §9 #25
    ("docker///docker", "empty component"),  # §9 #25
    ("docker/", "empty component"),
    ("-docker", "'-docker' is not a valid"),
    ("____/____", "not a valid"),
    ("_docker/_docker", "not a valid"),
    ("dock..er/docker", "not a valid"),
    ("dock_.er/docker", "not a valid"),
    ("dock-.er/docker", "not a valid"),
    ("aa/asdf$$^/aa", "not a valid"),
    ("app:-bad", "must start with a letter, a digit or '_'"),  # §9 #26
    ("app:.bad", "must start with a letter, a digit or '_'"),  # §9 #26
    ("ghcr.io/org/app:1.0.0+build", "semver build metadata"),  # §9 #27
    ("app:", "tag after ':' is empty"),
    ("nginx:1.0:extra", "contains ':'"),
    ("a/b:1/c", "contains '/'"),
    ("app:" + "t" * 129, "129 characters long; the limit is 128"),
    ("a/" * 128 + "a:tag", "257 characters long; the limit is 255"),
    ("a" * 248, "256 characters long; the limit is 255"),  # counted with library/, as the runtime does
    (" nginx", "leading or trailing whitespace"),
    ("nginx ", "leading or trailing whitespace"),
    ("nginx\n", "leading or trailing whitespace"),
    ("ngi nx", "whitespace or control characters"),
    ("ngi\tnx:1", "whitespace or control characters"),
    ("1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "image ID"),
    ("https://github.com/docker/docker", "port"),
    ("fc00::1:5000/debian", "must be written in brackets"),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", "hex digits and ':'"),
    ("-docker.io/docker/docker", "not a valid registry host name"),
    ("foo_bar.com/app", "not a valid registry host name"),  # Go's Parse would silently drop the domain here
    ("registry:abc/app", "port"),
    ("docker.io/", "no repository path follows the registry 'docker.io'"),
    ("nginx:1@sha256:" + F64 + "@x", "more than one '@'"),
    ("nginxé", "not a valid"),
]


@pytest.mark.parametrize(("text", "domain", "registry", "repository", "tag", "digest"), VALID)
def test_valid_reference_parses_to_its_normalized_parts(
    text: str, domain: str | None, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_image(text)
    assert (ref.domain, ref.registry, ref.repository, ref.tag, ref.digest) == (
        domain,
        registry,
        repository,
        tag,
        digest,
    )
    assert ref.normalized_name == f"{registry}/{repository}"
    assert is_valid_image(text)


@pytest.mark.parametrize("text", [row[0] for row in VALID])
def test_valid_reference_round_trips_exactly(text: str) -> None:
    ref = parse_image(text)
    assert str(ref) == text
    assert ref.original == text


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_invalid_reference_is_refused_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_image(text)
    assert reason in str(excinfo.value)
    assert not is_valid_image(text)


def test_validation_error_is_caught_by_the_root_error_and_quotes_the_input() -> None:
    with pytest.raises(RancherSyncError, match=r"Invalid image reference 'Uppercase:tag': .*lowercase"):
        parse_image("Uppercase:tag")


def test_long_input_is_shortened_in_the_message() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_image("A" * 1000)
    assert len(str(excinfo.value)) < 300


def test_non_text_is_not_a_valid_image() -> None:
    assert not is_valid_image(None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="must be text"):
        parse_image(42)  # type: ignore[arg-type]


def test_path_keeps_the_written_form_without_library() -> None:
    ref = parse_image("docker.io/busybox:1.36")
    assert ref.path == "busybox"
    assert ref.repository == "library/busybox"


def test_docker_ref_drops_the_tag_when_a_digest_is_present() -> None:
    # §9 #28: ParseDockerRef keeps only what the runtime pulls.
    assert parse_image(f"busybox:latest@sha256:{F64}").docker_ref == f"docker.io/library/busybox@sha256:{F64}"
    assert parse_image("nginx").docker_ref == "docker.io/library/nginx:latest"
    assert parse_image("localhost:5000/app:v1").docker_ref == "localhost:5000/app:v1"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("nginx", "latest"),
        ("nginx:1.25", "1.25"),
        ("localhost:5000/app", "latest"),  # the port is not a tag
        ("[2001:db8::1]:5000/app:v3", "v3"),
        (f"nginx@{D}", "@sha256:1a2b3c4d5e6f"),
        (f"nginx:1.25@{D}", "1.25@sha256:1a2b3c4d5e6f"),
        (f"nginx@{SHA512}", "@sha512:eeeeeeeeeeee"),
    ],
)
def test_display_tag_is_what_an_operator_reads(text: str, shown: str) -> None:
    assert parse_image(text).display_tag == shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", "nginx:v2"),
        ("nginx:1.0", "nginx:v2"),
        ("localhost:5000/app", "localhost:5000/app:v2"),
        ("localhost:5000/app:v1", "localhost:5000/app:v2"),
        ("registry.example.com:443/team/app:1", "registry.example.com:443/team/app:v2"),
        ("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000/repo:v2"),
        ("[::1]:5000/repo", "[::1]:5000/repo:v2"),
        ("index.docker.io/busybox:1", "index.docker.io/busybox:v2"),  # the registry stays as written
        (f"registry:5000/team/app@sha256:{F64}", "registry:5000/team/app:v2"),  # digest dropped
        (f"app:v1@sha256:{F64}", "app:v2"),  # digest dropped
    ],
)
def test_with_tag_replaces_only_the_tag(text: str, expected: str) -> None:
    ref = parse_image(text).with_tag("v2")
    assert str(ref) == expected
    assert ref.original == expected
    assert (ref.tag, ref.digest) == ("v2", None)
    assert ref.normalized_name == parse_image(text).normalized_name


@pytest.mark.parametrize("tag", ["", "-x", ".x", "1.0+build", "a/b", "t" * 129])
def test_with_tag_refuses_an_invalid_tag(tag: str) -> None:
    with pytest.raises(ValidationError, match="Invalid tag"):
        parse_image("nginx:1").with_tag(tag)


def test_with_digest_pins_and_keeps_the_tag() -> None:
    ref = parse_image("localhost:5000/app:v1").with_digest(D)
    assert str(ref) == f"localhost:5000/app:v1@{D}"
    assert ref.digest == D
    assert str(parse_image("nginx@" + D2).with_digest(D)) == f"nginx@{D}"


@pytest.mark.parametrize("digest", ["sha256:abc", f"md5:{'f' * 32}", F64, f"sha256:{'F' * 64}"])
def test_with_digest_refuses_an_invalid_digest(digest: str) -> None:
    with pytest.raises(ValidationError, match="Invalid digest"):
        parse_image("nginx").with_digest(digest)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nginx", "index.docker.io/library/nginx"),
        ("nginx:1.25", "library/nginx:1.25"),
        ("docker.io/busybox", "busybox:latest"),
        (f"busybox:latest@sha256:{F64}", f"docker.io/library/busybox@sha256:{F64}"),  # the runtime ignores the tag
        (f"busybox:1@{D}", f"busybox:2@{D}"),
        ("localhost:5000/app:v1", "localhost:5000/app:v1"),
    ],
)
def test_same_image_as_compares_what_the_runtime_pulls(left: str, right: str) -> None:
    assert parse_image(left).same_image_as(parse_image(right))
    assert parse_image(right).same_image_as(left)  # a string is accepted too


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("nginx", "nginx:1.25"),
        ("nginx", "localhost/nginx"),
        ("localhost:5000/app:v1", "localhost:5001/app:v1"),
        ("ghcr.io/org/app:1", "docker.io/org/app:1"),
        (f"nginx@{D}", "nginx:latest"),  # a tag may or may not resolve to that digest
        (f"nginx@{D}", f"nginx@{D2}"),
        ("LOCALDOMAIN/debian", "localdomain/debian"),  # the second is docker.io/localdomain/debian
        ("Registry.example.com/app", "registry.example.com/app"),  # hosts compare as written: never a false "equal"
    ],
)
def test_same_image_as_tells_different_images_apart(left: str, right: str) -> None:
    assert not parse_image(left).same_image_as(right)


@pytest.mark.parametrize(
    ("target", "source"),
    [
        ("registry.prod:5000/team/app:1.0", "registry.dev/team/app:2.0"),
        ("nginx:1.24", f"ghcr.io/org/nginx:1.25@sha256:{F64}"),
        ("this is not an image", "registry.dev/team/app:2.0"),  # the target's current image plays no part
    ],
)
def test_retag_full_writes_the_source_exactly(target: str, source: str) -> None:
    assert retag(target, source, "full") == source


@pytest.mark.parametrize(
    ("target", "source", "expected"),
    [
        ("registry.prod:5000/team/app:1.0", "registry.dev/other/app:2.0", "registry.prod:5000/team/app:2.0"),
        ("[2001:db8::1]:5000/app", "app:3", "[2001:db8::1]:5000/app:3"),
        ("index.docker.io/busybox:1.35", "busybox:1.36", "index.docker.io/busybox:1.36"),
        ("localhost:5000/app", "ghcr.io/org/app:V1_rc", "localhost:5000/app:V1_rc"),
        (f"reg.prod/app:1@sha256:{F64}", "reg.dev/app:2", "reg.prod/app:2"),  # the target's pin would hide the tag
        ("reg.prod/app:1", "reg.dev/app", "reg.prod/app:latest"),  # an untagged source runs latest
        # A pinned source in the same repository keeps its pin, under the target's spelling of the name.
        ("nginx:1.24", f"docker.io/library/nginx:1.25@{D}", f"nginx:1.25@{D}"),
        ("reg.example.com/app:1", f"reg.example.com/app@{D}", f"reg.example.com/app@{D}"),
    ],
)
def test_retag_tag_keeps_the_target_name(target: str, source: str, expected: str) -> None:
    assert retag(target, source, "tag") == expected


def test_retag_tag_refuses_to_carry_a_digest_to_another_repository() -> None:
    with pytest.raises(ValidationError, match="pinned to a digest"):
        retag("reg.prod/app:1", f"reg.dev/app:2@{D}", "tag")
    with pytest.raises(ValidationError, match="pinned to a digest"):
        retag("reg.prod/app:1", f"reg.prod/other@{D}", "tag")


@pytest.mark.parametrize(
    ("target", "source", "mode"),
    [
        ("nginx:1", "Nginx:2", "full"),
        ("nginx:1", "nginx:2+b", "tag"),
        ("Nginx:1", "nginx:2", "tag"),
        ("nginx:1", "nginx:2", "latest"),
    ],
)
def test_retag_refuses_invalid_input(target: str, source: str, mode: str) -> None:
    with pytest.raises(ValidationError):
        retag(target, source, mode)  # type: ignore[arg-type]


def test_image_ref_is_frozen() -> None:
    ref = parse_image("nginx")
    assert isinstance(ref, ImageRef)
    with pytest.raises(FrozenInstanceError):
        ref.tag = "1"  # type: ignore[misc]
