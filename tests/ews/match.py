"""Helpers of the item operations: CalendarView selection, FindItem
restrictions, and indexed-field updates."""

import copy

import calendar_items as calendar
import store
from shape import field_name, local
from xsd import T

NS = {"t": T}


def calendar_view(items, view):
    """The CalendarView of `items`: singles overlapping the range and the
    occurrences of recurring masters in it, by start time."""
    lo = calendar.iso(calendar.parse_dt(view.get("StartDate")))
    hi = calendar.iso(calendar.parse_dt(view.get("EndDate")))
    out = []
    for item in items:
        if item.kind != "CalendarItem" or not item.text("Start") or not item.text("End"):
            continue
        if calendar.is_master(item):
            out.extend(calendar.expand_in(item, lo, hi))
        elif calendar.iso(calendar.parse_dt(item.text("Start"))) < hi and calendar.iso(calendar.parse_dt(item.text("End"))) > lo:
            out.append(item)
    out.sort(key=lambda i: calendar.iso(calendar.parse_dt(i.text("Start"))))
    limit = view.get("MaxEntriesReturned")
    return out[:int(limit)] if limit else out


def merge_indexed(fields, name, value):
    """SetItemField on an IndexedFieldURI: replace the entry with the same Key."""
    cur = fields.get(name)
    if cur is None:
        fields[name] = copy.deepcopy(value)
        return
    for entry in value:
        key = entry.get("Key")
        for old in list(cur):
            if old.get("Key") == key:
                if len(entry) and len(old):
                    for sub in entry:
                        prev = old.find(sub.tag)
                        if prev is not None:
                            old.remove(prev)
                        old.append(copy.deepcopy(sub))
                    entry = None
                else:
                    cur.remove(old)
                break
        if entry is not None:
            cur.append(copy.deepcopy(entry))


def delete_indexed(fields, name, index, sub=None):
    """DeleteItemField on an IndexedFieldURI: remove only the entry with Key
    `index` (or, for `contacts:PhysicalAddress:Street` and the like, only
    that part of it), as Exchange does; the field goes when it is empty."""
    cur = fields.get(name)
    if cur is None:
        return
    for old in list(cur):
        if old.get("Key") != index:
            continue
        if sub:
            for part in [c for c in old if c.tag.rsplit("}", 1)[-1] == sub]:
                old.remove(part)
            if len(old):
                continue
        cur.remove(old)
    if not len(cur):
        fields.pop(name, None)


def matches(cond, item):
    """Evaluates a FindItem restriction (IsEqualTo, IsNotEqualTo, Contains,
    And, Or, Not; string comparison) against an item."""
    kind = local(cond)
    if kind == "And":
        return all(matches(c, item) for c in cond)
    if kind == "Or":
        return any(matches(c, item) for c in cond)
    if kind == "Not":
        return not matches(cond[0], item)
    path = cond[0]
    if local(path) == "ExtendedFieldURI":
        prop = item.extended.get(store.extended_key(path))
        value = None if prop is None else "".join(prop.itertext()).strip()
    else:
        value = item.text(field_name(path.get("FieldURI") or ""))
    if kind == "Contains":
        want = cond.find("t:Constant", NS).get("Value")
        return value is not None and want.lower() in value.lower()
    const = cond.find("t:FieldURIOrConstant/t:Constant", NS)
    want = const.get("Value") if const is not None else None
    if kind == "IsEqualTo":
        return value == want
    if kind == "IsNotEqualTo":
        return value != want
    raise calendar.NotEmulated(f"restriction {kind} is not emulated by the test server")
