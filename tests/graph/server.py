"""Microsoft Graph v1.0 emulator of crmsync's tests (started by tests/src/graph.rs).

An HTTPS server that answers like Graph as documented (shapes modelled on the
fixtures in shared/fixtures/graph), keeps state (users, mail, calendar,
contacts, To Do), and checks every request against the fixtures' OpenAPI
subset with their schema/validate.py before anything else: an invalid
request gets 400 and is recorded for the test to assert on.

Usage: python3 server.py --port P --cert C --key K --schema-dir DIR --id ID
           [--issuer URL --keys-dir DIR] [--replay FIXTURES_DIR] [--invalid-log FILE]
The admin token (for /_admin/*) comes in the environment as
CRMSYNC_GRAPH_ADMIN_TOKEN. Prints "crmsync-graph ID listening on
127.0.0.1:PORT" once it accepts connections.
"""

import argparse
import hmac
import http.server
import json
import os
import socket
import ssl
import sys
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import admin  # noqa: E402
import mail  # noqa: E402
import pim  # noqa: E402
from auth import Verifier, require  # noqa: E402
from common import Ctx, GraphError, Response, error_response, listing, not_found  # noqa: E402
from faults import Faults  # noqa: E402
from store import Store  # noqa: E402

V = None  # the fixtures' validate module, imported in main()
MAX_BATCH = 20


def get_me(ctx):
    return Response(200, dict({'@odata.context': ctx.context_url('users/$entity')}, **ctx.store.public_user(ctx.user)))


def list_users(ctx):
    users = [ctx.store.public_user(u) for u in ctx.store.users.values()]
    return listing(ctx, users, 'users', default_page=100)


def count_users(ctx):
    if ctx.headers.get('consistencylevel', '').lower() != 'eventual':
        raise GraphError(400, 'Request_BadRequest', 'Count is only supported with the ConsistencyLevel: eventual header.')
    return Response(200, str(len(ctx.store.users)).encode(), {'Content-Type': 'text/plain'})


ROUTES = {('GET', '/me'): ('me', get_me), ('GET', '/users'): ('users', list_users),
          ('GET', '/users/$count'): ('users', count_users)}
ROUTES.update(mail.ROUTES)
ROUTES.update(pim.ROUTES)


