"""The test's side of the Graph emulator: POST /_admin/<op> with a JSON body
and the X-Admin-Token header; answers JSON. See docs/testing.md."""

import base64
import json

import mail
import pim


def _user(g, body):
    user = g.store.user(body.get('mailbox', ''))
    if not user:
        raise KeyError('no mailbox %r' % body.get('mailbox'))
    return user


def _folder(g, user, name):
    folder = g.store.folder(user, name or 'inbox')
    if not folder:
        raise KeyError('no folder %r in %s' % (name, user['mail']))
    return folder


def _list(user, name):
    for lst in user['_lists'].values():
        if lst['id'] == name or lst['displayName'].lower() == str(name or 'tasks').lower():
            return lst
    raise KeyError('no To Do list %r in %s' % (name, user['mail']))


def _message_view(user, rec):
    msg = mail.parse_mime(rec['_raw'])
    folder = user['_folders'][rec['_folder']]
    return {'id': rec['id'], 'folder': folder['_wk'] or folder['displayName'], 'subject': str(msg['Subject'] or ''),
            'internetMessageId': rec['internetMessageId'], 'isRead': rec['isRead'],
            'from': str(msg['From'] or ''), 'to': str(msg['To'] or ''),
            'mime': base64.b64encode(rec['_raw']).decode()}


def op_add_user(g, b):
    return g.store.public_user(g.store.add_user(b['address'], b.get('displayName')))


def op_add_folder(g, b):
    f = g.store.add_folder(_user(g, b), b['name'])
    return {'id': f['id'], 'displayName': f['displayName']}


def op_seed_message(g, b):
    user = _user(g, b)
    rec = mail.add_message(g.store, user, _folder(g, user, b.get('folder')), base64.b64decode(b['mime']),
                           bool(b.get('isRead', False)))
    return {'id': rec['id'], 'internetMessageId': rec['internetMessageId']}


def op_messages(g, b):
    user = _user(g, b)
    recs = list(user['_messages'].values())
    if b.get('folder'):
        fid = _folder(g, user, b['folder'])['id']
        recs = [r for r in recs if r['_folder'] == fid]
    return [_message_view(user, r) for r in sorted(recs, key=lambda r: r['_seq'])]


def op_seed_event(g, b):
    ev = pim.new_event(g.store, _user(g, b), b['event'], b.get('exceptions') or [], b.get('cancelled') or [])
    return {'id': ev['id']}


def op_events(g, b):
    out = []
    for ev in _user(g, b)['_events'].values():
        item = pim._event_json(ev)
        item['exceptions'] = [dict(v, originalStart=k) for k, v in ev['_exceptions'].items()]
        item['cancelled'] = sorted(ev['_cancelled'])
        out.append(item)
    return out


def op_seed_contact(g, b):
    return {'id': pim.new_contact(g.store, _user(g, b), b['contact'])['id']}


def op_contacts(g, b):
    return [pim._contact_json(c) for c in _user(g, b)['_contacts'].values()]


def op_add_task_list(g, b):
    user = _user(g, b)
    lst = {'id': pim.new_id('AQMkAT'), 'displayName': b['displayName'], 'isOwner': True, 'isShared': False,
           'wellknownListName': 'none'}
    g.store.bump(lst)
    user['_lists'][lst['id']] = lst
    return {'id': lst['id']}


def op_seed_task(g, b):
    user = _user(g, b)
    return {'id': pim.new_task(g.store, user, _list(user, b.get('list'))['id'], b['task'])['id']}


def op_tasks(g, b):
    user = _user(g, b)
    out = []
    for t in user['_tasks'].values():
        item = pim._task_json(t)
        item['list'] = user['_lists'][t['_list']]['displayName']
        out.append(item)
    return out


def op_requests(g, b):
    return g.requests


def op_invalid_requests(g, b):
    return g.invalid


def op_outbound(g, b):
    return g.store.outbound


def op_throttle(g, b):
    g.faults.arm('throttle', b.get('mailbox'), b.get('count', 1), retry_after=int(b.get('retry_after', 1)))
    return {}


def op_throttle_log(g, b):
    return g.faults.throttle_log


def op_fail(g, b):
    g.faults.arm('fail', b.get('mailbox'), b.get('count', 1), status=int(b.get('status', 503)),
                 retry_after=b.get('retry_after'))
    return {}


def op_delta_reset(g, b):
    g.faults.arm('delta_reset', b.get('mailbox'), b.get('count', 1), code=b.get('code', 'resyncRequired'))
    return {}


def op_drop_after_send(g, b):
    g.faults.arm('drop_after_send', b.get('mailbox'), b.get('count', 1))
    return {}


def op_revoke_permission(g, b):
    g.faults.revoked.add(str(b['permission']).lower())
    return {}


def op_restore_permission(g, b):
    g.faults.revoked.discard(str(b['permission']).lower())
    return {}


def handle(g, op, body):
    """(status, JSON value) of an admin operation."""
    fn = globals().get('op_' + op.strip('/'))
    if not fn:
        return 404, {'error': 'no admin operation %r' % op}
    try:
        b = json.loads(body or b'{}')
        with g.store.lock:
            return 200, json.loads(json.dumps(fn(g, b), default=str))
    except (KeyError, ValueError, TypeError) as e:
        return 400, {'error': '%s: %s' % (type(e).__name__, e)}
