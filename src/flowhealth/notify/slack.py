"""Slack delivery over the Web API (slack-sdk): post once, then edit in place and reply in thread.

Slack's chat.postMessage is not idempotent. When an earlier attempt may have reached Slack
(a timeout, a 5xx, a crash after sending), we look for our own message first: every message
carries Slack message metadata with its outbox dedup key, and conversations.history /
conversations.replies return that metadata. Only when it is absent do we post again.

slack-sdk's own retry handlers are switched off: retrying a post inside the client could
duplicate it, and 429's Retry-After is honoured by the outbox without blocking the worker.
"""

from __future__ import annotations

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
from .wording import message_text, thread_text

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
        except (urllib.error.URLError, ConnectionError, TimeoutError, SlackClientError) as exc:
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
            return self._post_once(delivery.channel, delivery, text=message_text(message))
        view = message.view
        text, blocks = fallback_text(view), incident_blocks(view)
        if delivery.kind == "open" or thread is None or thread.channel_id == "console":
            return self._post_once(delivery.channel, delivery, text=text, blocks=blocks)
        self._client.chat_update(channel=thread.channel_id, ts=thread.message_ts, text=text, blocks=blocks)
        line = thread_text(message)
        if line:
            self._post_once(thread.channel_id, delivery, text=line, thread_ts=thread.message_ts)
        return thread

    def _post_once(
        self, channel: str, delivery: Delivery, *, thread_ts: str | None = None, **content: Any
    ) -> ThreadRef:
        if delivery.attempt > 1:
            found = self._find_posted(channel, delivery.dedup_key, thread_ts)
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


def _map_api_error(exc: SlackApiError) -> Exception:
    response = exc.response
    status = getattr(response, "status_code", 200)
    error = str((response.data or {}).get("error", "")) if isinstance(response.data, dict) else ""
    if status == 429 or error == "ratelimited":
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        raw = headers.get("retry-after")
        value = raw[0] if isinstance(raw, list) else raw
        retry_after = float(value) if value and str(value).replace(".", "", 1).isdigit() else None
        return DeliveryRetryable("Slack rate limit", retry_after=retry_after)
    if status >= 500:
        return DeliveryRetryable(f"Slack answered HTTP {status}")
    if error in _PERMANENT:
        return DeliveryRejected(f"Slack rejected the message: {error}")
    return DeliveryRetryable(f"Slack error: {error or status}")
