"""Development mode: literal credentials in URLs of local services, allowed with a warning.

`amqp://guest:guest@localhost` is how every broker ships; refusing it makes the first hour
with flowhealth a fight. Production stays strict: only with FLOWHEALTH_DEV=1 (or
`flowhealth validate --dev`), and only for hosts on this machine.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

log = logging.getLogger("flowhealth.model")

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def development_mode() -> bool:
    """FLOWHEALTH_DEV is set to 1, true or yes."""
    return os.environ.get("FLOWHEALTH_DEV", "").strip().lower() in ("1", "true", "yes")


def allowed_in_development(url: str) -> bool:
    """A literal credential in `url` is acceptable: development mode and a local host (warns once per URL)."""
    if not development_mode():
        return False
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host not in LOCAL_HOSTS:
        return False
    # Never the URL itself in the log: it holds the password.
    log.warning("a connection to %s holds a literal password; allowed only because FLOWHEALTH_DEV is set", host)
    return True
