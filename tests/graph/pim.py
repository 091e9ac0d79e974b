"""Calendar, contacts and To Do of the Graph emulator.

Events are stored as masters (single events and series masters); instances
of a series are computed from its recurrence (daily, weekly, absoluteMonthly;
ranges endDate, numbered, noEnd) with exceptions and cancelled occurrences
kept on the master. Times are stored in UTC (a `timeZone` given is applied)
and answered in UTC or in the zone of `Prefer: outlook.timezone`; series are
expanded in UTC, so a local-time series does not follow DST changes.
"""

import datetime
import re

from common import GraphError, Response, check_match, clean, delta, etag, listing, not_found, project
import zones
from store import new_id

CAL, CAL_W = 'calendars', 'calendars-write'
CON, CON_W = 'contacts', 'contacts-write'
TASK, TASK_W = 'tasks', 'tasks-write'

FMT = '%Y-%m-%dT%H:%M:%S.0000000'
DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']
MAX_INSTANCES = 500
DATE_TIME = re.compile(r'^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$')


def parse_dt(value):
    """A naive UTC datetime from Graph's dateTime or an ISO 8601 date-time with an offset."""
    m = DATE_TIME.match(str(value).strip())
    if not m:
        raise GraphError(400, 'ErrorInvalidRequest', 'not a date-time: %r' % value)
    d = datetime.datetime.fromisoformat(m.group(1))
    if m.group(2):
        d += datetime.timedelta(microseconds=int((m.group(2) + '000000')[:6]))
    zone = m.group(3)
    if zone and zone != 'Z':
        sign = 1 if zone[0] == '+' else -1
        d -= sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return d


def _dt(d):
    return {'dateTime': d.strftime(FMT), 'timeZone': 'UTC'}


def _utc(value):
    """A dateTimeTimeZone as naive UTC (its `timeZone` applied)."""
    return zones.to_utc(parse_dt(value['dateTime']), value.get('timeZone') or 'UTC')


def in_zone(body, name):
    """Rewrites start/end of the events in an answer into zone `name`
    (`Prefer: outlook.timezone`)."""
    items = body.get('value') if isinstance(body.get('value'), list) else [body]
    for item in items:
        for key in ('start', 'end'):
            v = item.get(key)
            if isinstance(v, dict) and v.get('timeZone') == 'UTC':
                local = zones.from_utc(parse_dt(v['dateTime']), name)
                item[key] = {'dateTime': local.strftime(FMT), 'timeZone': name}
    return body


# ------------------------------------------------------------------ events

def _times(changes):
    """`changes` with start/end normalised to UTC in Graph's format."""
    for name in ('start', 'end'):
        if isinstance(changes.get(name), dict) and 'dateTime' in changes[name]:
            changes[name] = _dt(_utc(changes[name]))
    return changes


def _event_json(ev):
    out = {'@odata.etag': etag(ev), 'id': ev['id']}
    out.update({k: v for k, v in ev.items() if not k.startswith('_') and k != 'id'})
    out.setdefault('bodyPreview', ' '.join(str((ev.get('body') or {}).get('content', '')).split())[:255])
    return out


