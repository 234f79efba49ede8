"""Container image references: parse, compare and rewrite them the way container runtimes read them.

The grammar is a port of distribution/reference (``regexp.go``); the meaning follows its *normalized* parser
(``ParseNormalizedNamed`` / ``splitDockerDomain``), which is what Docker, containerd and CRI-O use. An image is kept
exactly as written (``str(parse_image(s)) == s``); only the normalized views add ``docker.io`` and ``library/``.

Decisions a reader should know:

* Digests: sha256 (64 hex), sha384 (96 hex) and sha512 (128 hex), lower-case hex only. These are the algorithms
  opencontainers/go-digest registers and the OCI image spec lists; distribution/reference's current tests accept
  sha512 too (older ones did not, only because the test binary did not import it). Any other algorithm, though allowed
  by the reference grammar, is refused: no runtime could pull it.
* A first component with a ``.`` but not a valid host name (``foo_bar.com/app``) is refused. Go's ``Parse`` would
  quietly fall back to "no domain" there, while a runtime would try to reach ``foo_bar.com``; neither is what the
  user meant.
* Registries compare exactly as written (apart from ``index.docker.io``): when unsure, two images are "different",
  which costs at most a needless redeploy, never a skipped change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ranchersync.kernel.errors import ValidationError

__all__ = ["ImageRef", "RetagMode", "is_valid_image", "parse_image", "retag"]

RetagMode = Literal["full", "tag"]

DEFAULT_REGISTRY = "docker.io"
LEGACY_REGISTRY = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
PATH_MAX = 255  # RepositoryNameTotalLengthMax, counted on the normalized path as ParseNormalizedNamed does
SHORT_DIGEST_LEN = 12  # as `docker images` shortens image ids

# Ported from distribution/reference regexp.go. Go's \w and [[:xdigit:]] are ASCII-only, so the classes are spelled
# out: Python's \w would accept any Unicode letter.
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALPHANUMERIC + r"(?:" + _SEPARATOR + _ALPHANUMERIC + r")*"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = _DOMAIN_NAME_COMPONENT + r"(?:\." + _DOMAIN_NAME_COMPONENT + r")*"
_IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = r"(?:" + _DOMAIN_NAME + r"|" + _IPV6_ADDRESS + r")"
_DOMAIN_AND_PORT = _HOST + r"(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST_ALGORITHM = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*"

# Always used with fullmatch: Python's "$" would also match before a trailing newline.
_PATH_COMPONENT_RE = re.compile(_PATH_COMPONENT)
_DOMAIN_RE = re.compile(_DOMAIN_AND_PORT)
_DOMAIN_NAME_RE = re.compile(_DOMAIN_NAME)
_TAG_RE = re.compile(_TAG)
_TAG_CHARS_RE = re.compile(r"[A-Za-z0-9_.-]*")
_DIGEST_ALGORITHM_RE = re.compile(_DIGEST_ALGORITHM)
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_ZONE_ID_RE = re.compile(r"\[[^\]/]*%")

# Hex length of each digest algorithm a runtime can verify (go-digest's registered set).
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference; the fields keep the text as written, the properties give the normalized meaning."""

    original: str
    domain: str | None
    path: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        return _compose(self.domain, self.path, self.tag, self.digest)

    @property
    def registry(self) -> str:
        """The registry the runtime pulls from: ``docker.io`` when none is written or for ``index.docker.io``."""
        if self.domain is None or self.domain == LEGACY_REGISTRY:
            return DEFAULT_REGISTRY
        return self.domain

    @property
    def repository(self) -> str:
        """The normalized repository path, with ``library/`` for single-component Docker Hub names."""
        if self.registry == DEFAULT_REGISTRY and "/" not in self.path:
            return OFFICIAL_PREFIX + self.path
        return self.path

    @property
    def normalized_name(self) -> str:
        """Registry and repository in full, e.g. ``docker.io/library/nginx``."""
        return f"{self.registry}/{self.repository}"

    @property
    def docker_ref(self) -> str:
        """What the runtime pulls (ParseDockerRef): the full name with the digest if any, else the tag or ``latest``."""
        if self.digest is not None:
            return f"{self.normalized_name}@{self.digest}"
        return f"{self.normalized_name}:{self.tag or DEFAULT_TAG}"

    @property
    def display_tag(self) -> str:
        """The version an operator reads: ``1.2``, ``@sha256:1a2b3c4d5e6f``, ``1.2@sha256:…`` or ``latest``."""
        if self.digest is None:
            return self.tag or DEFAULT_TAG  # an untagged image runs "latest"
        return f"{self.tag or ''}@{_short_digest(self.digest)}"

    def with_tag(self, tag: str) -> ImageRef:
        """The same image name, exactly as written, with another tag and without a digest.

        The digest is dropped because a runtime pulls by digest and ignores the tag: keeping it would make the new
        tag a label that changes nothing.
        """
        if problem := _tag_problem(tag):
            raise ValidationError(f"Invalid tag: {problem}.")
        return parse_image(_compose(self.domain, self.path, tag, None))

    def with_digest(self, digest: str) -> ImageRef:
        """The same image name and tag, pinned to ``digest`` (the tag is kept as a readable label)."""
        if problem := _digest_problem(digest):
            raise ValidationError(f"Invalid digest: {problem}.")
        return parse_image(_compose(self.domain, self.path, self.tag, digest))

    def same_image_as(self, other: ImageRef | str) -> bool:
        """Whether a runtime would pull the same thing: ``nginx`` equals ``docker.io/library/nginx:latest``.

        When both carry a digest the tags are ignored, as the runtime ignores them.
        """
        if isinstance(other, str):
            other = parse_image(other)
        return self.docker_ref == other.docker_ref


