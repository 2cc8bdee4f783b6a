"""The business calendar in the model: lookups in its time zone, and mistakes named by file and line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowhealth.errors import ModelError, ModelIssue
from flowhealth.model import load_model
from flowhealth.model.business_calendar import DayKind, effect_at
from tests.support.models import copy_reference, edit, line_of

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    copy_reference(tmp_path)
    return tmp_path


def issues_of(model_dir: Path) -> list[ModelIssue]:
    with pytest.raises(ModelError) as caught:
        load_model(model_dir)
    return caught.value.issues


def test_reference_calendar_windows_in_berlin_time(reference_model) -> None:
    calendar = reference_model.calendars["shop-de"]
    # Black Friday starts at midnight in Berlin, which is 23:00 UTC the day before.
    assert effect_at(calendar, "order-intake", datetime(2026, 11, 26, 22, 59, tzinfo=UTC)).kind is DayKind.NORMAL
    friday = effect_at(calendar, "order-intake", datetime(2026, 11, 26, 23, 0, tzinfo=UTC))
    assert (friday.kind, friday.multiplier, friday.entry) == (DayKind.PROMOTION, 3, "Black Friday")
    # The newsletter lasts 2h from 10:00 local and only concerns order intake.
    assert effect_at(calendar, "order-intake", datetime(2026, 11, 30, 10, 59, tzinfo=UTC)).multiplier == 1.5
    assert effect_at(calendar, "order-intake", datetime(2026, 11, 30, 11, 0, tzinfo=UTC)).multiplier == 1
    assert effect_at(calendar, "order-export", datetime(2026, 11, 30, 10, 0, tzinfo=UTC)).multiplier == 1
    # The closure's end date is inclusive: Boxing Day is closed until midnight local.
    closed = effect_at(calendar, "order-intake", datetime(2026, 12, 26, 22, 59, tzinfo=UTC))
    assert (closed.kind, closed.multiplier) == (DayKind.CLOSED, 0)
    assert effect_at(calendar, "order-intake", datetime(2026, 12, 26, 23, 0, tzinfo=UTC)).kind is DayKind.NORMAL


def test_overlapping_entries_are_named_by_file_and_line(model_dir: Path) -> None:
    path = model_dir / "flows/checkout.yaml"
    edit(
        path,
        "      - name: Cyber Monday newsletter\n        start: 2026-11-30T10:00:00",
        "      - name: Cyber Monday newsletter\n        start: 2026-11-27T10:00:00",
    )
    [issue] = issues_of(model_dir)
    assert issue.path == "flows/checkout.yaml"
    assert issue.line == line_of(path, "- name: Cyber Monday newsletter")
    assert issue.field == "calendars.shop-de.promotions.1"
    assert issue.message.startswith("overlaps promotions[0] (2026-11-27 00:00 to 2026-11-28 00:00)")


def test_malformed_entries_name_the_field(model_dir: Path) -> None:
    path = model_dir / "flows/checkout.yaml"
    edit(path, "        multiplier: 3\n", "        multiplier: -3\n")
    edit(path, "        end: 2026-12-26\n", "        end: 2026-12-20\n")
    edit(path, "    timezone: Europe/Berlin\n", "    timezone: Europe/Berlinn\n")
    issues = {issue.field: issue for issue in issues_of(model_dir)}
    assert issues["calendars.shop-de.timezone"].message == "unknown time zone 'Europe/Berlinn'"
    assert issues["calendars.shop-de.timezone"].line == line_of(path, "timezone: Europe/Berlinn")
    assert issues["calendars.shop-de.promotions[0].multiplier"].line == line_of(path, "multiplier: -3")
    assert issues["calendars.shop-de.closures[0]"].message == "the closure ends before it starts"


def test_a_baseline_rule_names_a_known_calendar(model_dir: Path) -> None:
    path = model_dir / "alert_rules/checkout.yaml"
    edit(path, "resolution: 5m}\n    below", "resolution: 5m, calendar: shop-fr}\n    below")
    [issue] = issues_of(model_dir)
    assert issue.field == "rules.orders-below-expected.baseline.calendar"
    assert issue.message == "unknown calendar 'shop-fr' (did you mean 'shop-de'?) (known: shop-de)"


def test_baseline_rule_mistakes_drop_the_rule_kind_from_the_path(model_dir: Path) -> None:
    path = model_dir / "alert_rules/checkout.yaml"
    edit(path, "below_expected: {by: 40%", "below_expected: {by: forty")
    edit(path, "    for: 5m\n", "    for: soon\n")
    issues = {issue.field: issue for issue in issues_of(model_dir)}
    assert (
        issues["rules.orders-below-expected.below_expected.by"].message == "'forty' is not a percentage; write e.g. 40%"
    )
    assert issues["rules.orders-below-expected.for"].line == line_of(path, "for: soon")
