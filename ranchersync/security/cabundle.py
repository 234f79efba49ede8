"""CA bundles uploaded as PEM text, written once to a private file so ``requests`` can use them as ``verify=``."""

from __future__ import annotations

import atexit
import hashlib
import shutil
import ssl
import tempfile
import threading
from pathlib import Path

from ranchersync.kernel.errors import ValidationError

_ca_lock = threading.Lock()
_ca_dir: Path | None = None


def ca_bundle_file(pem: str) -> str:
    """Write PEM text to a file named after its hash (once per process) and return the path for ``verify=``.

    The directory is private to this process (``mkdtemp``, mode 0700), so nobody can plant another CA under
    the expected name; it is removed when the process exits.
    """
    global _ca_dir
    text = pem.strip()
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ValidationError("The CA bundle must be PEM text containing '-----BEGIN CERTIFICATE-----'.")
    try:
        # Load it once now: a damaged bundle would otherwise surface later as an obscure "PEM lib" TLS error.
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError) as exc:
        raise ValidationError(f"The CA bundle is not a readable PEM certificate ({exc.__class__.__name__}).") from None
    data = (text + "\n").encode()
    with _ca_lock:
        if _ca_dir is None:
            _ca_dir = Path(tempfile.mkdtemp(prefix="ranchersync-ca-"))
            atexit.register(shutil.rmtree, _ca_dir, ignore_errors=True)
        target = _ca_dir / f"{hashlib.sha256(data).hexdigest()[:32]}.pem"
        if not target.exists():
            partial = target.with_suffix(".tmp")
            partial.write_bytes(data)
            partial.replace(target)
    return str(target)