def new_event(store, user, body, exceptions=(), cancelled=()):
    """Stores an event from a create body; a `recurrence` makes a seriesMaster."""
    ev = clean(body)
    ev['id'] = new_id()
    ev['type'] = 'seriesMaster' if ev.get('recurrence') else 'singleInstance'
    ev.setdefault('recurrence', None)
    ev.setdefault('categories', [])
    ev.setdefault('isAllDay', False)
    ev.setdefault('isCancelled', False)
    ev.setdefault('attendees', [])
    ev.setdefault('body', {'contentType': 'html', 'content': ''})
    ev.setdefault('organizer', {'emailAddress': {'name': user['displayName'], 'address': user['mail']}})
    ev.setdefault('location', {'displayName': ''})
    ev.setdefault('locations', [ev['location']] if ev['location'].get('displayName') else [])
    for name in ('start', 'end'):
        zone = (ev.get(name) or {}).get('timeZone') or 'UTC'
        ev.setdefault('original%sTimeZone' % name.capitalize(), zone)
    online = bool(ev.get('isOnlineMeeting'))
    ev.update({k: v for k, v in {
        'hasAttachments': False, 'hideAttendees': False, 'importance': 'normal', 'isDraft': False,
        'isOnlineMeeting': online, 'isOrganizer': True, 'isReminderOn': True, 'reminderMinutesBeforeStart': 15,
        'onlineMeetingProvider': ev.get('onlineMeetingProvider') or 'unknown', 'onlineMeetingUrl': None,
        'onlineMeeting': {'joinUrl': 'https://teams.microsoft.com/l/meetup-join/crmsync-test'} if online else None,
        'responseRequested': True, 'responseStatus': {'response': 'organizer', 'time': '0001-01-01T00:00:00Z'},
        'sensitivity': 'normal', 'seriesMasterId': None, 'showAs': 'busy', 'allowNewTimeProposals': True,
    }.items() if k not in ev})
    ev['iCalUId'] = '040000008200E00074C5B7101A82E008' + ev['id'][-16:].encode().hex().upper()
    ev['webLink'] = 'https://outlook.office365.com/owa/?itemid=%s&exvsurl=1&path=/calendar/item' % ev['id']
    for name in ('start', 'end'):
        if not isinstance(ev.get(name), dict) or 'dateTime' not in ev[name]:
            raise GraphError(400, 'ErrorInvalidRequest', 'the event needs %s.dateTime' % name)
        ev[name] = _dt(_utc(ev[name]))
    ev['_exceptions'] = {}
    ev['_cancelled'] = set()
    for ex in exceptions:
        ex = dict(ex)
        original = parse_dt(ex.pop('originalStart')).strftime(FMT)
        ev['_exceptions'][original] = _times(clean(ex))
    for c in cancelled:
        ev['_cancelled'].add(parse_dt(c).strftime(FMT))
    store.bump(ev)
    user['_events'][ev['id']] = ev
    return ev


