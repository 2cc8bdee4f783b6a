"""Alert storm: 500 flows fire at once while Slack answers 429 with Retry-After.

    python -m benchmarks.alert_storm [--flows 500] [--teams 10] [--rate-limit-every 3]

Prints the time until the last notification is delivered, messages sent, duplicates and losses
(both must be 0). Slack is the local Web API server from the test suite; pacing (one message per
second per channel) and Retry-After are real, so this runs in real time.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
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


class RateLimitingSlack(SlackServer):
    """Every n-th call answers 429 with Retry-After: 1."""

    def __init__(self, channels: dict[str, str], every: int) -> None:
        super().__init__(channels)
        original = self.slack.handle
        self.rate_limited = 0
        count = Counter[str]()

        def handle(method: str, args: dict[str, object]) -> tuple[int, dict[str, object], dict[str, str]]:
            count["calls"] += 1
            if every and count["calls"] % every == 0:
                self.rate_limited += 1
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
            return original(method, args)

        self.slack.handle = handle  # type: ignore[method-assign]


def main() -> None:
    logging.disable(logging.WARNING)  # every 429 is logged; the numbers below say it all
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=500)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--rate-limit-every", type=int, default=3, help="every n-th Slack call gets a 429")
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
        with RateLimitingSlack(channels, args.rate_limit_every) as slack:
            worker = OutboxWorker(engine, SlackNotifier.from_token(slack.token, slack.base_url), clock, metrics)
            with transaction(engine) as session:
                for flow in model.flows:
                    record_readings(session, flow, "s00", [Reading(1800)], clock.now(), "push")
            started = time.perf_counter()
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
            keys = Counter(m.metadata["event_payload"]["dedup_key"] for m in posted if m.metadata)
            duplicates = sum(n - 1 for n in keys.values() if n > 1)
            expected = {q.dedup_key for q in queued if q.kind in ("open", "post")}
            lost = len(expected - set(keys))
            rate_limited = slack.rate_limited
    print(f"flows firing at once:            {args.flows} ({args.teams} teams)")
    print(f"incidents (after flood control): {len(incidents)}")
    print(f"evaluation of the storm:         {evaluated:.3f} s")
    print(f"time to last delivery:           {total:.1f} s")
    print(f"Slack messages posted:           {len(posted)}")
    print(f"429 answers honoured:            {rate_limited}")
    print(f"duplicates:                      {duplicates}  (must be 0)")
    print(f"losses:                          {lost}  (must be 0)")
    if duplicates or lost:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
