"""Token encryption at rest: MultiFernet under RANCHERSYNC_SECRET_KEY or a 0600 key file, with key rotation."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ranchersync.config import Settings
from ranchersync.errors import BadInput


class SecretKeyError(BadInput):
    """The encryption keys are missing, malformed, or do not open a stored token."""


class TokenCipher:
    """Encrypts with the newest key and decrypts with any configured key."""

    def __init__(self, keys: list[str] | tuple[str, ...]) -> None:
        if not keys:
            raise SecretKeyError("no encryption key configured")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except (ValueError, TypeError):
            # Never echo the key material itself.
            raise SecretKeyError(
                "an encryption key is not a valid Fernet key (32 url-safe base64 bytes, as Fernet.generate_key() makes)"
            ) from None
        self.key_count = len(keys)

    def encrypt(self, token: str) -> bytes:
        """Encrypt a token under the newest key."""
        return self._fernet.encrypt(token.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        """Decrypt a stored token, raising SecretKeyError when no configured key opens it."""
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise SecretKeyError(
                "a stored token cannot be decrypted with the configured keys: was RANCHERSYNC_SECRET_KEY changed "
                "without keeping the old key after the new one?"
            ) from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt a stored token under the newest key."""
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken:
            raise SecretKeyError("a stored token cannot be decrypted with the configured keys") from None

    def __repr__(self) -> str:
        return f"TokenCipher(keys={self.key_count})"


def load_cipher(settings: Settings) -> TokenCipher:
    """The cipher from RANCHERSYNC_SECRET_KEY, or from the key file, creating it (mode 0600) on first start."""
    if settings.secret_keys:
        return TokenCipher(settings.secret_keys)
    return TokenCipher(_read_or_create_key_file(settings.key_file))


def _read_or_create_key_file(path: Path) -> list[str]:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting at once must not both write a key (one would lose its tokens).
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode() + "\n")
    keys = [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if not keys:
        raise SecretKeyError(f"the key file {path} holds no key")
    return keys
