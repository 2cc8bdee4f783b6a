"""One log filter that removes every secret value from every log record, libraries' included.

httpx logs each request's URL at INFO (`?key=...`), urllib3, pika and slack-sdk log requests,
headers or connection parameters at DEBUG, and any exception text may quote a credential. So the
filter sits on the root logger's handlers, where every record ends up whatever logger made it,
and rewrites the formatted message, the exception text and the stack of each record. The values
come from the running process: resolved `${ENV}` references of the model, tokens, signing secrets,
the state database's password.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

from .model.envref import MIN_SECRET_LENGTH

if TYPE_CHECKING:
    from .model.model import Model
    from .settings import Settings

MASK = "[redacted]"


def _forms(secret: str) -> set[str]:
    """The secret as written and as it appears inside a URL (a query string, a userinfo part)."""
    return {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}


class SecretFilter(logging.Filter):
    """Replaces each known secret value in a record by [redacted]; never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self._formatter = logging.Formatter()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Learn more values (the model's references are known only once it is loaded)."""
        known = set(self._secrets)
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH:
                known |= {form for form in _forms(secret) if len(form) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = tuple(sorted(known, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error report
            return True
        record.msg, record.args = self.redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install(secret_filter: SecretFilter, logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of `logger` (the root logger by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if secret_filter not in handler.filters:
            handler.addFilter(secret_filter)


def process_secrets(settings: Settings, model: Model, environ: Mapping[str, str]) -> frozenset[str]:
    """Every secret value this process holds: the model's `${ENV}` values, tokens, the database password."""
    from sqlalchemy.engine import make_url

    from .runtime_parts import model_secrets

    values = set(model_secrets(model, environ))
    for secret in (settings.api_token, settings.slack_bot_token, settings.slack_signing_secret):
        if secret is not None:
            values.add(secret.get_secret_value())
    try:
        password = make_url(settings.database_url).password
    except Exception:  # an unusable URL is reported by the store; nothing to learn from it here
        password = None
    if password:
        values.add(str(password))
    return frozenset(values)
