"""Replay mode of the Graph emulator: answers each request with the fixture
response whose request matches it (method, path segments and query, compared
as the fixtures README describes), links inside rewritten to this server."""

import glob
import os
import urllib.parse

from common import GraphError, Response, error_response


class Replay:
    """The fixture request/response pairs under a directory."""

    def __init__(self, validate, root, base_url):
        self.v = validate
        self.base_url = base_url
        self.routes = {}
        for req in sorted(glob.glob(os.path.join(root, '**', '*.request.http'), recursive=True)):
            resp = req.replace('.request.http', '.response.http')
            if os.path.exists(resp):
                method, url, _, _ = validate.request_from_fixture(req)
                self.routes[self.key(method, url)] = resp

    def key(self, method, url):
        """(METHOD, lower-case path, sorted query) of a request."""
        u = urllib.parse.urlsplit(url if '://' in url else 'https://graph.microsoft.com/' + url.lstrip('/'))
        segs = [s.lower() for s in self.v.normalize_path(u.path, self.v.Result())]
        query = sorted((k.lower(), v) for k, v in urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        return method.upper(), '/'.join(segs), tuple(query)

    def answer(self, method, url):
        """The recorded answer, or 404 naming what has no fixture."""
        path = self.routes.get(self.key(method, url))
        if not path:
            return error_response(GraphError(404, 'NoFixture', 'no fixture for %s %s' % (method, url)))
        with open(path, encoding='utf-8') as f:
            start, headers, text = self.v.parse_http(f.read())
        text = text.replace('https://graph.microsoft.com/v1.0', self.base_url)
        hdrs = {n: v for n, v in headers if n.lower() != 'content-length'}
        return Response(int(start.split()[1]), text.encode(), hdrs)