def parse_image(s: str) -> ImageRef:
    """Parse an image reference the way a container runtime does.

    Raises:
        ValidationError: the text is not a valid reference; the message names the part at fault.
    """
    if not isinstance(s, str):
        raise ValidationError(f"An image reference must be text, not {type(s).__name__}.")
    if s == "":
        raise ValidationError("The image reference is empty.")
    if s != s.strip():
        # Kubernetes refuses surrounding whitespace on recent versions and pulls fail on older ones.
        raise _invalid(s, "it has leading or trailing whitespace")
    if any(c.isspace() or not c.isprintable() for c in s):
        raise _invalid(s, "it contains whitespace or control characters")
    if _IDENTIFIER_RE.fullmatch(s):
        raise _invalid(s, "a 64-character hexadecimal string is an image ID, not a repository name")

    if _ZONE_ID_RE.match(s):
        # Checked first: a zone id may hold any character, '@' and '/' included, and would mislead the split below.
        raise _invalid(s, "IPv6 zone ids ('%…') are not allowed in a registry address")

    name_and_tag, at, digest = s.partition("@")
    if "@" in digest:
        raise _invalid(s, "it contains more than one '@'")

    domain, remainder = _split_domain(name_and_tag)
    if domain is not None:
        _check_domain(domain, s)

    path, colon, tag = remainder.partition(":")
    if path == "":
        if domain is not None:
            raise _invalid(s, f"no repository path follows the registry {_quote(domain)}")
        raise _invalid(s, "it has no repository name")
    if domain is None and path.startswith("["):
        raise _invalid(s, "an IPv6 registry must be followed by '/' and a repository path, e.g. [::1]:5000/app")
    _check_path(path, s)
    if colon and (problem := _tag_problem(tag)):
        raise _invalid(s, problem)
    if at and (problem := _digest_problem(digest)):
        raise _invalid(s, problem)

    ref = ImageRef(original=s, domain=domain, path=path, tag=tag if colon else None, digest=digest if at else None)
    if len(ref.repository) > PATH_MAX:
        raise _invalid(s, f"the repository path is {len(ref.repository)} characters long; the limit is {PATH_MAX}")
    return ref


def is_valid_image(s: str) -> bool:
    """Whether ``s`` is an image reference a runtime would accept."""
    try:
        parse_image(s)
    except ValidationError:
        return False
    return True


def retag(target_image: str, source_image: str, mode: RetagMode) -> str:
    """The image a sync writes into the target container.

    ``full`` copies the source reference exactly. ``tag`` keeps the target's registry and repository as written and
    takes the source's tag (``latest``, written out, when the source has none). A digest in the target is dropped, since
    it would make the runtime ignore the new tag.

    A source digest pins content in the source's repository. It is carried only when the target names the same
    repository; otherwise the same digest may not exist there and the tag may point at other content, so the sync is
    refused rather than silently unpinned.

    Raises:
        ValidationError: the mode is unknown, an image it uses is invalid (the target only in tag mode), or a pinned
            source cannot be carried over.
    """
    if mode not in ("full", "tag"):
        raise ValidationError(f"Unknown sync mode {mode!r}: use 'full' or 'tag'.")
    source = parse_image(source_image)
    if mode == "full":
        # The target's current image plays no part, so a broken one must not block the sync that repairs it.
        return source.original
    target = parse_image(target_image)
    if source.digest is None:
        return str(target.with_tag(source.tag or DEFAULT_TAG))
    if source.normalized_name != target.normalized_name:
        raise ValidationError(
            f"The source image {_quote(source_image)} is pinned to a digest, which a tag-only sync cannot carry to "
            f"{target.normalized_name}: that repository may not hold the same content. Use a full-reference sync."
        )
    return _compose(target.domain, target.path, source.tag, source.digest)


