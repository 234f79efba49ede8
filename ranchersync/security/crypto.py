"""Token encryption at rest (MultiFernet, newest key first) and the key file: read safely, created atomically.

Whether a key file may be created at all depends on the database (a new key beside old ciphertexts loses them):
that decision is `ranchersync.security.keys.load_cipher`'s, not this module's.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import os
import stat
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ranchersync.kernel.errors import BadInput

# How long a reader waits for a key file that another process has just created and not yet written.
EMPTY_FILE_WAIT_SECONDS = 3.0
_POLL_SECONDS = 0.05

KEY_FILE_HEADER = (
    "# Rancher Sync Manager: the Fernet key(s) that encrypt the stored Rancher tokens.\n"
    "# Keep a copy: without it the tokens cannot be read. One key per line, newest first; lines after the first\n"
    "# still decrypt (rotation: `python -m ranchersync keys generate`, put it first, then `keys rotate`).\n"
)


class SecretKeyError(BadInput):
    """The encryption keys are missing, malformed, unsafe, or do not open the stored data."""


class TokenCipher:
    """Encrypts with the newest key and decrypts with any configured key."""

    def __init__(self, keys: list[str] | tuple[str, ...], source: str = "the configured keys") -> None:
        if not keys:
            raise SecretKeyError("no encryption key configured")
        self._fernets = [_fernet(key, f"key {index} of {source}") for index, key in enumerate(keys, start=1)]
        self._raw = [base64.urlsafe_b64decode(key) for key in keys]  # valid: each made a Fernet above
        self._fernet = MultiFernet(self._fernets)
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

    def opens(self, ciphertext: bytes) -> bool:
        """Whether any configured key decrypts this ciphertext."""
        return self.opening_key(ciphertext) is not None

    def opening_key(self, ciphertext: bytes) -> int | None:
        """The position (0 = newest) of the first configured key that decrypts this ciphertext, or None."""
        for index, fernet in enumerate(self._fernets):
            try:
                fernet.decrypt(ciphertext)
            except InvalidToken:
                continue
            return index
        return None

    def encrypt_with(self, index: int, plaintext: str) -> bytes:
        """Encrypt under the key at this position (0 = newest); for a check value that must match older data."""
        return self._fernets[index].encrypt(plaintext.encode())

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt a stored token under the newest key."""
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken:
            raise SecretKeyError("a stored token cannot be decrypted with the configured keys") from None

    def derived_keys(self, purpose: bytes) -> list[bytes]:
        """One key per configured key (newest first) for another purpose than encryption: HMAC-SHA256 of the
        purpose under the key, so a signature made with the newest key still verifies after a rotation keeps it."""
        return [hmac.new(raw, purpose, hashlib.sha256).digest() for raw in self._raw]

    def newest_only(self) -> TokenCipher:
        """A cipher holding only the newest key: what remains once the older keys are dropped."""
        clone = object.__new__(TokenCipher)
        clone._fernets = self._fernets[:1]
        clone._raw = self._raw[:1]
        clone._fernet = MultiFernet(clone._fernets)
        clone.key_count = 1
        return clone

    def __repr__(self) -> str:
        return f"TokenCipher(keys={self.key_count})"


def _fernet(key: str, where: str) -> Fernet:
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        # Never echo the key material itself.
        raise SecretKeyError(
            f"{where} is not a valid Fernet key (32 url-safe base64 bytes, as "
            "`python -m ranchersync keys generate` or Fernet.generate_key() makes)"
        ) from None


def generate_key() -> str:
    """A new random Fernet key."""
    return Fernet.generate_key().decode()


def parse_keys(text: str, source: str) -> list[str]:
    """The keys of a key file's text: one per line, newest first; blank lines and `#` comment lines ignored."""
    keys: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        _fernet(line, f"line {number} of {source}")  # validated here so the message can say where
        keys.append(line)
    return keys


def read_key_file(path: Path, wait_seconds: float | None = None) -> list[str]:
    """The keys in a key file that exists, refusing one that others can read; waits briefly while it is empty.

    Raises:
        SecretKeyError: a dangling symlink, an unreadable or unsafe file, a file without a key, a malformed key.
    """
    if path.is_symlink() and not path.exists():
        raise SecretKeyError(
            f"the key file {path} is a symbolic link to {os.readlink(path)}, which does not exist: restore the "
            "target (is a volume missing?) or set RANCHERSYNC_KEY_FILE or RANCHERSYNC_SECRET_KEY; no new key is "
            "made in its place"
        )
    deadline = time.monotonic() + (EMPTY_FILE_WAIT_SECONDS if wait_seconds is None else wait_seconds)
    while True:
        text, mode = _read(path)
        if os.name == "posix" and mode & 0o077:
            raise SecretKeyError(
                f"the key file {path} can be read by other users (mode {stat.S_IMODE(mode):04o}): "
                f"run `chmod 600 {path}`"
            )
        if text.strip():
            break
        # Another process created it a moment ago (O_EXCL) and is still writing: wait, never overwrite.
        if time.monotonic() >= deadline:
            raise SecretKeyError(
                f"the key file {path} is empty: put the key in it, or remove it on a database that holds no "
                "encrypted token yet"
            )
        time.sleep(_POLL_SECONDS)
    keys = parse_keys(text, str(path))
    if not keys:
        raise SecretKeyError(f"the key file {path} holds no key (only comments or blank lines)")
    return keys


def _read(path: Path) -> tuple[str, int]:
    try:
        with path.open("r", encoding="ascii") as handle:
            mode = os.fstat(handle.fileno()).st_mode  # of what was opened, not of a name that may change
            if not stat.S_ISREG(mode):
                raise SecretKeyError(f"the key file {path} is not a regular file")
            return handle.read(), mode
    except UnicodeDecodeError:
        raise SecretKeyError(f"the key file {path} is not a text file of Fernet keys") from None
    except IsADirectoryError:
        raise SecretKeyError(f"the key file {path} is a folder, not a file") from None
    except PermissionError:
        raise SecretKeyError(f"the key file {path} cannot be read by this user (permission denied)") from None
    except FileNotFoundError:
        raise SecretKeyError(f"the key file {path} does not exist") from None
    except OSError as error:
        raise SecretKeyError(f"the key file {path} cannot be read: {error.strerror}") from None


def create_key_file(path: Path) -> list[str]:
    """Write a new key file (mode 0600) unless one exists; returns the keys it then holds (ours or the winner's).

    The file appears with its content in one step (a private temporary file hard-linked into place, which fails if
    the name exists), so a concurrent reader never sees it half-written. Where hard links are not supported it
    falls back to O_CREAT|O_EXCL, and readers wait for content (`read_key_file`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    content = KEY_FILE_HEADER + generate_key() + "\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: its key is the one
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            _create_exclusive(path, content)
    except OSError as error:
        raise SecretKeyError(f"cannot create the key file {path}: {error.strerror}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return read_key_file(path)


def _create_exclusive(path: Path, content: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(content)
