"""Alert storm: 500 flows fire at once while Slack enforces its per-method rate limits with 429s.

    python -m benchmarks.alert_storm [--flows 500] [--teams 10] [--rate-limit-every 0] [--no-method-limits]

Prints the messages sent, duplicates and losses (both must be 0), and the time from the first
firing alert to the last delivery beside the bound Slack's limits set: one chat.postMessage per
second per channel, and chat.update / conversations.history at Tier 3 (50 per minute). Slack is
the local Web API server from the test suite, answering 429 with Retry-After whenever a method is
called faster than its limit (and, with --rate-limit-every n, every n-th call too); pacing and
Retry-After are real, so this runs in real time.
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlmodel import Session, col, select
from tests.support.slack_server import SlackServer

from benchmarks.synthetic import write_synthetic_model
from flowhealth.alerting.evaluator import Evaluator
from flowhealth.alerting.incidents import IncidentManager
from flowhealth.alerting.payload import Links
from flowhealth.clock import SystemClock
from flowhealth.metrics import Metrics
from flowhealth.notify.delivery import OutboxWorker
from flowhealth.notify.slack import SlackNotifier
from flowhealth.store.db import init_schema, make_engine, transaction
from flowhealth.store.samples import Reading, record_readings
from flowhealth.store.tables import Incident, OutboxMessage

# Seconds between calls Slack allows, per method (chat.postMessage: per channel). Tier 3 is
# 50 per minute, Tier 2 20 per minute (api.slack.com/apis/rate-limits).
METHOD_INTERVALS = {
    "chat.postMessage": 1.0,
    "chat.update": 60 / 50,
    "conversations.history": 60 / 50,
    "conversations.replies": 60 / 50,
    "conversations.list": 60 / 20,
}
PER_CHANNEL = {"chat.postMessage"}


class RateLimitingSlack(SlackServer):
    """Answers 429 with Retry-After when a method is called faster than Slack allows (and every n-th call)."""

    def __init__(self, channels: dict[str, str], every: int, method_limits: bool) -> None:
        super().__init__(channels)
        original = self.slack.handle
        self.rate_limited = Counter[str]()
        self.accepted = Counter[str]()  # calls taken, by method (chat.postMessage: by method and channel)
        next_free: dict[str, float] = {}
        count = Counter[str]()
        lock = threading.Lock()

        def handle(method: str, args: dict[str, object]) -> tuple[int, dict[str, object], dict[str, str]]:
            with lock:
                count["calls"] += 1
                key = f"{method}:{args.get('channel')}" if method in PER_CHANNEL else method
                now = time.monotonic()
                interval = METHOD_INTERVALS.get(method) if method_limits else None
                if interval is not None and now < next_free.get(key, 0.0):
                    self.rate_limited[method] += 1
                    wait = math.ceil(next_free[key] - now)
                    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
                if every and count["calls"] % every == 0:
                    self.rate_limited[method] += 1
                    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
                if interval is not None:
                    next_free[key] = now + interval
                self.accepted[key] += 1
            return original(method, args)

        self.slack.handle = handle  # type: ignore[method-assign]

    def bound_seconds(self) -> float:
        """The least time Slack's limits allow for the calls that were taken."""
        per_channel = [n for key, n in self.accepted.items() if key.startswith("chat.postMessage:")]
        bounds = [(max(per_channel, default=1) - 1) * METHOD_INTERVALS["chat.postMessage"]]
        for method in ("chat.update", "conversations.history", "conversations.replies"):
            bounds.append(max(self.accepted[method] - 1, 0) * METHOD_INTERVALS[method])
        return max(bounds)


def main() -> None:
    logging.disable(logging.WARNING)  # every 429 is logged; the numbers below say it all
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=500)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--rate-limit-every", type=int, default=0, help="also answer every n-th Slack call 429")
    parser.add_argument("--no-method-limits", action="store_true", help="do not enforce Slack's per-method rate limits")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = write_synthetic_model(root / "model", flows=args.flows, teams=args.teams)
        engine = make_engine(f"sqlite:///{root / 'state.db'}")
        init_schema(engine)
        clock = SystemClock()
        metrics = Metrics(CollectorRegistry())
        evaluator = Evaluator(
            model, engine, clock, metrics, IncidentManager(model, Links("http://fh", "http://grafana"))
        )
        channels = {f"C{t:08d}": f"team-{t:02d}" for t in range(args.teams)}
        with RateLimitingSlack(channels, args.rate_limit_every, not args.no_method_limits) as slack:
            worker = OutboxWorker(engine, SlackNotifier.from_token(slack.token, slack.base_url), clock, metrics)
            with transaction(engine) as session:
                for flow in model.flows:
                    record_readings(session, flow, "s00", [Reading(1800)], clock.now(), "push")
            started, first_firing = time.perf_counter(), time.time()
            evaluator.evaluate()
            evaluated = time.perf_counter() - started
            while True:
                worker.run_once()
                with Session(engine) as session:
                    left = len(
                        session.exec(select(OutboxMessage).where(col(OutboxMessage.delivered_at).is_(None))).all()
                    )
                if left == 0:
                    break
                time.sleep(0.05)
            total = time.perf_counter() - started
            with Session(engine) as session:
                incidents = session.exec(select(Incident)).all()
                queued = session.exec(select(OutboxMessage)).all()
            posted = [m for m in slack.slack.messages if m.thread_ts is None]
            replies = len(slack.slack.messages) - len(posted)
            edits = sum(m.edits for m in slack.slack.messages)
            last_delivery = max((m.received_at for m in slack.slack.messages), default=first_firing) - first_firing
            bound = slack.bound_seconds()
            keys = Counter(m.metadata["event_payload"]["dedup_key"] for m in posted if m.metadata)
            duplicates = sum(n - 1 for n in keys.values() if n > 1)
            expected = {q.dedup_key for q in queued if q.kind in ("open", "post")}
            lost = len(expected - set(keys))
            rate_limited = slack.rate_limited
    print(f"flows firing at once:            {args.flows} ({args.teams} teams)")
    print(f"incidents (after flood control): {len(incidents)}")
    print(f"evaluation of the storm:         {evaluated:.3f} s")
    print(f"Slack messages posted:           {len(posted)} (+ {replies} thread replies, {edits} edits)")
    print(f"first firing to last delivery:   {last_delivery:.1f} s  (bound set by Slack's limits: {bound:.1f} s)")
    print(f"outbox drained after:            {total:.1f} s")
    limited = ", ".join(f"{m} {n}" for m, n in sorted(rate_limited.items())) or "none"
    print(f"429 answers honoured:            {sum(rate_limited.values())} ({limited})")
    print(f"duplicates:                      {duplicates}  (must be 0)")
    print(f"losses:                          {lost}  (must be 0)")
    if duplicates or lost:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
