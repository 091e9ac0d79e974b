"""Mail of the Graph emulator: folders, messages (stored as raw MIME), delta,
move, delete, sendMail and $filter=internetMessageId."""

import base64
import binascii
import datetime
import email
import email.policy
import email.utils
import html
import re
import secrets
import urllib.parse

from common import GraphError, Response, delta, etag, listing, not_found, project
from store import new_id, now_iso

READ = 'mail'
WRITE = 'mail-write'
SEND = 'mail-send'


def parse_mime(raw):
    """The parsed message (stdlib email, default policy)."""
    return email.message_from_bytes(raw, policy=email.policy.default)


def _addr(name, address):
    return {'emailAddress': {'name': name or address, 'address': address}}


def _addrs(msg, header):
    values = msg.get_all(header) or []
    return [_addr(n, a) for n, a in email.utils.getaddresses([str(v) for v in values]) if a]


def _date(msg):
    try:
        d = email.utils.parsedate_to_datetime(str(msg['Date']))
        return d.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    except (TypeError, ValueError, IndexError):
        return None


def _body(msg, kind):
    """(contentType, content) preferring `kind` ('html' or 'text')."""
    order = ('html', 'plain') if kind == 'html' else ('plain', 'html')
    part = msg.get_body(preferencelist=order)
    if part is None:
        return kind, ''
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        content = part.get_payload(decode=True).decode('utf-8', 'replace')
    sub = part.get_content_subtype()
    if kind == 'html' and sub == 'plain':
        return 'html', '<html><body><pre>%s</pre></body></html>' % html.escape(content)
    if kind == 'text' and sub == 'html':
        return 'text', re.sub(r'<[^>]+>', '', content)
    return kind, content


def add_message(store, user, folder, raw, is_read=False, draft=False):
    """Stores raw MIME in `folder`; returns the record."""
    msg = parse_mime(raw)
    mid = str(msg['Message-ID'] or '').strip()
    if not mid:
        mid = '<%s@graph.crmsync.test>' % secrets.token_hex(12)
        raw = b'Message-ID: ' + mid.encode() + b'\r\n' + raw
    rec = {'id': new_id(), '_folder': folder['id'], '_raw': raw, 'isRead': is_read, 'isDraft': draft,
           'internetMessageId': mid, 'receivedDateTime': now_iso(), 'categories': [],
           'flag': {'flagStatus': 'notFlagged'}, 'importance': 'normal',
           'conversationId': 'AAQkAD' + secrets.token_hex(8)}
    store.bump(rec)
    user['_messages'][rec['id']] = rec
    return rec


def message_json(ctx, rec, body_kind=None):
    """A message in Graph's shape (see message-get.response.http)."""
    msg = parse_mime(rec['_raw'])
    kind = body_kind or ('text' if (ctx and ctx.prefer.get('outlook.body-content-type', '').lower() == 'text')
                         else 'html')
    ctype, content = _body(msg, kind)
    _, preview = _body(msg, 'text')
    frm = _addrs(msg, 'From')
    out = {
        '@odata.etag': etag(rec),
        'id': rec['id'],
        'createdDateTime': rec['createdDateTime'],
        'lastModifiedDateTime': rec['lastModifiedDateTime'],
        'changeKey': rec['changeKey'],
        'categories': rec['categories'],
        'receivedDateTime': rec['receivedDateTime'],
        'sentDateTime': _date(msg) or rec['receivedDateTime'],
        'hasAttachments': any(True for _ in msg.iter_attachments()) if msg.is_multipart() else False,
        'internetMessageId': rec['internetMessageId'],
        'subject': str(msg['Subject'] or ''),
        'bodyPreview': ' '.join(preview.split())[:255],
        'importance': rec['importance'],
        'parentFolderId': rec['_folder'],
        'conversationId': rec['conversationId'],
        'conversationIndex': base64.b64encode(rec['conversationId'].encode()).decode(),
        'isDeliveryReceiptRequested': False,
        'isReadReceiptRequested': False,
        'isRead': rec['isRead'],
        'isDraft': rec['isDraft'],
        'webLink': 'https://outlook.office365.com/owa/?ItemID=%s&exvsurl=1&viewmodel=ReadMessageItem'
                   % urllib.parse.quote(rec['id'], safe=''),
        'inferenceClassification': 'focused',
        'body': {'contentType': ctype, 'content': content},
        'sender': frm[0] if frm else None,
        'from': frm[0] if frm else None,
        'toRecipients': _addrs(msg, 'To'),
        'ccRecipients': _addrs(msg, 'Cc'),
        'bccRecipients': _addrs(msg, 'Bcc'),
        'replyTo': _addrs(msg, 'Reply-To'),
        'flag': rec['flag'],
    }
    select = {x.lower() for x in (ctx.select() or [])} if ctx else set()
    if 'internetmessageheaders' in select:
        out['internetMessageHeaders'] = [{'name': n, 'value': str(v)} for n, v in msg.items()]
    if 'uniquebody' in select:
        out['uniqueBody'] = out['body']
    return out


