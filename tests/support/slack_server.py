"""A local HTTP server that speaks the parts of the Slack Web API flowhealth uses.

slack-sdk talks to it through `base_url`. It keeps channels and messages (with metadata) like
Slack does, and can be told to fail: answer HTTP 500 (optionally *after* storing the message,
the ambiguous case), 429 with Retry-After, or drop the connection.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    metadata: dict[str, Any] | None
    edits: int = 0
    files: list[str] = field(default_factory=list)
    # When the server stored the message (epoch seconds): for latency measurements.
    received_at: float = field(default_factory=time.time)


@dataclass
class UploadedFile:
    """A file uploaded with files.getUploadURLExternal + POST + files.completeUploadExternal."""

    id: str
    filename: str
    content: bytes = b""
    title: str | None = None
    channel: str | None = None


@dataclass
class FakeSlack:
    channels: dict[str, str] = field(default_factory=dict)  # id -> name
    messages: list[Message] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Queue of failures for upcoming calls: ("500", method|None), ("500-after-store", ...), ("429", seconds)
    failures: deque[tuple[str, Any]] = field(default_factory=deque)
    down: bool = False
    # Seconds to hold each chat.postMessage answer after storing the message (a slow or stuck Slack).
    post_delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    base_url: str = ""
    private: set[str] = field(default_factory=set)  # channel ids that are private
    history_scope: bool = True  # False: the bot lacks groups:history for private channels
    not_member: set[str] = field(default_factory=set)  # channel ids the bot was not invited to
    views: list[dict[str, Any]] = field(default_factory=list)  # modals opened with views.open
    used_triggers: set[str] = field(default_factory=set)
    _seq: int = 0

    def delete(self, ts: str) -> None:
        """Someone deleted the bot's message (and Slack forgets its thread)."""
        with self.lock:
            self.messages = [m for m in self.messages if m.ts != ts]

    def channel_id(self, name_or_id: str) -> str | None:
        if name_or_id in self.channels:
            return name_or_id
        name = name_or_id.lstrip("#")
        for cid, cname in self.channels.items():
            if cname == name:
                return cid
        return None

    def top_level(self, channel_name: str) -> list[Message]:
        cid = self.channel_id(channel_name)
        return [m for m in self.messages if m.channel == cid and m.thread_ts is None]

    def replies(self, ts: str) -> list[Message]:
        return [m for m in self.messages if m.thread_ts == ts]

    def handle(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            self.calls.append((method, args))
            if self.down:
                return 503, {"ok": False, "error": "service_unavailable"}, {}
            store_then_fail = False
            if self.failures:
                kind, arg = self.failures[0]
                if kind == "429":
                    self.failures.popleft()
                    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(arg)}
                if kind == "429-method" and arg[1] == method:  # ("429-method", (seconds, "chat.update"))
                    self.failures.popleft()
                    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(arg[0])}
                if kind == "500" and (arg is None or arg == method):
                    self.failures.popleft()
                    return 500, {"ok": False, "error": "internal_error"}, {}
                if kind == "500-after-store" and method == "chat.postMessage":
                    self.failures.popleft()
                    store_then_fail = True
            status, body = self._dispatch(method, args)
            if store_then_fail:
                return 500, {"ok": False, "error": "internal_error"}, {}
            return status, body, {}

    def _dispatch(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "chat.postMessage":
            cid = self.channel_id(str(args.get("channel", "")))
            if cid is None:
                return 200, {"ok": False, "error": "channel_not_found"}
            if cid in self.not_member:
                return 200, {"ok": False, "error": "not_in_channel"}
            self._seq += 1
            ts = f"{int(time.time())}.{self._seq:06d}"
            metadata = args.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            blocks = args.get("blocks") or []
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            message = Message(cid, ts, str(args.get("text", "")), blocks, args.get("thread_ts"), metadata)
            self.messages.append(message)
            return 200, {"ok": True, "channel": cid, "ts": ts, "message": {"text": message.text}}
        if method == "chat.update":
            for message in self.messages:
                if message.channel == args.get("channel") and message.ts == args.get("ts"):
                    blocks = args.get("blocks") or []
                    message.blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
                    message.text = str(args.get("text", ""))
                    message.edits += 1
                    return 200, {"ok": True, "channel": message.channel, "ts": message.ts}
            return 200, {"ok": False, "error": "message_not_found"}
        if method == "conversations.list":
            chans = [{"id": cid, "name": name} for cid, name in sorted(self.channels.items())]
            return 200, {"ok": True, "channels": chans, "response_metadata": {"next_cursor": ""}}
        if method in ("conversations.history", "conversations.replies"):
            cid = args.get("channel")
            if cid in self.private and not self.history_scope:
                return 200, {"ok": False, "error": "missing_scope", "needed": "groups:history"}
            if method == "conversations.history":
                found = [m for m in self.messages if m.channel == cid and m.thread_ts is None]
            else:
                root = str(args.get("ts"))
                found = [m for m in self.messages if m.channel == cid and (m.ts == root or m.thread_ts == root)]
            include = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
            out = [
                {"ts": m.ts, "text": m.text, **({"metadata": m.metadata} if include and m.metadata else {})}
                for m in reversed(found)
            ]
            return 200, {"ok": True, "messages": out, "has_more": False, "response_metadata": {"next_cursor": ""}}
        if method == "files.getUploadURLExternal":
            self._seq += 1
            file_id = f"F{self._seq:08d}"
            self.files[file_id] = UploadedFile(file_id, str(args.get("filename", "")))
            return 200, {"ok": True, "file_id": file_id, "upload_url": f"{self.base_url}upload/{file_id}"}
        if method == "files.completeUploadExternal":
            return self._complete_upload(args)
        if method == "views.open":
            return self._open_view(args)
        if method == "auth.test":
            return 200, {"ok": True, "user_id": "UBOT", "team_id": "T1"}
        return 200, {"ok": False, "error": "unknown_method"}

    def _complete_upload(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        listed = args.get("files") or "[]"
        entries = json.loads(listed) if isinstance(listed, str) else listed
        cid = self.channel_id(str(args.get("channel_id", "")))
        if args.get("channel_id") and cid is None:
            return 200, {"ok": False, "error": "channel_not_found"}
        shared = []
        for entry in entries:
            uploaded = self.files.get(entry["id"])
            if uploaded is None or not uploaded.content:
                return 200, {"ok": False, "error": "file_not_found"}
            uploaded.title, uploaded.channel = entry.get("title"), cid
            shared.append({"id": uploaded.id, "name": uploaded.filename, "title": uploaded.title})
        if cid is not None:
            self._seq += 1
            ts = f"{int(time.time())}.{self._seq:06d}"
            text = str(args.get("initial_comment", ""))
            self.messages.append(Message(cid, ts, text, [], None, None, files=[f["id"] for f in shared]))
        return 200, {"ok": True, "files": shared}

    def _open_view(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Like Slack: a trigger_id opens one modal; the view must be a valid modal."""
        trigger = str(args.get("trigger_id") or "")
        view = args.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        if not trigger:
            return 200, {"ok": False, "error": "invalid_arguments"}
        if trigger in self.used_triggers:
            return 200, {"ok": False, "error": "expired_trigger_id"}
        if not isinstance(view, dict) or view.get("type") != "modal":
            return 200, {"ok": False, "error": "invalid_arguments"}
        title = view.get("title", {}).get("text", "")
        if not title or len(title) > 24 or len(view.get("blocks", [])) > 100:
            return 200, {"ok": False, "error": "invalid_arguments"}
        if len(str(view.get("private_metadata", ""))) > 3000:
            return 200, {"ok": False, "error": "invalid_arguments"}
        self.used_triggers.add(trigger)
        self._seq += 1
        stored = {**view, "id": f"V{self._seq:08d}", "trigger_id": trigger}
        self.views.append(stored)
        return 200, {"ok": True, "view": stored}

    def receive_upload(self, file_id: str, data: bytes) -> int:
        with self.lock:
            uploaded = self.files.get(file_id)
            if uploaded is None:
                return 404
            uploaded.content = data
            return 200


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.startswith("/api/upload/"):
            # Upload URLs carry their own authorisation, as Slack's do: no bearer token here.
            status = self.server.slack.receive_upload(self.path.rsplit("/", 1)[-1], body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")
            return
        raw = body.decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            args = json.loads(raw or "{}")
        else:
            args = {k: v[0] for k, v in parse_qs(raw).items()}
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            self._send(200, {"ok": False, "error": "invalid_auth"}, {})
            return
        method = self.path.rsplit("/", 1)[-1]
        status, answer, headers = self.server.slack.handle(method, args)
        if method == "chat.postMessage" and self.server.slack.post_delay:
            time.sleep(self.server.slack.post_delay)
        self._send(status, answer, headers)

    do_GET = do_POST

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, slack: FakeSlack, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.slack = slack
        self.token = token


class SlackServer:
    """Context manager running a FakeSlack on a free local port."""

    def __init__(self, channels: dict[str, str], token: str = "xoxb-test-token") -> None:
        self.slack = FakeSlack(channels=dict(channels))
        self.token = token
        self._server = _Server(self.slack, token)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.slack.base_url = self.base_url

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def __enter__(self) -> SlackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
