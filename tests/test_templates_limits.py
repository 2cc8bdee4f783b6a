"""Rule texts cannot stall the evaluation cycle: blow-ups are refused at validate, renders are bounded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from flowhealth.errors import ModelError
from flowhealth.model import load_model
from flowhealth.model.jinja_sandbox import MAX_OUTPUT, RENDER_SECONDS, TRUNCATED
from flowhealth.model.templates import check_template, render
from tests.support.models import copy_reference

REPO = Path(__file__).resolve().parent.parent

REFUSED = {
    '{{ "x" * 1000000000 }}': "a text or list times a number",
    "{{ 1000000000 * 'x' }}": "a text or list times a number",
    "{{ [0] * 1000000000 }}": "a text or list times a number",
    "{{ 10 ** 10 ** 10 }}": "'**' (power)",
    "{{ range(1000000000) | list }}": "range() of 1,000,000,000 items",
    "{{ range(value) | list }}": "range() needs constant whole numbers",
    "{% for i in range(100) %}{% for j in range(100) %}.{% endfor %}{% endfor %}": "nested loops run more than 1,000",
}


@pytest.mark.parametrize("source", sorted(REFUSED))
def test_validate_refuses_what_can_blow_up(source: str) -> None:
    problem = check_template(source)
    assert problem is not None and REFUSED[source] in problem


@pytest.mark.parametrize(
    "source",
    [
        "{{ value | duration }} behind, {{ (value * 100) | number }}% of {{ threshold | number }}",
        "{% for i in range(3) %}{{ i }}{% endfor %} {{ labels.currency ~ '!' }}",
        "{% if value > threshold %}over{% else %}under{% endif %}",
    ],
)
def test_ordinary_texts_pass(source: str) -> None:
    assert check_template(source) is None


def test_the_attack_summary_is_a_located_validate_error(tmp_path: Path) -> None:
    copy_reference(tmp_path)
    path = tmp_path / "alert_rules/orders.yaml"
    text = path.read_text()
    old = '"{{ value | number }} order messages are waiting for the ERP"'
    path.write_text(text.replace(old, '"{{ \\"x\\" * 1000000000 }}"', 1))
    with pytest.raises(ModelError) as caught:
        load_model(tmp_path)
    [issue] = caught.value.issues
    assert issue.path == "alert_rules/orders.yaml"
    assert issue.line == 28 and issue.field.endswith(".summary")
    assert "a text or list times a number" in issue.message


def test_a_label_repeated_a_billion_times_renders_as_the_raw_text_at_once() -> None:
    # Labels come from probes at run time: validate cannot know they are text.
    source = "{{ labels.queue * 1000000000 }}"
    started = time.monotonic()
    assert render(source, {"labels": {"queue": "orders"}}) == source
    assert time.monotonic() - started < 1


def test_a_range_from_a_value_is_bounded_at_render_time() -> None:
    source = "{{ range(value) | list | length }}"
    assert render(source, {"value": 10**9}) == source
    assert render(source, {"value": 5}) == "5"


def test_output_is_cut_at_the_limit() -> None:
    text = render("{% for i in range(1000) %}{{ labels.line }}{% endfor %}", {"labels": {"line": "y" * 10}})
    assert len(text) == MAX_OUTPUT + len(TRUNCATED)
    assert text.endswith(TRUNCATED)


class _Slow:
    def __str__(self) -> str:
        time.sleep(0.005)
        return "slow"


def test_a_slow_render_stops_at_the_deadline() -> None:
    source = "{% for i in range(1000) %}{{ value }}{% endfor %}"  # 1,000 x 5 ms = 5 s unbounded
    started = time.monotonic()
    assert render(source, {"value": _Slow()}) == source
    assert time.monotonic() - started < RENDER_SECONDS + 1