def _folder_json(user, folder):
    msgs = [m for m in user['_messages'].values() if m['_folder'] == folder['id']]
    out = {k: v for k, v in folder.items() if not k.startswith('_') and k not in ('changeKey', 'createdDateTime',
                                                                              'lastModifiedDateTime')}
    out['unreadItemCount'] = sum(1 for m in msgs if not m['isRead'])
    out['totalItemCount'] = len(msgs)
    return out


def _folder(ctx):
    f = ctx.store.folder(ctx.user, ctx.params['mailFolder-id'])
    if not f:
        raise not_found('mailFolder', ctx.params['mailFolder-id'])
    return f


def _message(ctx):
    mid = ctx.params['message-id']
    rec = ctx.user['_messages'].get(mid)
    if not rec or ('mailFolder-id' in ctx.params and rec['_folder'] != _folder(ctx)['id']):
        raise not_found('message', mid)
    return rec


def list_folders(ctx):
    folders = [_folder_json(ctx.user, f) for f in ctx.user['_folders'].values()]
    return listing(ctx, folders, "users('%s')/mailFolders" % ctx.user['id'], default_page=100)


def get_folder(ctx):
    return Response(200, project(_folder_json(ctx.user, _folder(ctx)), ctx.select()))


def _filter(ctx, msgs):
    raw = ctx.query.get('$filter')
    if not raw:
        return msgs
    m = re.fullmatch(r"\s*internetMessageId\s+eq\s+'((?:[^']|'')*)'\s*", raw, re.I)
    if m:
        want = m.group(1).replace("''", "'")
        return [r for r in msgs if r['internetMessageId'] == want]
    m = re.fullmatch(r'\s*isRead\s+eq\s+(true|false)\s*', raw, re.I)
    if m:
        return [r for r in msgs if r['isRead'] == (m.group(1).lower() == 'true')]
    raise GraphError(501, 'NotImplemented', 'the emulator supports $filter only on internetMessageId eq '
                     "'...' and isRead eq true|false, not %r" % raw)


def list_messages(ctx):
    msgs = list(ctx.user['_messages'].values())
    if 'mailFolder-id' in ctx.params:
        fid = _folder(ctx)['id']
        msgs = [m for m in msgs if m['_folder'] == fid]
    msgs = sorted(_filter(ctx, msgs), key=lambda r: r['receivedDateTime'], reverse=True)
    return listing(ctx, [message_json(ctx, r) for r in msgs], "users('%s')/messages" % ctx.user['id'])


def message_delta(ctx):
    folder = _folder(ctx)
    user = ctx.user

    def current(params):
        return [(r['id'], r['_seq'], project(dict(message_json(None, r), **{'@odata.type': '#microsoft.graph.message'}),
                                             params.get('select')))
                for r in user['_messages'].values() if r['_folder'] == folder['id']]
    return delta(ctx, ('messages', user['id'], folder['id']), current, 'Collection(message)',
                 {'select': ctx.select()})


def get_message(ctx):
    return Response(200, project(message_json(ctx, _message(ctx)), ctx.select()))


def get_value(ctx):
    return Response(200, _message(ctx)['_raw'], {'Content-Type': 'text/plain'})


def patch_message(ctx):
    rec = _message(ctx)
    body = ctx.json()
    for name in ('isRead', 'categories', 'flag', 'importance'):
        if name in body:
            rec[name] = body[name]
    ctx.store.bump(rec)
    return Response(200, message_json(ctx, rec))


def _move(ctx, rec, folder):
    """Moves `rec` to `folder`: like Exchange, the message gets a new id
    unless the request has `Prefer: IdType="ImmutableId"`."""
    user = ctx.user
    del user['_messages'][rec['id']]
    immutable = ctx.prefer.get('idtype', '').lower() == 'immutableid'
    rec = dict(rec, id=rec['id'] if immutable else new_id(), _folder=folder['id'])
    ctx.store.bump(rec)
    user['_messages'][rec['id']] = rec
    return rec


def move_message(ctx):
    rec = _message(ctx)
    body = {k.lower(): v for k, v in ctx.json().items()}
    dest = ctx.store.folder(ctx.user, str(body.get('destinationid', '')))
    if not dest:
        raise GraphError(400, 'ErrorInvalidIdMalformed', 'destinationId names no folder of this mailbox')
    return Response(201, message_json(ctx, _move(ctx, rec, dest)))


def delete_message(ctx):
    rec = _message(ctx)
    deleted = ctx.store.folder(ctx.user, 'deleteditems')
    if rec['_folder'] == deleted['id']:
        del ctx.user['_messages'][rec['id']]
    else:
        _move(ctx, rec, deleted)
    return Response(204)


