"""Recurring calendar items: expanding a master's Recurrence into occurrences,
its exceptions (modified occurrences) and deleted occurrences, as Exchange keeps
them inside the master item (so changing one changes the master's ChangeKey).

Occurrence times keep the master's UTC time of day (no daylight-saving shift).
Patterns: Daily, Weekly, Absolute/Relative Monthly and Yearly; ranges: NoEnd
(capped), EndDate, Numbered.
"""

import copy
from datetime import date, datetime, timedelta, timezone

from store import Item, new_id, t
from xsd import T

MAX_OCCURRENCES = 1000
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
GROUPS = {"Day": DAYS, "Weekday": DAYS[:5], "WeekendDay": DAYS[5:]}
MASTER_ONLY = {"Recurrence", "ModifiedOccurrences", "DeletedOccurrences", "FirstOccurrence", "LastOccurrence"}

# occurrence ItemId -> (master, original start)
OCCURRENCES = {}


class NotEmulated(Exception):
    pass


def parse_dt(text):
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).replace(microsecond=0)


def iso(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(el, name, default=None):
    child = el.find(f"{{{T}}}{name}")
    return default if child is None or child.text is None else child.text.strip()


def state_of(master):
    """The master's exceptions {orig: fields}, deleted set and occurrence ids."""
    d = master.__dict__
    d.setdefault("exceptions", {})
    d.setdefault("deleted", set())
    d.setdefault("occ_ids", {})
    return master


def is_master(item):
    return item.kind == "CalendarItem" and "Recurrence" in item.fields


def _dates(rec):
    pattern, rng = rec[0], rec[1]
    kind = etree_local(pattern)
    start = date.fromisoformat(_text(rng, "StartDate")[:10])
    interval = int(_text(pattern, "Interval", "1"))
    end = _text(rng, "EndDate")
    end = date.fromisoformat(end[:10]) if end else None
    count = int(_text(rng, "NumberOfOccurrences", str(MAX_OCCURRENCES)))
    if kind == "WeeklyRecurrence":
        days = set()
        for name in (_text(pattern, "DaysOfWeek", "") or "").split():
            days.update(GROUPS.get(name, [name]))
        fdow = DAYS.index(_text(pattern, "FirstDayOfWeek", "Sunday"))
        week0 = start - timedelta(days=(start.weekday() - fdow) % 7)
    elif kind in ("RelativeMonthlyRecurrence", "RelativeYearlyRecurrence"):
        days = set()
        for name in (_text(pattern, "DaysOfWeek", "") or "").split():
            days.update(GROUPS.get(name, [name]))
        which = _text(pattern, "DayOfWeekIndex", "First")
    elif kind not in ("DailyRecurrence", "AbsoluteMonthlyRecurrence", "AbsoluteYearlyRecurrence"):
        raise NotEmulated(f"{kind} is not emulated by the test server")
    out, d = [], start
    while len(out) < min(count, MAX_OCCURRENCES) and d <= start + timedelta(days=3660):
        if end and d > end:
            break
        if kind == "DailyRecurrence":
            hit = (d - start).days % interval == 0
        elif kind == "WeeklyRecurrence":
            hit = DAYS[d.weekday()] in days and ((d - week0).days // 7) % interval == 0
        elif kind == "AbsoluteMonthlyRecurrence":
            months = (d.year - start.year) * 12 + d.month - start.month
            hit = d.day == int(_text(pattern, "DayOfMonth")) and months % interval == 0
        elif kind == "AbsoluteYearlyRecurrence":
            month = _text(pattern, "Month")
            hit = d.day == int(_text(pattern, "DayOfMonth")) and d.strftime("%B") == month
        else:
            months = (d.year - start.year) * 12 + d.month - start.month
            if kind == "RelativeMonthlyRecurrence":
                in_period = months % interval == 0
            else:
                in_period = d.strftime("%B") == _text(pattern, "Month")
            place = _is_last(d, days) if which == "Last" else _nth(d, days) == which
            hit = in_period and DAYS[d.weekday()] in days and place
        if hit:
            out.append(d)
        d += timedelta(days=1)
    return start, out


INDEX = ["First", "Second", "Third", "Fourth"]


def _nth(d, days):
    """"First".."Fourth" (or None) for `d` among the month's days in `days`."""
    n = sum(1 for day in range(1, d.day + 1) if DAYS[d.replace(day=day).weekday()] in days)
    return INDEX[n - 1] if n <= 4 else None


def _is_last(d, days):
    nxt = d + timedelta(days=1)
    while nxt.month == d.month:
        if DAYS[nxt.weekday()] in days:
            return False
        nxt += timedelta(days=1)
    return True


def etree_local(el):
    return el.tag.split("}")[-1]


def series(master):
    """[(index, original start, original end)] of the whole series (1-based)."""
    start = parse_dt(master.text("Start"))
    length = parse_dt(master.text("End")) - start
    _, dates = _dates(master.fields["Recurrence"])
    # The master's Start is the first occurrence; its UTC date may differ by a
    # day from the local dates the pattern gives.
    shift = start.date() - dates[0] if dates else timedelta(0)
    if abs(shift.days) > 1:
        shift = timedelta(0)
    out = []
    for i, d in enumerate(dates, 1):
        s = datetime.combine(d + shift, start.timetz())
        out.append((i, iso(s), iso(s + length)))
    return out


def occurrence_id(master, orig):
    state_of(master)
    ident = master.occ_ids.get(orig)
    if ident is None:
        ident = new_id("occr")
        master.occ_ids[orig] = ident
        OCCURRENCES[ident] = (master, orig)
    return ident


def by_index(master, index):
    """(original start, error code) of InstanceIndex `index`."""
    state_of(master)
    for i, orig, _ in series(master):
        if i == index:
            if orig in master.deleted:
                return None, "ErrorCalendarOccurrenceIsDeletedFromRecurrence"
            return orig, None
    return None, "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange"


def view(master, orig):
    """The occurrence (or exception) at `orig` as a transient item."""
    state_of(master)
    end = next((e for _, o, e in series(master) if o == orig), orig)
    exc = master.exceptions.get(orig)
    fields = {k: copy.deepcopy(v) for k, v in master.fields.items() if k not in MASTER_ONLY}
    fields["Start"] = t("Start", orig)
    fields["End"] = t("End", end)
    if exc:
        fields.update({k: copy.deepcopy(v) for k, v in exc.items()})
    fields["CalendarItemType"] = t("CalendarItemType", "Exception" if exc else "Occurrence")
    fields["OriginalStart"] = t("OriginalStart", orig)
    item = Item.__new__(Item)
    item.__dict__.update(master.__dict__)
    item.fields = fields
    item.id = occurrence_id(master, orig)
    item.mime = None
    item.occurrence = (master, orig)
    return item


def master_fields(master):
    """Computed fields of a master: First/LastOccurrence, Modified/DeletedOccurrences."""
    state_of(master)
    out = {}
    try:
        all_ = series(master)
    except (NotEmulated, ValueError, TypeError):
        return out
    live = [(i, o, e) for i, o, e in all_ if o not in master.deleted]

    def info(tag, orig, end):
        el = t(tag)
        exc = master.exceptions.get(orig, {})
        el.append(t("ItemId", Id=occurrence_id(master, orig), ChangeKey=master.change_key))
        el.append(t("Start", exc["Start"].text if "Start" in exc else orig))
        el.append(t("End", exc["End"].text if "End" in exc else end))
        el.append(t("OriginalStart", orig))
        return el

    if live:
        out["FirstOccurrence"] = info("FirstOccurrence", live[0][1], live[0][2])
        out["LastOccurrence"] = info("LastOccurrence", live[-1][1], live[-1][2])
    modified = [(o, e) for _, o, e in live if o in master.exceptions]
    if modified:
        el = t("ModifiedOccurrences")
        for o, e in modified:
            el.append(info("Occurrence", o, e))
        out["ModifiedOccurrences"] = el
    if master.deleted:
        el = t("DeletedOccurrences")
        for o in sorted(master.deleted):
            d = t("DeletedOccurrence")
            d.append(t("Start", o))
            el.append(d)
        out["DeletedOccurrences"] = el
    return out


def adopt_seeded(master):
    """Turns ModifiedOccurrences/DeletedOccurrences given at creation (seeding)
    into the master's exceptions and deleted set."""
    state_of(master)
    mods = master.fields.pop("ModifiedOccurrences", None)
    dels = master.fields.pop("DeletedOccurrences", None)
    master.fields.pop("FirstOccurrence", None)
    master.fields.pop("LastOccurrence", None)
    if dels is not None:
        for d in dels:
            master.deleted.add(iso(parse_dt(_text(d, "Start"))))
    if mods is not None:
        for occ in mods:
            orig = iso(parse_dt(_text(occ, "OriginalStart")))
            master.exceptions[orig] = {"Start": t("Start", iso(parse_dt(_text(occ, "Start")))),
                                       "End": t("End", iso(parse_dt(_text(occ, "End"))))}


def expand_in(master, lo, hi):
    """Occurrence views of `master` overlapping [lo, hi)."""
    state_of(master)
    out = []
    for _, orig, _ in series(master):
        if orig in master.deleted:
            continue
        v = view(master, orig)
        if iso(parse_dt(v.text("Start"))) < hi and iso(parse_dt(v.text("End"))) > lo:
            out.append(v)
    return out
