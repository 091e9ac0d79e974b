"""Shared pieces of the Graph emulator: errors, request context, responses,
$select, list paging and delta rounds."""

import json
import os
import time
import urllib.parse

from store import DEFAULT_PAGE


class GraphError(Exception):
    """An error answer in Graph's shape: {"error": {"code", "message"}}."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def not_found(what, item_id):
    """404 ErrorItemNotFound."""
    return GraphError(404, 'ErrorItemNotFound',
                      'The specified object was not found in the store. (%s %s)' % (what, item_id))


class Response:
    """Status, headers and a body (JSON-able object, bytes or None)."""

    def __init__(self, status, body=None, headers=None):
        self.status = status
        self.body = body
        self.headers = headers or {}

    def encode(self):
        """(status, headers, bytes)."""
        headers = dict(self.headers)
        if self.body is None:
            data = b''
        elif isinstance(self.body, (bytes, bytearray)):
            data = bytes(self.body)
            headers.setdefault('Content-Type', 'text/plain')
        else:
            data = json.dumps(self.body).encode()
            headers.setdefault('Content-Type', 'application/json; odata.metadata=minimal')
        return self.status, headers, data


class Ctx:
    """One Graph request after validation and authentication."""

    def __init__(self, server, method, path, query, headers, body, ident, user, params):
        self.server = server
        self.store = server.store
        self.method = method
        self.path = path  # below /v1.0, as sent, without the query
        self.query = query  # {lower-case name: value}
        self.headers = headers  # {lower-case name: value}
        self.body = body
        self.ident = ident
        self.user = user  # the mailbox the request is about
        self.params = params  # path template parameters
        self.prefer = parse_prefer(headers.get('prefer', ''))
        self.applied = []

    def json(self):
        """The JSON body (an object), or 400."""
        try:
            value = json.loads(self.body or b'{}')
        except ValueError as e:
            raise GraphError(400, 'BadRequest', 'the body is not JSON: %s' % e)
        if not isinstance(value, dict):
            raise GraphError(400, 'BadRequest', 'the body must be a JSON object')
        return value

    def link(self, name, value, path=None):
        """An absolute link to `path` (default: this request's) with one query option."""
        return '%s%s?%s=%s' % (self.server.base_url, path or self.path, name, urllib.parse.quote(value))

    def context_url(self, what):
        """An @odata.context value."""
        return '%s/$metadata#%s' % (self.server.base_url, what)

    def page_size(self, default=DEFAULT_PAGE):
        """`Prefer: odata.maxpagesize` (recorded as applied) or the default."""
        size = self.prefer.get('odata.maxpagesize')
        if size and size.isdigit() and int(size) > 0:
            self.applied.append('odata.maxpagesize=%s' % size)
            return int(size)
        return default

    def select(self):
        """The $select names, or None."""
        raw = self.query.get('$select')
        return [s.strip() for s in raw.split(',') if s.strip()] if raw else None


def parse_prefer(raw):
    """{name: value} of a Prefer header (quotes removed)."""
    out = {}
    for item in raw.split(','):
        name, _, val = item.strip().partition('=')
        if name:
            out[name.strip().lower()] = val.strip().strip('"')
    return out


def project(item, select):
    """`item` reduced to the $select names (id, @odata.* and @removed kept)."""
    if not select:
        return item
    low = {s.lower() for s in select}
    return {k: v for k, v in item.items()
            if k.lower() in low or k == 'id' or k.startswith('@')}


def listing(ctx, items, context, default_page=10):
    """A collection answer with $top/$skip paging (@odata.nextLink)."""
    top = int(ctx.query.get('$top', default_page) or default_page)
    skip = int(ctx.query.get('$skip', 0) or 0)
    page = items[skip:skip + top]
    body = {'@odata.context': ctx.context_url(context), 'value': [project(i, ctx.select()) for i in page]}
    if skip + top < len(items):
        query = {k: v for k, v in ctx.query.items() if k not in ('$skip',)}
        query['$skip'] = str(skip + top)
        body['@odata.nextLink'] = '%s%s?%s' % (ctx.server.base_url, ctx.path,
                                               urllib.parse.urlencode(query, quote_via=urllib.parse.quote))
    return Response(200, body)


def delta(ctx, key, current, context, params=None):
    """A delta answer for collection `key` (kind, user id, collection id).

    `current(params)` returns [(id, seq, json)] of the collection now;
    `params` (e.g. $select, a calendarView window) are kept in the state
    token, so later requests carry only the token."""
    store = ctx.store
    size = ctx.page_size()
    token = ctx.query.get('$skiptoken') or ctx.query.get('$deltatoken')
    if token:
        ctx.server.faults.delta_fault(ctx)
        state = store.token_state(token, key)
        if state is None:
            raise GraphError(410, 'syncStateNotFound',
                             'The sync state generation is not found; start a full synchronization.')
        params = state['params']
        if state['kind'] == 'skip':
            page, link = store.continue_page(state, size)
        else:
            page, link = store.delta_page(key, current(params), state['snapshot'], size, params)
    else:
        params = params or {}
        page, link = store.delta_page(key, current(params), None, size, params)
    select = params.get('select')
    name = '@odata.nextLink' if link[0] == '$skiptoken' else '@odata.deltaLink'
    body = {'@odata.context': ctx.context_url(context), name: ctx.link(link[0], link[1]),
            'value': [project(i, select) for i in page]}
    headers = {}
    if ctx.applied:
        headers['Preference-Applied'] = ', '.join(ctx.applied)
    return Response(200, body, headers)


def etag(item):
    """The @odata.etag of an item."""
    return 'W/"%s"' % item['changeKey']


def check_match(ctx, item, body=None):
    """412 when If-Match, the body's @odata.etag or changeKey names another
    version of `item`."""
    wanted = []
    if_match = ctx.headers.get('if-match')
    if if_match and if_match.strip() != '*':
        wanted.append(if_match.strip())
    if body:
        if body.get('@odata.etag'):
            wanted.append(str(body['@odata.etag']))
        if body.get('changeKey'):
            wanted.append(str(body['changeKey']))
    for w in wanted:
        bare = w[2:] if w.startswith('W/') else w
        if bare.strip('"') != item['changeKey']:
            raise GraphError(412, 'ErrorIrresolvableConflict',
                             'The send or update operation could not be performed because the change key '
                             'passed in the request does not match the current change key for the item.')


def clean(body, drop=()):
    """A request body without @odata annotations and read-only names."""
    ro = {'id', 'changekey', 'createddatetime', 'lastmodifieddatetime'} | {d.lower() for d in drop}
    return {k: v for k, v in body.items() if not k.startswith('@') and k.lower() not in ro}


def error_response(e):
    """A GraphError as a Response."""
    return Response(e.status, {'error': {'code': e.code, 'message': e.message,
                                         'innerError': {'date': time.strftime('%Y-%m-%dT%H:%M:%S'),
                                                        'request-id': os.urandom(8).hex()}}}, dict(e.headers))