def _mime_from_json(user, m):
    msg = email.message.EmailMessage()
    msg['From'] = '%s <%s>' % (user['displayName'], user['mail'])
    for header, key in (('To', 'toRecipients'), ('Cc', 'ccRecipients'), ('Bcc', 'bccRecipients')):
        addrs = [r.get('emailAddress', {}) for r in m.get(key) or []]
        if addrs:
            msg[header] = ', '.join(email.utils.formataddr((a.get('name') or '', a.get('address', '')))
                                    for a in addrs)
    msg['Subject'] = m.get('subject') or ''
    msg['Date'] = email.utils.formatdate(localtime=False)
    msg['Message-ID'] = '<%s@graph.crmsync.test>' % secrets.token_hex(12)
    for h in m.get('internetMessageHeaders') or []:
        msg[str(h.get('name'))] = str(h.get('value'))
    body = m.get('body') or {}
    subtype = 'html' if str(body.get('contentType', 'text')).lower() == 'html' else 'plain'
    msg.set_content(body.get('content') or '', subtype=subtype)
    return msg.as_bytes(policy=email.policy.SMTP)


def _decode_mime(ctx):
    try:
        return base64.b64decode(b''.join(ctx.body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise GraphError(400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.')


def create_draft(ctx):
    ctype = ctx.headers.get('content-type', '').split(';')[0].strip().lower()
    raw = _decode_mime(ctx) if ctype == 'text/plain' else _mime_from_json(ctx.user, ctx.json())
    folder = _folder(ctx) if 'mailFolder-id' in ctx.params else ctx.store.folder(ctx.user, 'drafts')
    rec = add_message(ctx.store, ctx.user, folder, raw, is_read=True, draft=folder['_wk'] == 'drafts')
    return Response(201, message_json(ctx, rec))


def send_draft(ctx):
    rec = _message(ctx)
    if not rec['isDraft']:
        raise GraphError(400, 'ErrorInvalidOperation', 'only a draft can be sent')
    del ctx.user['_messages'][rec['id']]
    deliver(ctx.store, ctx.user, rec['_raw'])
    return Response(202)


def send_mail(ctx):
    ctype = ctx.headers.get('content-type', '').split(';')[0].strip().lower()
    save = True
    if ctype == 'text/plain':
        raw = _decode_mime(ctx)
    else:
        body = {k.lower(): v for k, v in ctx.json().items()}
        if not isinstance(body.get('message'), dict):
            raise GraphError(400, 'ErrorInvalidParameter', 'the parameter Message is missing')
        save = body.get('savetosentitems', True) is not False
        raw = _mime_from_json(ctx.user, body['message'])
    deliver(ctx.store, ctx.user, raw, save)
    return Response(202)


def deliver(store, sender, raw, save=True):
    """Saves a copy in the sender's Sent Items and puts one in the Inbox of
    every recipient who is a local user; others are kept as outbound."""
    msg = parse_mime(raw)
    if save:
        add_message(store, sender, store.folder(sender, 'sentitems'), raw, is_read=True)
    rcpts = [a.lower() for _, a in email.utils.getaddresses(
        [str(v) for h in ('To', 'Cc', 'Bcc') for v in (msg.get_all(h) or [])]) if a]
    for address in dict.fromkeys(rcpts):
        user = store.user(address)
        if user:
            add_message(store, user, store.folder(user, 'inbox'), raw)
        else:
            store.outbound.append({'from': sender['mail'], 'to': address,
                                   'internetMessageId': str(msg['Message-ID'] or ''),
                                   'subject': str(msg['Subject'] or '')})


ROUTES = {
    ('GET', '/me/mailFolders'): (READ, list_folders),
    ('GET', '/me/mailFolders/{mailFolder-id}'): (READ, get_folder),
    ('GET', '/me/mailFolders/{mailFolder-id}/messages'): (READ, list_messages),
    ('GET', '/me/mailFolders/{mailFolder-id}/messages/delta'): (READ, message_delta),
    ('GET', '/me/mailFolders/{mailFolder-id}/messages/{message-id}'): (READ, get_message),
    ('GET', '/me/mailFolders/{mailFolder-id}/messages/{message-id}/$value'): (READ, get_value),
    ('GET', '/me/messages'): (READ, list_messages),
    ('GET', '/me/messages/{message-id}'): (READ, get_message),
    ('GET', '/me/messages/{message-id}/$value'): (READ, get_value),
    ('PATCH', '/me/messages/{message-id}'): (WRITE, patch_message),
    ('DELETE', '/me/messages/{message-id}'): (WRITE, delete_message),
    ('POST', '/me/messages/{message-id}/move'): (WRITE, move_message),
    ('POST', '/me/sendMail'): (SEND, send_mail),
    ('POST', '/me/messages'): (WRITE, create_draft),
    ('POST', '/me/mailFolders/{mailFolder-id}/messages'): (WRITE, create_draft),
    ('POST', '/me/messages/{message-id}/send'): (SEND, send_draft),
}
