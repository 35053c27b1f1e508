"""Harbor's six-field cron: what each field accepts and when a schedule next fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from registry.services.cron import CronInvalid, expression_for, next_after, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_field_accepts_lists_ranges_steps_and_wildcards() -> None:
    seconds, minutes, hours, days, months, weekdays = parse("1,3 */15 5/6 1-10/3 ? 0-6")
    assert seconds == {1, 3}
    assert minutes == {0, 15, 30, 45}
    # A single start with a step runs to the end of the field's range.
    assert hours == {5, 11, 17, 23}
    assert days == {1, 4, 7, 10}
    assert months == set(range(1, 13))
    assert weekdays == set(range(7))


def test_a_classic_five_field_cron_fires_on_the_minute() -> None:
    assert parse("30 2 * * 1-5")[0] == {0}
    assert parse("30 2 * * 1-5")[1:3] == [frozenset({30}), frozenset({2})]


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("*/0 * * * * *", "bad step"),
        ("*/x * * * * *", "bad step"),
        ("a-b * * * * *", "bad range"),
        ("1-x * * * * *", "bad range"),
        ("x * * * * *", "bad cron field"),
        ("1,,2 * * * * *", "bad cron field"),
        ("-1 * * * * *", "bad range"),
        ("60 * * * * *", "outside 0-59"),
        ("0 0 24 * * *", "outside 0-23"),
        ("0 0 0 0 * *", "outside 1-31"),
        ("0 0 0 * 13 *", "outside 1-12"),
        ("0 0 0 * * 7", "outside 0-6"),
        ("0 0 0 * * 5-1", "outside 0-6"),
        ("* * * *", "six fields"),
        ("* * * * * * *", "six fields"),
        ("", "six fields"),
    ],
)
def test_malformed_expressions_say_what_is_wrong(expression: str, reason: str) -> None:
    with pytest.raises(CronInvalid, match=reason):
        parse(expression)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # Strictly after: a moment that matches is not its own next run.
        ("0 0 0 * * *", "2026-01-01T00:00:00", "2026-01-02T00:00:00"),
        ("0 0 * * * *", "2026-01-01T10:59:59.500000", "2026-01-01T11:00:00"),
        ("*/10 * * * * *", "2026-01-01T10:00:05", "2026-01-01T10:00:10"),
        # 2026-12-02 is a Wednesday; cron counts Sunday as 0.
        ("0 0 0 * * 0", "2026-12-02T08:00:00", "2026-12-06T00:00:00"),
        ("30 2 * * 1-5", "2026-12-04T03:00:00", "2026-12-07T02:30:00"),
        # Across a year boundary, and to a month that is months away.
        ("0 0 0 1 3 *", "2026-12-02T00:00:00", "2027-03-01T00:00:00"),
        ("0 0 12 31 * *", "2026-11-30T00:00:00", "2026-12-31T12:00:00"),
        # The 29th of February waits for the next leap year.
        ("0 0 12 29 2 *", "2026-03-01T00:00:00", "2028-02-29T12:00:00"),
        # Day of month and day of week both restricted: either one fires (the 15th, or a
        # Sunday, whichever comes first), as classic cron and Harbor do.
        ("0 0 0 15 * 0", "2026-12-02T00:00:00", "2026-12-06T00:00:00"),
        ("0 0 0 3 * 0", "2026-12-02T00:00:00", "2026-12-03T00:00:00"),
        # Only one of them restricted: it alone decides.
        ("0 0 0 15 * *", "2026-12-02T00:00:00", "2026-12-15T00:00:00"),
        ("0 0 0 ? * 1", "2026-12-02T00:00:00", "2026-12-07T00:00:00"),
        # A stepped field is a restriction: the first and third of the month, or a Sunday.
        ("0 0 0 */2 * 0", "2026-12-01T12:00:00", "2026-12-03T00:00:00"),
    ],
)
def test_next_run(expression: str, after: str, expected: str) -> None:
    assert next_after(expression, at(after)) == at(expected)


def test_next_run_is_in_utc_whatever_zone_it_is_asked_in() -> None:
    paris = timezone(timedelta(hours=1))
    found = next_after("0 0 0 * * *", datetime(2026, 1, 1, 0, 30, tzinfo=paris))
    # 00:30 in Paris is 23:30 UTC on New Year's Eve: midnight UTC is half an hour later.
    assert found == at("2026-01-01T00:00:00")
    assert found.tzinfo is UTC


def test_an_expression_that_never_matches_is_refused() -> None:
    with pytest.raises(CronInvalid, match="never matches"):
        next_after("0 0 0 31 2 *", at("2026-01-01T00:00:00"))


@pytest.mark.parametrize(
    ("schedule_type", "expected"),
    [("Hourly", "0 0 * * * *"), ("Daily", "0 0 0 * * *"), ("Weekly", "0 0 0 * * 0")],
)
def test_preset_schedule_types(schedule_type: str, expected: str) -> None:
    assert expression_for(schedule_type, "ignored for presets") == expected


@pytest.mark.parametrize("schedule_type", ["None", "Manual", ""])
def test_schedule_types_without_a_schedule(schedule_type: str) -> None:
    assert expression_for(schedule_type, "0 0 0 * * *") is None


def test_a_custom_schedule_is_its_validated_cron() -> None:
    assert expression_for("Custom", "0 15 3 * * 1") == "0 15 3 * * 1"
    with pytest.raises(CronInvalid, match="needs a cron"):
        expression_for("Custom", None)
    with pytest.raises(CronInvalid, match="needs a cron"):
        expression_for("Custom", "")
    with pytest.raises(CronInvalid, match="six fields"):
        expression_for("Custom", "0 0")


def test_unknown_schedule_types_are_refused() -> None:
    with pytest.raises(CronInvalid, match="unknown schedule type 'Yearly'"):
        expression_for("Yearly", None)
