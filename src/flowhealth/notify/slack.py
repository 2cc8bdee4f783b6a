"""Slack delivery over the Web API (slack-sdk): post once, then edit in place and reply in thread.

Slack's chat.postMessage is not idempotent. When an earlier attempt may have reached Slack
(a timeout, a 5xx, a crash after sending), we look for our own message first: every message
carries Slack message metadata with its outbox dedup key, and conversations.history /
conversations.replies return that metadata. Only when it is absent do we post again.

slack-sdk's own retry handlers are switched off: retrying a post inside the client could
duplicate it, and 429's Retry-After is honoured by the outbox without blocking the worker.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from ..alerting.enums import NoticeKind
from ..errors import DeliveryRejected, DeliveryRetryable
from ..settings import Settings
from ..store.outbox import ThreadRef
from .base import Delivery
from .blocks import fallback_text, incident_blocks
from .mrkdwn import esc_text
from .wording import message_text, thread_text

log = logging.getLogger(__name__)

METADATA_EVENT = "flowhealth_notification"
# Errors that retrying cannot fix without someone changing configuration.
_PERMANENT = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_blocks",
    "msg_too_long",
    "invalid_arguments",
    "restricted_action",
}
LOOKBACK = timedelta(days=2)
# chat.update errors that no retry fixes: the incident moves to a fresh message.
_CANNOT_EDIT = {"message_not_found", "cant_update_message", "channel_not_found", "is_archived", "edit_window_closed"}
_GONE = {"message_not_found", "channel_not_found"}  # nothing left to link to


class SlackNotifier:
    """Delivers alert messages to team channels through the Slack Web API."""

    min_interval_per_channel = 1.0

    def __init__(self, client: WebClient) -> None:
        client.retry_handlers = []
        self._client = client
        self._channel_ids: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_token(cls, token: str, base_url: str, timeout: int = 10) -> SlackNotifier:
        return cls(WebClient(token=token, base_url=base_url, timeout=timeout))

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackNotifier | None:
        """A notifier with the configured bot token, or None when no token is set."""
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        return cls.from_token(token, settings.slack_base_url) if token else None

    def deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        try:
            return self._deliver(delivery, thread)
        except SlackApiError as exc:
            raise _map_api_error(exc) from None
        except ConnectionRefusedError as exc:
            raise DeliveryRetryable(f"Slack unreachable: {type(exc).__name__}", maybe_sent=False) from None
        except urllib.error.URLError as exc:
            refused = isinstance(exc.reason, ConnectionRefusedError)
            raise DeliveryRetryable(f"Slack unreachable: {type(exc).__name__}", maybe_sent=not refused) from None
        except (ConnectionError, TimeoutError, SlackClientError) as exc:
            raise DeliveryRetryable(f"Slack unreachable: {type(exc).__name__}") from None

    def upload(self, channel: str, *, text: str, filename: str, content: str, title: str) -> str:
        """Post a file to a channel with a message (files_upload_v2); returns the file id."""
        try:
            response = self._client.files_upload_v2(
                channel=self._channel_id(channel),
                content=content,
                filename=filename,
                title=title,
                initial_comment=text,
            )
        except SlackApiError as exc:
            raise _map_api_error(exc) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError, SlackClientError) as exc:
            raise DeliveryRetryable(f"Slack unreachable: {type(exc).__name__}") from None
        return str(response["file"]["id"])

    def _deliver(self, delivery: Delivery, thread: ThreadRef | None) -> ThreadRef:
        message = delivery.message
        if delivery.kind == NoticeKind.POST or message.view is None:
            return self._post_once(delivery.channel, delivery, text=esc_text(message_text(message)))
        view = message.view
        text, blocks = fallback_text(view), incident_blocks(view)
        if delivery.kind == "open" or thread is None or thread.channel_id == "console":
            return self._post_once(delivery.channel, delivery, text=text, blocks=blocks)
        try:
            self._client.chat_update(channel=thread.channel_id, ts=thread.message_ts, text=text, blocks=blocks)
        except SlackApiError as exc:
            error = _error_of(exc)
            if error not in _CANNOT_EDIT:
                raise
            thread = self._reanchor(delivery, thread, error, text=text, blocks=blocks)
        line = thread_text(message)
        if line:
            line = esc_text(line)
            self._post_once(thread.channel_id, delivery, text=line, thread_ts=thread.message_ts)
        return thread

    def _reanchor(self, delivery: Delivery, old: ThreadRef, error: str, **content: Any) -> ThreadRef:
        """The incident's message cannot be edited any more: post it afresh and make that the anchor.

        Deleted by someone, its channel archived, or forgotten by Slack: the incident's later
        messages must not wait behind an edit that can never succeed. The thread says why, and
        links the old message when it still exists.
        """
        anchor = Delivery(
            dedup_key=f"{delivery.dedup_key}:reanchor",
            thread_key=delivery.thread_key,
            kind=NoticeKind.OPEN,
            channel=delivery.channel,
            message=delivery.message,
            attempt=delivery.attempt,
            receiver=delivery.receiver,
            maybe_sent=delivery.maybe_sent,
        )
        fresh = self._post_once(delivery.channel, anchor, **content)
        where = "" if error in _GONE else f" (<{_permalink(old)}|previous message>)"
        note = Delivery(**{**anchor.__dict__, "dedup_key": f"{delivery.dedup_key}:reanchor-note"})
        self._post_once(
            fresh.channel_id,
            note,
            text=f"This is now the message of incident #{delivery.message.view.incident if delivery.message.view else '?'}:"
            f" the previous one could not be edited ({error}){where}.",
            thread_ts=fresh.message_ts,
        )
        return fresh

    def _post_once(
        self, channel: str, delivery: Delivery, *, thread_ts: str | None = None, **content: Any
    ) -> ThreadRef:
        if delivery.maybe_sent:
            found = self._look_for(channel, delivery.dedup_key, thread_ts)
            if found is not None:
                return found if thread_ts is None else ThreadRef(found.channel_id, thread_ts)
        response = self._client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            metadata={
                "event_type": METADATA_EVENT,
                "event_payload": {"dedup_key": delivery.dedup_key},
            },
            **content,
        )
        return ThreadRef(str(response["channel"]), str(thread_ts or response["ts"]))

    def _look_for(self, channel: str, dedup_key: str, thread_ts: str | None) -> ThreadRef | None:
        """Our message from an earlier attempt, if Slack has it; None also when we may not look.

        When the history cannot be read (a private channel without groups:history, a missing
        scope), posting again risks a duplicate, and not posting risks losing the alert: a
        duplicate is the lesser harm. A rate-limited lookup waits and looks again.
        """
        try:
            return self._find_posted(channel, dedup_key, thread_ts)
        except SlackApiError as exc:
            mapped = _map_api_error(exc)
            if isinstance(mapped, DeliveryRetryable) and not mapped.maybe_sent:
                raise DeliveryRetryable(str(mapped), retry_after=mapped.retry_after) from None  # still ambiguous
            log.warning("could not look for %s in %s (%s); posting again", dedup_key, channel, _error_of(exc))
            return None
        except DeliveryRejected as exc:
            log.warning("could not look for %s (%s); posting again", dedup_key, exc)
            return None

    def _find_posted(self, channel: str, dedup_key: str, thread_ts: str | None) -> ThreadRef | None:
        channel_id = self._channel_id(channel)
        oldest = f"{(datetime.now(UTC) - LOOKBACK).timestamp():.6f}"
        cursor: str | None = None
        while True:
            if thread_ts is None:
                page = self._client.conversations_history(
                    channel=channel_id,
                    oldest=oldest,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            else:
                page = self._client.conversations_replies(
                    channel=channel_id,
                    ts=thread_ts,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            message: dict[str, Any]
            for message in page.get("messages", []):
                metadata: dict[str, Any] = message.get("metadata") or {}
                if metadata.get("event_payload", {}).get("dedup_key") == dedup_key:
                    return ThreadRef(channel_id, str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None

    def _channel_id(self, channel: str) -> str:
        if not channel.startswith("#"):
            return channel
        with self._lock:
            if channel in self._channel_ids:
                return self._channel_ids[channel]
        cursor: str | None = None
        while True:
            page = self._client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=1000,
                cursor=cursor,
            )
            item: dict[str, Any]
            for item in page.get("channels", []):
                with self._lock:
                    self._channel_ids[f"#{item['name']}"] = str(item["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if channel in self._channel_ids or not cursor:
                break
        if channel not in self._channel_ids:
            raise DeliveryRejected(f"channel {channel} not found (is the bot invited?)")
        return self._channel_ids[channel]


def _error_of(exc: SlackApiError) -> str:
    data = exc.response.data
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _permalink(ref: ThreadRef) -> str:
    return f"https://slack.com/archives/{ref.channel_id}/p{ref.message_ts.replace('.', '')}"


def _method(response: Any) -> str:
    url = str(getattr(response, "api_url", "") or "")
    return url.rstrip("/").rsplit("/", 1)[-1] or "the Web API"


def _map_api_error(exc: SlackApiError) -> Exception:
    response = exc.response
    status = getattr(response, "status_code", 200)
    error = str((response.data or {}).get("error", "")) if isinstance(response.data, dict) else ""
    if status == 429 or error == "ratelimited":
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        raw = headers.get("retry-after")
        value = raw[0] if isinstance(raw, list) else raw
        retry_after = float(value) if value and str(value).replace(".", "", 1).isdigit() else None
        method = _method(response)
        return DeliveryRetryable(f"Slack rate limit on {method}", retry_after=retry_after, maybe_sent=False)
    if status >= 500:
        return DeliveryRetryable(f"Slack answered HTTP {status}")
    if error in _PERMANENT:
        return DeliveryRejected(f"Slack rejected the message: {error}")
    return DeliveryRetryable(f"Slack error: {error or status}")
