"""What can go wrong with a registry, each with the words a user acts on (kernel.errors' families)."""

from __future__ import annotations

from ranchersync.kernel.errors import NotFoundError, OperationFailed


class RegistryError(OperationFailed):
    """A registry could not answer the question: unreachable, refused, or answered with something unusable."""

    kind = "registry"
    default_title = "The registry could not be read"
    default_hint = "Check the registry's address and credentials with `registries test HOST`."


class RegistryUnavailable(RegistryError):
    """The registry did not answer (connection, TLS, deadline, host policy, rate limit)."""

    kind = "registry_unavailable"
    default_title = "The registry cannot be reached"
    default_hint = ("The plan goes on without its check; `registries test HOST` says what fails. A host refused by "
                    "the host policy needs RANCHERSYNC_ALLOWED_HOSTS.")


class RegistryAuthFailed(RegistryError):
    """The registry (or its token realm) refused the credentials, or wants some and none are stored."""

    kind = "registry_auth"
    default_title = "The registry refused the credentials"
    default_hint = ("Store credentials with `registries add --host HOST --username U --password-env VAR`; a token "
                    "needs pull access to the repository.")


class RegistryAnswerRefused(RegistryError):
    """An answer the tool will not use: too large, not JSON, a redirect elsewhere, a digest that does not match."""

    kind = "registry_answer"
    default_title = "The registry's answer was refused"
    default_hint = "Is the host a registry (OCI Distribution v2)? Nothing was changed."


class ImageNotInRegistry(NotFoundError):
    """The registry answered: this repository or tag does not exist."""

    kind = "image_not_found"
    default_title = "Not in the registry"
    default_hint = "Check the tag: was it pushed? A typo here would end in ImagePullBackOff after the patch."
