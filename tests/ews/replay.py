"""Replay of a recorded numbered conversation (`NNN-name.request.xml` /
`.response.xml`, optional `.http-status` and `.response.txt`, as in
shared/fixtures/ews/gromox).

A request is answered with the recorded response whose request has the same
operation and key fields: every Id / RecurringMasterId / InstanceIndex
attribute, SyncState, distinguished folder, base shape, MaxChangesReturned,
the disposition/delete attributes, the kinds and subjects of created items,
the impersonated address, and for autodiscover the e-mail address. The first
unserved match wins, so a chain plays in order; a repeated request gets the
same answer again. A request with no recording is recorded as invalid (the test
fails) and answered with a fault. A failed login gets the recorded 401, if any.
"""

import glob
import os
import re

from lxml import etree

S = "http://schemas.xmlsoap.org/soap/envelope/"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
KEY_ATTRS = ("Id", "RecurringMasterId", "InstanceIndex", "OccurrenceId", "MessageDisposition", "DeleteType",
             "Traversal", "ConflictResolution")
KEY_TEXT = ("SyncState", "BaseShape", "MaxChangesReturned", "PrimarySmtpAddress", "SmtpAddress",
            "EMailAddress", "SubscriptionId", "IncludeMimeContent")
CREATED_TEXT = ("Subject", "DisplayName", "FileAs", "GivenName", "Surname")


def _local(tag):
    return tag.split("}")[-1] if isinstance(tag, str) else ""


def key_of(body):
    """(operation, frozenset of key fields) of a request body, or None."""
    try:
        root = etree.fromstring(body, PARSER)
    except etree.XMLSyntaxError:
        return None
    if _local(root.tag) == "Autodiscover":
        op = "Autodiscover"
    else:
        b = root.find(f"{{{S}}}Body")
        if b is None or not len(b):
            return None
        op = _local(b[0].tag)
    fields = set()
    for el in root.iter():
        name = _local(el.tag)
        for attr in KEY_ATTRS:
            if el.get(attr) is not None:
                fields.add(f"{name}@{attr}={el.get(attr)}")
        if name in KEY_TEXT and el.text and el.text.strip():
            fields.add(f"{name}={el.text.strip().lower() if 'Address' in name else el.text.strip()}")
        parent = el.getparent()
        if parent is not None and _local(parent.tag) == "Items":
            fields.add(f"create:{name}")
            for child in el:
                if _local(child.tag) in CREATED_TEXT and child.text and child.text.strip():
                    fields.add(f"{_local(child.tag)}={child.text.strip()}")
        if name == "Mailbox" and parent is not None and _local(parent.tag) in ("DistinguishedFolderId", "FolderId"):
            address = el.findtext("{*}EmailAddress")
            if address:
                fields.add(f"mailbox={address.strip().lower()}")
    return op, frozenset(fields)


class Recording:
    def __init__(self, number, name, key, status, headers, body):
        self.number = number
        self.name = name
        self.key = key
        self.status = status
        self.headers = headers
        self.body = body
        self.served = False


class Replay:
    def __init__(self, directory):
        self.recordings = []
        self.unauthorized = None
        for req in sorted(glob.glob(os.path.join(directory, "[0-9][0-9][0-9]-*.request.xml"))):
            base = req[: -len(".request.xml")]
            name = os.path.basename(base)
            status, headers = 200, [("Content-Type", "text/xml; charset=utf-8")]
            if os.path.exists(base + ".http-status"):
                lines = open(base + ".http-status", encoding="utf-8").read().splitlines()
                status = int(re.match(r"(?:HTTP/1\.1 )?(\d{3})", lines[0]).group(1))
                headers = [tuple(p.strip() for p in line.split(":", 1)) for line in lines[1:] if ":" in line]
            path = base + ".response.xml"
            if not os.path.exists(path):
                path = base + ".response.txt"
            body = open(path, "rb").read()
            rec = Recording(int(name[:3]), name, key_of(open(req, "rb").read()), status, headers, body)
            self.recordings.append(rec)
            if status == 401 and self.unauthorized is None:
                self.unauthorized = rec

    def find(self, key):
        matches = [r for r in self.recordings if r.key == key and r.status != 401]
        fresh = [r for r in matches if not r.served]
        return (fresh or matches or [None])[0]

    def handle(self, req, h, body, autodiscover=False):
        """Answers one request (the handler has read `body`)."""
        user = req.authenticate(quiet=True)
        key = key_of(body)
        op = key[0] if key else None
        if user is None and req.challenged:
            return
        if user is None:
            with h.lock:
                h.record(operation=op, user=None, status=401, codes=[])
            rec = self.unauthorized
            if rec is None:
                req.unauthorized()
            else:
                req.send(401, rec.body, dict(rec.headers).get("Content-Type", "text/plain"),
                         [kv for kv in rec.headers if kv[0].lower() != "content-type"])
            return
        if not autodiscover:
            try:
                error = h.schema.validate(etree.fromstring(body, PARSER).getroottree())
            except etree.XMLSyntaxError as e:
                error = f"not well-formed XML: {e}"
            if error:
                with h.lock:
                    h.note_invalid("request", {"operation": op, "error": error, "request": body.decode("utf-8", "replace")[:4000]})
        with h.lock:
            rec = self.find(key) if key else None
            if rec is None:
                fields = sorted(key[1]) if key else []
                h.note_invalid("request", {"operation": op, "error": f"replay: no recorded answer for {op} {fields}",
                                           "request": body.decode("utf-8", "replace")[:4000]})
                h.record(operation=op, user=user, status=500, codes=["ErrorInternalServerError"])
            else:
                rec.served = True
                h.record(operation=op, user=user, status=rec.status, codes=[], replayed=rec.name)
        if rec is None:
            req.send(500, b"no recorded answer", "text/plain")
            return
        ctype = dict(rec.headers).get("Content-Type", "text/xml; charset=utf-8")
        req.send(rec.status, rec.body, ctype, [kv for kv in rec.headers if kv[0].lower() != "content-type"])