class Graph:
    """The emulator: store, faults, logs and the request pipeline."""

    def __init__(self, verifier, subset, base_url, replay=None, invalid_log=None):
        self.store = Store()
        self.faults = Faults()
        self.verifier = verifier
        self.subset = subset
        self.base_url = base_url
        self.replay = replay
        self.requests = []
        self.invalid = []
        self.invalid_log = invalid_log  # JSON lines, read by the harness without a request

    def handle(self, method, target, headers, body, batch=False):
        """Answers one request (target: the path from /v1.0 on, or a batch
        item's relative URL). Returns (Response, record)."""
        target = target if target.startswith('/v1.0') else '/v1.0' + ('' if target.startswith('/') else '/') + target
        url = 'https://graph.microsoft.com' + target
        split = urllib.parse.urlsplit(url)
        record = {'method': method, 'path': target, 'time': time.time(), 'subject': None, 'mailbox': None,
                  'status': None, 'batch': batch}
        hmap = {n.lower(): v for n, v in headers}
        result = V.validate(method, url, headers, body, self.subset)
        if not result.ok():
            self.record_invalid(method, target, result.errors, result.status)
            resp = error_response(GraphError(400, 'BadRequest', 'Invalid request: ' + '; '.join(result.errors)))
        elif self.replay is not None:
            resp = self.replay.answer(method, url)
        else:
            try:
                resp = self._dispatch(method, split, hmap, body, result.operation, record)
            except GraphError as e:
                resp = error_response(e)
            except Exception as e:  # a bug of the emulator: say so, keep serving, fail the test's check
                traceback.print_exc()
                self.record_invalid(method, target, ['emulator error %s: %s (see its log)' % (type(e).__name__, e)],
                                    'EMULATOR-ERROR')
                resp = error_response(GraphError(500, 'InternalServerError', 'emulator error (see its log)'))
        record['status'] = resp.status
        with self.store.lock:
            self.requests.append(record)
        return resp, record

    def record_invalid(self, method, path, errors, status):
        """Keeps a refused request for the test (and in the record file)."""
        entry = {'method': method, 'path': path, 'time': time.time(), 'errors': errors, 'status': status}
        with self.store.lock:
            self.invalid.append(entry)
            if self.invalid_log:
                with open(self.invalid_log, 'a', encoding='utf-8') as f:
                    f.write(json.dumps(entry) + '\n')

    def _dispatch(self, method, split, hmap, body, operation, record):
        template = operation.split(' ', 1)[1]
        if template == '/$batch':
            ident = self.verifier.identify(hmap.get('authorization'))
            record['subject'] = ident.subject
            return self.batch(hmap, body)
        ident = self.verifier.identify(hmap.get('authorization'))
        record['subject'] = ident.subject
        segs = V.normalize_path(split.path, V.Result())
        tsegs = [s for s in template.split('/') if s]
        params = {t[1:-1]: s for t, s in zip(tsegs, segs) if t.startswith('{')}
        with self.store.lock:
            if template.startswith('/users/{user-id}'):
                user = self.store.user(params.pop('user-id'))
                key = '/me' + template[len('/users/{user-id}'):]
                if not user:
                    raise not_found('user', segs[1])
                own = not ident.app and user['mail'] == ident.user
                area = ROUTES.get((method, key), ('users', None))[0]
                if key == '/me':
                    area = 'me' if own else 'users'
                elif not ident.app and not own:
                    raise GraphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try '
                                     'again. A delegated token reaches only its own mailbox.')
            elif tsegs[0] == 'me':
                if ident.app:
                    raise GraphError(400, 'BadRequest', '/me request is only valid with delegated authentication flow.')
                user = self.store.user(ident.user)
                if not user:
                    raise GraphError(404, 'ResourceNotFound', 'no mailbox for %s' % ident.user)
                key = template
                area = ROUTES.get((method, key), ('me', None))[0]
            else:
                user, key, area = None, template, ROUTES.get((method, template), ('users', None))[0]
            record['mailbox'] = user['mail'] if user else None
            route = ROUTES.get((method, key))
            if not route:
                raise GraphError(501, 'NotImplemented', 'the emulator does not implement %s %s' % (method, template))
            require(ident, area, self.faults.revoked)
            self.faults.before(record['mailbox'])
            query = {k.lower(): v for k, v in urllib.parse.parse_qsl(split.query, keep_blank_values=True)}
            path = split.path[len('/v1.0'):]
            ctx = Ctx(self, method, path, query, hmap, body, ident, user, params)
            resp = route[1](ctx)
            if isinstance(resp.body, dict) and resp.status in (200, 201) and '@odata.context' not in resp.body:
                names = [s for s in key.split('/')[2:] if not s.startswith('{') and not s.startswith('$')]
                where = "users('%s')/%s/$entity" % (user['id'], names[-1]) if user and names else 'users/$entity'
                resp.body = dict({'@odata.context': ctx.context_url(where)}, **resp.body)
            if key == '/me/sendMail' and self.faults.drop_after_send(record['mailbox']):
                resp.headers['X-Crmsync-Drop'] = '1'
            return resp

    def batch(self, hmap, body):
        """JSON batching: each item answered through the same pipeline."""
        requests = json.loads(body).get('requests', [])
        if len(requests) > MAX_BATCH:
            raise GraphError(400, 'BadRequest', 'Number of requests exceeds the limit of %d.' % MAX_BATCH)
        done, out = {}, []
        for item in requests:
            rid = str(item.get('id'))
            if any(done.get(str(d), 500) >= 400 for d in item.get('dependsOn') or []):
                resp = error_response(GraphError(424, 'FailedDependency', 'a request this one depends on failed'))
            else:
                headers = list((item.get('headers') or {}).items())
                if hmap.get('authorization'):
                    headers.append(('Authorization', hmap['authorization']))
                ibody = item.get('body')
                raw = b'' if ibody is None else (ibody.encode() if isinstance(ibody, str) else json.dumps(ibody).encode())
                resp, _ = self.handle(str(item.get('method', 'GET')).upper(), str(item.get('url', '')), headers, raw,
                                      batch=True)
            resp.headers.pop('X-Crmsync-Drop', None)
            done[rid] = resp.status
            status, headers, data = resp.encode()
            entry = {'id': rid, 'status': status, 'headers': headers}
            if data:
                ctype = headers.get('Content-Type', '')
                entry['body'] = json.loads(data) if ctype.startswith('application/json') else data.decode('utf-8',
                                                                                                          'replace')
            out.append(entry)
        return Response(200, {'responses': out})