def _starts(ev, until):
    """Start times of a series up to `until` (naive UTC)."""
    rec = ev['recurrence'] or {}
    pat, rng = rec.get('pattern') or {}, rec.get('range') or {}
    first = parse_dt(ev['start']['dateTime'])
    interval = max(int(pat.get('interval') or 1), 1)
    kind = str(pat.get('type', 'daily')).lower()
    end = None
    if str(rng.get('type', '')).lower() == 'enddate' and rng.get('endDate'):
        end = datetime.datetime.fromisoformat(rng['endDate']) + datetime.timedelta(days=1)
    count = int(rng['numberOfOccurrences']) if str(rng.get('type', '')).lower() == 'numbered' else None
    days = {DAYS.index(d.lower()) for d in pat.get('daysOfWeek') or [] if d.lower() in DAYS}
    out, day = [], first
    week0 = first - datetime.timedelta(days=first.weekday())
    while len(out) < MAX_INSTANCES and day <= until and (end is None or day < end) and \
            (count is None or len(out) < count):
        if kind == 'daily':
            out.append(day)
            day += datetime.timedelta(days=interval)
        elif kind == 'weekly':
            weeks = (day - week0).days // 7
            if weeks % interval == 0 and (day.weekday() in days or (not days and day.weekday() == first.weekday())):
                out.append(day)
            day += datetime.timedelta(days=1)
        elif kind == 'absolutemonthly':
            out.append(day)
            month = day.month - 1 + interval
            day = day.replace(year=day.year + month // 12, month=month % 12 + 1)
        else:
            raise GraphError(501, 'NotImplemented', 'the emulator expands daily, weekly and absoluteMonthly only')
    return out


def instances(ev, lo, hi):
    """The occurrences and exceptions of a series overlapping [lo, hi)."""
    length = parse_dt(ev['end']['dateTime']) - parse_dt(ev['start']['dateTime'])
    out = []
    for start in _starts(ev, hi):
        key = start.strftime(FMT)
        if key in ev['_cancelled']:
            continue
        inst = {k: v for k, v in _event_json(ev).items() if k not in ('recurrence',)}
        inst.update({'id': '%s_%s' % (ev['id'], start.strftime('%Y%m%dT%H%M%S')), 'seriesMasterId': ev['id'],
                     'type': 'occurrence', 'recurrence': None, 'originalStart': start.strftime('%Y-%m-%dT%H:%M:%SZ'),
                     'start': _dt(start), 'end': _dt(start + length)})
        if key in ev['_exceptions']:
            inst.update(ev['_exceptions'][key])
            inst['type'] = 'exception'
        s, e = parse_dt(inst['start']['dateTime']), parse_dt(inst['end']['dateTime'])
        if s < hi and e > lo:
            out.append(inst)
    return out


def _window(ctx, params=None):
    p = params or {}
    lo = p.get('start') or ctx.query.get('startdatetime')
    hi = p.get('end') or ctx.query.get('enddatetime')
    return parse_dt(lo), parse_dt(hi)


def view(user, lo, hi):
    """calendarView: single events and instances overlapping [lo, hi)."""
    out = []
    for ev in user['_events'].values():
        if ev['type'] == 'seriesMaster':
            out.extend(instances(ev, lo, hi))
        elif parse_dt(ev['start']['dateTime']) < hi and parse_dt(ev['end']['dateTime']) > lo:
            out.append(_event_json(ev))
    return sorted(out, key=lambda e: e['start']['dateTime'])


def _event(ctx):
    """(master, instance json or None) for the id in the path."""
    eid = ctx.params['event-id']
    master_id, _, when = eid.partition('_')
    ev = ctx.user['_events'].get(master_id)
    if not ev or (when and ev['type'] != 'seriesMaster'):
        raise not_found('event', eid)
    if not when:
        return ev, None
    start = datetime.datetime.strptime(when, '%Y%m%dT%H%M%S')
    for inst in instances(ev, start, start + datetime.timedelta(days=3660)):
        if inst['id'] == eid:
            return ev, inst
    raise not_found('event', eid)


def list_events(ctx):
    evs = sorted((_event_json(e) for e in ctx.user['_events'].values()), key=lambda e: e['start']['dateTime'])
    return listing(ctx, evs, "users('%s')/events" % ctx.user['id'])


def calendar_view(ctx):
    lo, hi = _window(ctx)
    return listing(ctx, view(ctx.user, lo, hi), "users('%s')/calendarView" % ctx.user['id'])


def calendar_view_delta(ctx):
    user = ctx.user
    params = {'select': ctx.select()}
    if 'startdatetime' in ctx.query:
        params.update(start=ctx.query['startdatetime'], end=ctx.query['enddatetime'])

    def current(p):
        lo, hi = parse_dt(p['start']), parse_dt(p['end'])
        return [(e['id'], e['changeKey'], project(dict(e, **{'@odata.type': '#microsoft.graph.event'}), p.get('select')))
                for e in view(user, lo, hi)]
    return delta(ctx, ('calendarView', user['id'], ''), current, 'Collection(event)', params)


def get_event(ctx):
    ev, inst = _event(ctx)
    return Response(200, project(inst or _event_json(ev), ctx.select()))


def event_instances(ctx):
    ev, inst = _event(ctx)
    if inst or ev['type'] != 'seriesMaster':
        return Response(200, {'value': []})
    lo, hi = _window(ctx)
    return listing(ctx, instances(ev, lo, hi), "users('%s')/events('%s')/instances" % (ctx.user['id'], ev['id']))


def create_event(ctx):
    return Response(201, _event_json(new_event(ctx.store, ctx.user, ctx.json())))


def patch_event(ctx):
    ev, inst = _event(ctx)
    body = ctx.json()
    check_match(ctx, inst or ev, body)
    changes = _times(clean(body, drop=('type', 'seriesMasterId', 'iCalUId')))
    if inst:
        key = parse_dt(inst['originalStart']).strftime(FMT)
        ev['_exceptions'].setdefault(key, {}).update(changes)
    else:
        ev.update(changes)
        if ev.get('recurrence') and ev['type'] == 'singleInstance':
            ev['type'] = 'seriesMaster'
    ctx.store.bump(ev)
    _, inst = _event(ctx)
    return Response(200, inst or _event_json(ev))


def delete_event(ctx):
    ev, inst = _event(ctx)
    check_match(ctx, inst or ev)
    if inst:
        ev['_cancelled'].add(parse_dt(inst['originalStart']).strftime(FMT))
        ctx.store.bump(ev)
    else:
        del ctx.user['_events'][ev['id']]
    return Response(204)


# ------------------------------------------------------------------ contacts

def _contact_json(c):
    out = {'@odata.etag': etag(c)}
    out.update({k: v for k, v in c.items() if not k.startswith('_')})
    return out


def new_contact(store, user, body):
    """Stores a contact in the default contact folder."""
    c = clean(body)
    c['id'] = new_id()
    c['parentFolderId'] = user['_contact_folder']
    if not c.get('displayName'):
        c['displayName'] = ' '.join(x for x in (c.get('givenName'), c.get('surname')) if x)
    store.bump(c)
    user['_contacts'][c['id']] = c
    return c


def _contact(ctx):
    folder = ctx.params.get('contactFolder-id')
    if folder and folder not in (ctx.user['_contact_folder'], 'contacts'):
        raise not_found('contactFolder', folder)
    c = ctx.user['_contacts'].get(ctx.params['contact-id'])
    if not c:
        raise not_found('contact', ctx.params['contact-id'])
    return c


def list_contacts(ctx):
    return listing(ctx, [_contact_json(c) for c in ctx.user['_contacts'].values()],
                   "users('%s')/contacts" % ctx.user['id'])


def contact_delta(ctx):
    user = ctx.user

    def current(p):
        return [(c['id'], c['_seq'], project(dict(_contact_json(c), **{'@odata.type': '#microsoft.graph.contact'}),
                                             p.get('select')))
                for c in user['_contacts'].values()]
    return delta(ctx, ('contacts', user['id'], ''), current, 'Collection(contact)', {'select': ctx.select()})


def get_contact(ctx):
    return Response(200, project(_contact_json(_contact(ctx)), ctx.select()))


def create_contact(ctx):
    return Response(201, _contact_json(new_contact(ctx.store, ctx.user, ctx.json())))


def patch_contact(ctx):
    c = _contact(ctx)
    body = ctx.json()
    check_match(ctx, c, body)
    c.update(clean(body))
    ctx.store.bump(c)
    return Response(200, _contact_json(c))


def delete_contact(ctx):
    c = _contact(ctx)
    check_match(ctx, c)
    del ctx.user['_contacts'][c['id']]
    return Response(204)


# ------------------------------------------------------------------ To Do

def _task_json(t):
    out = {'@odata.etag': etag(t)}
    out.update({k: v for k, v in t.items() if not k.startswith('_') and k != 'changeKey'})
    return out


def _list(ctx):
    lst = ctx.user['_lists'].get(ctx.params['todoTaskList-id'])
    if not lst:
        raise not_found('todoTaskList', ctx.params['todoTaskList-id'])
    return lst


def new_task(store, user, list_id, body):
    """Stores a task in a To Do list."""
    t = clean(body)
    t['id'] = new_id('AAMkAD')
    t.setdefault('importance', 'normal')
    t.setdefault('isReminderOn', False)
    t.setdefault('status', 'notStarted')
    t.setdefault('body', {'content': '', 'contentType': 'text'})
    t['_list'] = list_id
    store.bump(t)
    user['_tasks'][t['id']] = t
    return t


def _task(ctx):
    lst = _list(ctx)
    t = ctx.user['_tasks'].get(ctx.params['todoTask-id'])
    if not t or t['_list'] != lst['id']:
        raise not_found('todoTask', ctx.params['todoTask-id'])
    return t


def list_lists(ctx):
    lists = [dict({'@odata.type': '#microsoft.graph.todoTaskList', '@odata.etag': etag(x)}, **{k: v for k, v in x.items() if not k.startswith('_') and
                                                k not in ('changeKey', 'createdDateTime', 'lastModifiedDateTime')})
             for x in ctx.user['_lists'].values()]
    return listing(ctx, lists, "users('%s')/todo/lists" % ctx.user['id'], default_page=100)


def list_tasks(ctx):
    lst = _list(ctx)
    return listing(ctx, [_task_json(t) for t in ctx.user['_tasks'].values() if t['_list'] == lst['id']],
                   "users('%s')/todo/lists('%s')/tasks" % (ctx.user['id'], lst['id']))


def task_delta(ctx):
    lst, user = _list(ctx), ctx.user

    def current(p):
        return [(t['id'], t['_seq'], project(_task_json(t), p.get('select')))
                for t in user['_tasks'].values() if t['_list'] == lst['id']]
    return delta(ctx, ('tasks', user['id'], lst['id']), current, 'Collection(todoTask)', {'select': ctx.select()})


def get_task(ctx):
    return Response(200, project(_task_json(_task(ctx)), ctx.select()))


def create_task(ctx):
    return Response(201, _task_json(new_task(ctx.store, ctx.user, _list(ctx)['id'], ctx.json())))


def patch_task(ctx):
    t = _task(ctx)
    body = ctx.json()
    check_match(ctx, t, body)
    t.update(clean(body))
    ctx.store.bump(t)
    return Response(200, _task_json(t))


def delete_task(ctx):
    t = _task(ctx)
    check_match(ctx, t)
    del ctx.user['_tasks'][t['id']]
    return Response(204)


def _zoned(handler):
    """`handler` answering in the zone of `Prefer: outlook.timezone`."""
    def run(ctx):
        resp = handler(ctx)
        name = ctx.prefer.get('outlook.timezone')
        if name and isinstance(resp.body, dict):
            zones.zone(name)
            resp.body = in_zone(resp.body, name)
            resp.headers['Preference-Applied'] = 'outlook.timezone="%s"' % name
        return resp
    return run


ROUTES = {
    ('GET', '/me/events'): (CAL, list_events),
    ('GET', '/me/calendar/events'): (CAL, list_events),
    ('POST', '/me/events'): (CAL_W, create_event),
    ('POST', '/me/calendar/events'): (CAL_W, create_event),
    ('GET', '/me/events/{event-id}'): (CAL, get_event),
    ('PATCH', '/me/events/{event-id}'): (CAL_W, patch_event),
    ('DELETE', '/me/events/{event-id}'): (CAL_W, delete_event),
    ('GET', '/me/events/{event-id}/instances'): (CAL, event_instances),
    ('GET', '/me/calendarView'): (CAL, calendar_view),
    ('GET', '/me/calendarView/delta'): (CAL, calendar_view_delta),
    ('GET', '/me/contacts'): (CON, list_contacts),
    ('GET', '/me/contactFolders/{contactFolder-id}/contacts'): (CON, list_contacts),
    ('POST', '/me/contacts'): (CON_W, create_contact),
    ('POST', '/me/contactFolders/{contactFolder-id}/contacts'): (CON_W, create_contact),
    ('GET', '/me/contacts/delta'): (CON, contact_delta),
    ('GET', '/me/contactFolders/{contactFolder-id}/contacts/delta'): (CON, contact_delta),
    ('GET', '/me/contacts/{contact-id}'): (CON, get_contact),
    ('GET', '/me/contactFolders/{contactFolder-id}/contacts/{contact-id}'): (CON, get_contact),
    ('PATCH', '/me/contacts/{contact-id}'): (CON_W, patch_contact),
    ('PATCH', '/me/contactFolders/{contactFolder-id}/contacts/{contact-id}'): (CON_W, patch_contact),
    ('DELETE', '/me/contacts/{contact-id}'): (CON_W, delete_contact),
    ('DELETE', '/me/contactFolders/{contactFolder-id}/contacts/{contact-id}'): (CON_W, delete_contact),
    ('GET', '/me/todo/lists'): (TASK, list_lists),
    ('GET', '/me/todo/lists/{todoTaskList-id}/tasks'): (TASK, list_tasks),
    ('POST', '/me/todo/lists/{todoTaskList-id}/tasks'): (TASK_W, create_task),
    ('GET', '/me/todo/lists/{todoTaskList-id}/tasks/delta'): (TASK, task_delta),
    ('GET', '/me/todo/lists/{todoTaskList-id}/tasks/{todoTask-id}'): (TASK, get_task),
    ('PATCH', '/me/todo/lists/{todoTaskList-id}/tasks/{todoTask-id}'): (TASK_W, patch_task),
    ('DELETE', '/me/todo/lists/{todoTaskList-id}/tasks/{todoTask-id}'): (TASK_W, delete_task),
}
ROUTES.update({k: (area, _zoned(fn)) for k, (area, fn) in ROUTES.items() if area in (CAL, CAL_W)})