def _split_domain(name: str) -> tuple[str | None, str]:
    """Split off the registry by Docker's rule (splitDockerDomain), keeping it as written."""
    first, slash, rest = name.partition("/")
    if not slash:
        return None, name  # a single component is always a repository: "test.com:5000" is test.com with tag 5000
    if first == "localhost" or "." in first or ":" in first or first.lower() != first:
        # Upper case cannot occur in a path, so an upper-case first component can only be a host.
        return first, rest
    return None, name


def _check_domain(domain: str, s: str) -> None:
    """Refuse a registry that is not ``host[:port]``, explaining the usual mistakes."""
    if _DOMAIN_RE.fullmatch(domain):
        return
    if "%" in domain:
        raise _invalid(s, f"IPv6 zone ids ('%…') are not allowed in a registry address ({_quote(domain)})")
    if not domain.startswith("[") and domain.count(":") > 1:
        raise _invalid(s, f"an IPv6 registry must be written in brackets, e.g. [fc00::1]:5000 (got {_quote(domain)})")
    if domain.startswith("["):
        raise _invalid(s, f"the IPv6 registry {_quote(domain)} must be [hex digits and ':'] with an optional :port")
    host, colon, port = domain.partition(":")
    if colon and not port.isdecimal():
        raise _invalid(s, f"the registry port in {_quote(domain)} must be a number")
    if not _DOMAIN_NAME_RE.fullmatch(host):
        raise _invalid(
            s, f"{_quote(host)} is not a valid registry host name (letters, digits and inner '-', separated by '.')"
        )
    raise _invalid(s, f"{_quote(domain)} is not a valid registry address")


def _check_path(path: str, s: str) -> None:
    """Refuse a repository path that breaks the component grammar, naming the component at fault."""
    for component in path.split("/"):
        if component == "":
            raise _invalid(s, "the repository path has an empty component (a doubled or trailing '/')")
        if _PATH_COMPONENT_RE.fullmatch(component):
            continue
        if _PATH_COMPONENT_RE.fullmatch(component.lower()):
            raise _invalid(s, f"the repository name must be lowercase ({_quote(component)})")
        raise _invalid(
            s,
            f"{_quote(component)} is not a valid repository name component: use lowercase letters and digits, "
            "joined by '.', '_', '__' or dashes, without a separator at either end",
        )


def _tag_problem(tag: str) -> str | None:
    """Why ``tag`` is not a valid tag (``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``), or None."""
    if _TAG_RE.fullmatch(tag):
        return None
    if tag == "":
        return "the tag after ':' is empty"
    if len(tag) > 128:
        return f"the tag is {len(tag)} characters long; the limit is 128"
    if not _TAG_CHARS_RE.fullmatch(tag):
        bad = next(c for c in tag if not _TAG_CHARS_RE.fullmatch(c))
        hint = " (semver build metadata cannot be written in a tag)" if bad == "+" else ""
        return f"the tag {_quote(tag)} contains {bad!r}; tags use letters, digits, '_', '.' and '-'{hint}"
    return f"the tag {_quote(tag)} must start with a letter, a digit or '_'"


def _digest_problem(digest: str) -> str | None:
    """Why a runtime could not verify ``digest`` (see the module docstring for the algorithms), or None."""
    algorithm, colon, encoded = digest.partition(":")
    if not colon or not _DIGEST_ALGORITHM_RE.fullmatch(algorithm) or not encoded:
        return f"the digest {_quote(digest)} must be written algorithm:hex, e.g. sha256:<64 hex characters>"
    expected = _DIGEST_HEX_LENGTHS.get(algorithm)
    if expected is None:
        return f"the digest algorithm {_quote(algorithm)} is not supported; use sha256, sha384 or sha512"
    if not _HEX_RE.fullmatch(encoded):
        return f"the {algorithm} digest must be hexadecimal"
    if len(encoded) != expected:
        return f"a {algorithm} digest has exactly {expected} hex characters, not {len(encoded)}"
    if encoded.lower() != encoded:
        return f"the {algorithm} digest must be written in lower-case hex"
    return None


def _compose(domain: str | None, path: str, tag: str | None, digest: str | None) -> str:
    """Write a reference back from its parts."""
    text = f"{domain}/{path}" if domain is not None else path
    if tag is not None:
        text += f":{tag}"
    if digest is not None:
        text += f"@{digest}"
    return text


def _short_digest(digest: str) -> str:
    """``sha256:1a2b3c4d5e6f``: the algorithm and the first 12 hex characters, enough to tell images apart."""
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:SHORT_DIGEST_LEN]}"


def _quote(text: str, limit: int = 80) -> str:
    """Quote user text for a message, shortened so a pasted log line does not flood it."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _invalid(s: str, reason: str) -> ValidationError:
    """The error for an invalid reference, written for the person who typed it."""
    return ValidationError(f"Invalid image reference {_quote(s)}: {reason}.")