class Handler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; /v1.0/* is Graph, /_admin/* the test's."""

    protocol_version = 'HTTP/1.1'
    graph = None
    admin_token = ''

    def log_message(self, fmt, *args):
        sys.stderr.write('%s %s\n' % (self.log_date_time_string(), fmt % args))

    def _body(self):
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            data = b''
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(n) if n else b''

    def _send(self, status, headers, data):
        self.send_response(status)
        for n, v in headers.items():
            self.send_header(n, v)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _any(self):
        body = self._body()
        path = self.path
        if path.startswith('/_admin/'):
            token = self.headers.get('X-Admin-Token', '')
            if not hmac.compare_digest(token, self.admin_token):
                return self._send(403, {'Content-Type': 'application/json'}, b'{"error":"admin token"}')
            status, value = admin.handle(self.graph, path[len('/_admin/'):], body)
            return self._send(status, {'Content-Type': 'application/json'}, json.dumps(value).encode())
        if not path.startswith('/v1.0/') and path != '/v1.0':
            self.graph.record_invalid(self.command, path, ['not a Microsoft Graph v1.0 path (want /v1.0/...)'],
                                      'UNKNOWN-PATH')
            return self._send(404, {'Content-Type': 'text/plain'}, b'not a Graph path (want /v1.0/...)')
        resp, record = self.graph.handle(self.command, path, list(self.headers.items()), body)
        if resp.headers.pop('X-Crmsync-Drop', None):
            record['status'] = 'dropped'
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        status, headers, data = resp.encode()
        return self._send(status, headers, data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _any


def main(argv):
    global V
    p = argparse.ArgumentParser()
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--cert', required=True)
    p.add_argument('--key', required=True)
    p.add_argument('--schema-dir', required=True)
    p.add_argument('--id', default='graph')
    p.add_argument('--issuer')
    p.add_argument('--keys-dir')
    p.add_argument('--replay')
    p.add_argument('--invalid-log')
    a = p.parse_args(argv)
    sys.path.insert(0, a.schema_dir)
    import validate
    V = validate
    subset = validate.Subset()
    base = 'https://127.0.0.1:%d/v1.0' % a.port
    replay = None
    if a.replay:
        import replay as replay_mod
        replay = replay_mod.Replay(validate, a.replay, base)
    Handler.graph = Graph(Verifier(a.issuer, a.keys_dir), subset, base, replay, a.invalid_log)
    Handler.admin_token = os.environ.get('CRMSYNC_GRAPH_ADMIN_TOKEN', '')
    if not Handler.admin_token:
        sys.exit('CRMSYNC_GRAPH_ADMIN_TOKEN is not set')
    server = http.server.ThreadingHTTPServer(('127.0.0.1', a.port), Handler)
    server.daemon_threads = True
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(a.cert, a.key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    print('crmsync-graph %s listening on 127.0.0.1:%d' % (a.id, a.port), flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main(sys.argv[1:])
