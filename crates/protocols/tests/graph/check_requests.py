"""Checks requests built by the Graph client against the shared fixtures.

Reads a JSON list of cases on stdin: {name, method, url, headers: [[n, v]],
body (text or null), fixture (path below the graph fixtures, or null),
ignore_query: [fixture query names the builder does not send], ignore_body:
[body keys left out of the comparison]}. Each request is validated
with schema/validate.py and, where a fixture is named, compared with it
(method, path segments, query names, JSON body). Prints a JSON list of
{name, status, errors, diffs}. Usage: check_requests.py FIXTURES_DIR
"""
import json
import os
import sys
import urllib.parse

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, 'schema'))
import validate as V  # noqa: E402

ENUM_KEYS = {'contentType', 'type', 'importance', 'status', 'daysOfWeek', 'response'}


def norm_body(v, key=None):
    if isinstance(v, dict):
        return {k: norm_body(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [norm_body(x, key) for x in v]
    if isinstance(v, str) and key in ENUM_KEYS:
        return v.lower()
    return v


def parts(method, url):
    u = urllib.parse.urlsplit(url if '://' in url else 'https://graph.microsoft.com/' + url.lstrip('/'))
    segs = [s.lower() for s in V.normalize_path(u.path, V.Result())]
    names = {k.lower() for k, _ in urllib.parse.parse_qsl(u.query, keep_blank_values=True)}
    return method.upper(), segs, names


def check(case, subset):
    body = (case.get('body') or '').encode()
    r = V.validate(case['method'], case['url'], case['headers'], body, subset)
    out = {'name': case['name'], 'status': r.status, 'errors': list(r.errors), 'diffs': []}
    fx = case.get('fixture')
    if not fx:
        return out
    fm, furl, _, fbody = V.request_from_fixture(os.path.join(ROOT, fx))
    m1, s1, q1 = parts(case['method'], case['url'])
    m2, s2, q2 = parts(fm, furl)
    q2 -= {q.lower() for q in case.get('ignore_query', [])}
    if m1 != m2:
        out['diffs'].append('method %s, fixture %s' % (m1, m2))
    if s1 != s2:
        out['diffs'].append('path %s, fixture %s' % ('/'.join(s1), '/'.join(s2)))
    if q1 != q2:
        out['diffs'].append('query names %s, fixture %s' % (sorted(q1), sorted(q2)))
    if fbody.strip():
        want = json.loads(fbody)
        for k in case.get('ignore_body', []):
            want.pop(k, None)
        got = json.loads(body) if body.strip() else {}
        for k in case.get('ignore_body', []):
            got.pop(k, None)
        if norm_body(got) != norm_body(want):
            out['diffs'].append('body %s, fixture %s' % (json.dumps(got, sort_keys=True), json.dumps(want, sort_keys=True)))
    return out


def main():
    subset = V.Subset()
    cases = json.load(sys.stdin)
    json.dump([check(c, subset) for c in cases], sys.stdout)


main()
