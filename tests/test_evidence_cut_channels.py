"""Teams and email say how many evidence rows were left out, as Slack does.

The reconcile probe finds 25 failing payments and keeps 20; the alert goes through the real
outbox worker to the local Teams Workflows endpoint and SMTP server. A card shows 10 rows and a
mail 20, and each says how many more there are, counting the payments the probe did not keep.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from flowhealth.clock import FakeClock
from flowhealth.model import load_model
from flowhealth.notify.console import ConsoleNotifier
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from tests.support.http_stub import serve
from tests.support.models import TEAMS
from tests.support.reconcile_stack import FAILING, FIRST_KEYS, finance_db, write_settlement_model
from tests.support.smtp_server import Mailbox, smtp_server
from tests.support.teams_server import FakeTeams

CARD_ROWS, MAIL_ROWS = 10, 20

RECEIVERS = """\
    receivers:
      teams:
        kind: teams
        url: ${TEAMS_SHOP_URL}
      mail:
        kind: email
        to: [finance@example.com]
        from: flowhealth@example.com
        smtp:
          host: 127.0.0.1
          port: SMTP_PORT
          username: ${SMTP_USER}
          password: ${SMTP_PASSWORD}
"""


@dataclass
class Received:
    teams: FakeTeams
    mailbox: Mailbox


@pytest.fixture
def received(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Received]:
    teams = FakeTeams()
    with serve(teams.handle) as teams_url, smtp_server(tmp_path) as (mailbox, smtp_port, ca_file):
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        root = tmp_path / "m"
        write_settlement_model(root, finance_db(tmp_path / "finance.db"))
        team = '    oncall: "@shop-oncall"\n'
        (root / "flows" / "teams.yaml").write_text(
            TEAMS.replace(team, team + RECEIVERS.replace("SMTP_PORT", str(smtp_port)), 1)
        )
        pacing = [0.0]
        runtime = Runtime.build(
            Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}"),
            load_model(root),
            clock=clock,
            registry=CollectorRegistry(),
            notifier=ConsoleNotifier(lambda _: None),
            environ={
                "TEAMS_SHOP_URL": f"{teams_url}/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=S",
                "SMTP_USER": mailbox.username,
                "SMTP_PASSWORD": mailbox.password,
            },
            pacing_clock=lambda: pacing[0],
        )
        try:
            assert runtime.runner.run("settlement", "mismatched").error is None
            clock.advance(30)
            runtime.evaluate_and_deliver()
            for _ in range(4):  # past the pacing between a receiver's messages
                pacing[0] += 5.0
                clock.advance(1)
                runtime.worker.run_once()
            yield Received(teams, mailbox)
        finally:
            runtime.stop()


def test_the_teams_card_says_how_many_payments_it_does_not_list(received: Received) -> None:
    assert len(received.teams.cards) == 1 and received.teams.rejected == []  # a valid Adaptive Card
    texts = received.teams.texts()
    assert f"{FAILING - CARD_ROWS} more rows" in texts
    assert FIRST_KEYS[1] in texts and "PAY-013" not in texts  # the 11th key is one of those counted


def test_the_mail_says_how_many_payments_it_does_not_list(received: Received) -> None:
    [mail] = received.mailbox.mails
    assert isinstance(mail, EmailMessage)
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    # The probe kept 20 of the 25; the mail lists all 20 and counts the 5 it never had.
    assert plain.get_content().rstrip().splitlines().count(f"{FAILING - MAIL_ROWS} more rows") == 1
    assert f"<p>{FAILING - MAIL_ROWS} more rows</p>" in html.get_content()
