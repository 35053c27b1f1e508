"""Harbor's six-field cron (``second minute hour day-of-month month day-of-week``) and the
schedule types its API speaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

PRESETS = {
    "Hourly": "0 0 * * * *",
    "Daily": "0 0 0 * * *",
    "Weekly": "0 0 0 * * 0",
}
_RANGES = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]


class CronInvalid(ValueError):
    pass


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronInvalid(f"bad step in {text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            if not (a.isdigit() and b.isdigit()):
                raise CronInvalid(f"bad range in {text!r}")
            start, end = int(a), int(b)
        elif part.isdigit():
            start = end = int(part)
            if step != 1:
                end = high
        else:
            raise CronInvalid(f"bad cron field {text!r}")
        if start < low or end > high or start > end:
            raise CronInvalid(f"{text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def parse(expression: str) -> list[frozenset[int]]:
    fields = expression.split()
    if len(fields) == 5:  # a classic cron: seconds are zero
        fields = ["0", *fields]
    if len(fields) != 6:
        raise CronInvalid("a cron expression has six fields: second minute hour day month weekday")
    return [_field(f, lo, hi) for f, (lo, hi) in zip(fields, _RANGES, strict=True)]


def _unrestricted(text: str) -> bool:
    return text in ("*", "?")


def _days_either(expression: str) -> bool:
    """Whether a day matches when either day-of-month or day-of-week does: classic cron's
    (and Harbor's) rule once both are restricted; otherwise both must match."""
    fields = expression.split()
    day, weekday = fields[-3], fields[-1]
    return not (_unrestricted(day) or _unrestricted(weekday))


def next_after(expression: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` (UTC) the expression matches."""
    seconds, minutes, hours, days, months, weekdays = parse(expression)
    either = _days_either(expression)
    moment = after.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
    limit = moment + timedelta(days=366 * 5)
    while moment < limit:
        if moment.month not in months:
            moment = (
                moment.replace(day=1, hour=0, minute=0, second=0) + timedelta(days=32)
            ).replace(day=1)
            continue
        cron_weekday = (moment.weekday() + 1) % 7  # Python: Monday 0; cron: Sunday 0
        day_ok, weekday_ok = moment.day in days, cron_weekday in weekdays
        if not ((day_ok or weekday_ok) if either else (day_ok and weekday_ok)):
            moment = moment.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            continue
        if moment.hour not in hours:
            moment = moment.replace(minute=0, second=0) + timedelta(hours=1)
            continue
        if moment.minute not in minutes:
            moment = moment.replace(second=0) + timedelta(minutes=1)
            continue
        if moment.second not in seconds:
            moment += timedelta(seconds=1)
            continue
        return moment
    raise CronInvalid(f"{expression!r} never matches")


def expression_for(schedule_type: str, cron: str | None) -> str | None:
    """The cron a Harbor schedule type stands for; None for None/Manual (no schedule)."""
    if schedule_type in PRESETS:
        return PRESETS[schedule_type]
    if schedule_type == "Custom":
        if not cron:
            raise CronInvalid("a Custom schedule needs a cron expression")
        parse(cron)
        return cron
    if schedule_type in ("None", "Manual", ""):
        return None
    raise CronInvalid(f"unknown schedule type {schedule_type!r}")
