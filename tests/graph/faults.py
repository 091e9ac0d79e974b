"""Faults a test arms through the admin interface: throttling (429 with
Retry-After, and when the client came back), 503, a forced delta resync
(410), a sendMail whose response is lost, and revoked permissions."""

import time

from common import GraphError


class Faults:
    """Armed faults; `mailbox` None means the whole tenant."""

    def __init__(self):
        self.armed = []  # {kind, mailbox, remaining, ...}
        self.revoked = set()  # permission names (lower case)
        self.throttled = {}  # mailbox -> {at, retry_after} of the last 429
        self.throttle_log = []  # {mailbox, throttled_at, retry_after, next_request_at, waited}

    def arm(self, kind, mailbox=None, count=1, **extra):
        """Arms `count` faults of `kind` for `mailbox` (None: any)."""
        self.armed.append(dict(extra, kind=kind, mailbox=(mailbox or '').lower() or None, remaining=int(count)))

    def _take(self, kind, mailbox):
        for f in self.armed:
            if f['kind'] == kind and f['remaining'] > 0 and f['mailbox'] in (None, mailbox):
                f['remaining'] -= 1
                return f
        return None

    def before(self, mailbox):
        """Called for every Graph request about `mailbox`: records how long
        after a 429 the client came back, then raises an armed 429 or 503."""
        now = time.time()
        last = self.throttled.pop(mailbox, None)
        if last:
            self.throttle_log.append({'mailbox': mailbox, 'throttled_at': last['at'],
                                      'retry_after': last['retry_after'], 'next_request_at': now,
                                      'waited': now - last['at']})
        f = self._take('throttle', mailbox)
        if f:
            self.throttled[mailbox] = {'at': now, 'retry_after': f['retry_after']}
            raise GraphError(429, 'TooManyRequests', 'Too many requests; retry after %s seconds.' % f['retry_after'],
                             {'Retry-After': str(f['retry_after'])})
        f = self._take('fail', mailbox)
        if f:
            headers = {'Retry-After': str(f['retry_after'])} if f.get('retry_after') is not None else {}
            raise GraphError(int(f.get('status', 503)), 'ServiceNotAvailable',
                             'The service is temporarily unavailable.', headers)

    def delta_fault(self, ctx):
        """A forced resync on a delta request that carries a state token."""
        f = self._take('delta_reset', ctx.user['mail'])
        if f:
            ctx.store.forget_tokens(ctx.user['id'])
            code = f.get('code', 'resyncRequired')
            headers = {'Location': '%s%s' % (ctx.server.base_url, ctx.path)} if code == 'resyncRequired' else {}
            raise GraphError(410, code, 'The delta token is no longer valid; a full resync is required.', headers)

    def drop_after_send(self, mailbox):
        """True when the response of this sendMail must be lost."""
        return self._take('drop_after_send', mailbox) is not None
