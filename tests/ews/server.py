#!/usr/bin/python3
"""An HTTPS server that behaves like Exchange's EWS for the crmsync tests.

Every SOAP request is validated against Microsoft's EWS schema; invalid ones are
recorded (the test fails on them) and answered with Exchange's
ErrorSchemaValidation fault. Valid requests are answered statefully
(`ops.py`), or, with `--replay DIR`, from a recorded numbered conversation
(`replay.py`). Responses are validated too, so the emulator cannot drift from
the schema unnoticed. Tests drive it through `POST /admin/<command>` (JSON,
header `X-Admin-Token`); see docs/testing.md.

Usage: server.py --port N --cert PEM --key PEM --schema-dir DIR [--replay DIR] [--id ID]
The admin token comes from the environment (EWS_ADMIN_TOKEN), never argv.
"""

import argparse
import base64
import json
import os
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lxml import etree  # noqa: E402

import admin  # noqa: E402
import calendar_items as calendar  # noqa: E402
import ntlm  # noqa: E402
from ops import EwsFault, Ops, State  # noqa: E402
from shape import local  # noqa: E402
from xsd import M, S, T, Schema  # noqa: E402

MAX_BODY = 64 * 1024 * 1024
ERRORS_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class Harness:
    """Server-wide state shared by the request threads (guarded by `lock`)."""

    def __init__(self, schema, replay=None):
        self.schema = schema
        self.state = State()
        self.ops = Ops(schema, self.state)
        self.replay = replay
        self.lock = threading.RLock()
        self.passwords = {}
        self.impersonators = set()
        self.log = []
        self.invalid = []
        self.invalid_responses = []
        self.busy = {}
        self.drop_after = {}
        self.delays = {}
        self.http_faults = {}
        self.denied = {}
        self.autodiscover = {}
        self.base_url = ""
        self.invalid_log = None

    def note_invalid(self, kind, entry):
        """Records an invalid request or response, also in the file the Rust
        wrapper reads when it is dropped."""
        (self.invalid if kind == "request" else self.invalid_responses).append(entry)
        if self.invalid_log:
            with open(self.invalid_log, "a", encoding="utf-8") as f:
                f.write(json.dumps(dict(entry, kind=kind)) + "\n")

    def record(self, **entry):
        entry["seq"] = len(self.log) + 1
        entry.setdefault("time", time.time())
        self.log.append(entry)
        return entry


def envelope(body_child):
    env = etree.Element(f"{{{S}}}Envelope", nsmap={"s": S})
    header = etree.SubElement(env, f"{{{S}}}Header")
    etree.SubElement(
        header, f"{{{T}}}ServerVersionInfo", nsmap={"h": T},
        MajorVersion="15", MinorVersion="1", MajorBuildNumber="2507", MinorBuildNumber="6", Version="V2017_07_11")
    body = etree.SubElement(env, f"{{{S}}}Body", nsmap={"xsi": XSI, "xsd": XSD})
    body.append(body_child)
    etree.cleanup_namespaces(body_child, top_nsmap={"m": M, "t": T}, keep_ns_prefixes=["m", "t"])
    return env


def fault(code, text, backoff=None, line=None):
    """Exchange's SOAP fault (HTTP 500) for request-level errors."""
    f = etree.Element(f"{{{S}}}Fault")
    fc = etree.SubElement(f, "faultcode", nsmap={"t": T})
    fc.text = "t:" + code
    etree.SubElement(f, "faultstring").text = text
    detail = etree.SubElement(f, "detail")
    etree.SubElement(detail, f"{{{ERRORS_NS}}}ResponseCode", nsmap={"e": ERRORS_NS}).text = code
    etree.SubElement(detail, f"{{{ERRORS_NS}}}Message", nsmap={"e": ERRORS_NS}).text = text
    if line is not None:
        etree.SubElement(detail, f"{{{ERRORS_NS}}}Line", nsmap={"e": ERRORS_NS}).text = str(line)
    if backoff is not None:
        xml = etree.SubElement(detail, f"{{{T}}}MessageXml", nsmap={"t": T})
        etree.SubElement(xml, f"{{{T}}}Value", Name="BackOffMilliseconds").text = str(backoff)
    return f


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    harness: Harness = None

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    def send(self, status, body, ctype="text/xml; charset=utf-8", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(n)

    def do_GET(self):
        self.read_body()
        self.send(404, b"Not Found", "text/plain")

    def do_POST(self):
        path = self.path.split("?")[0].lower()
        try:
            body = self.read_body()
        except ValueError:
            self.send(413, b"Request Entity Too Large", "text/plain")
            return
        h = self.harness
        if path.startswith("/admin/"):
            admin.handle(self, h, path[len("/admin/"):], body)
        elif path == "/ews/exchange.asmx":
            self.ews(body)
        elif path == "/autodiscover/autodiscover.xml":
            self.autodiscover(body)
        else:
            self.send(404, b"Not Found", "text/plain")

    # --- authentication ----------------------------------------------------------------

    def authenticate(self, quiet=False):
        """The authenticated SMTP address, or None after answering 401 (or an
        NTLM challenge). With `quiet`, a failed login is not answered (the
        caller answers), but an NTLM challenge is (and `self.challenged` set)."""
        self.challenged = False
        h = self.harness
        auth = self.headers.get("Authorization") or ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, pw = base64.b64decode(value).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                user, pw = "", None
            with h.lock:
                address = login_address(user, h.passwords)
                if address is not None and pw is not None and h.passwords.get(address) == pw:
                    return address
        elif scheme.lower() in ("ntlm", "negotiate"):
            if getattr(self, "ntlm_state", None) is None:
                self.ntlm_state = ntlm.Connection()
            with h.lock:
                passwords = dict(h.passwords)
            reply, user = self.ntlm_state.step(value.strip(), passwords)
            if reply is not None:
                self.send(401, b"", "text/plain", [("WWW-Authenticate", f"{scheme} {reply}")])
                self.challenged = True
                return None
            if user is not None:
                return user
        elif not auth and getattr(self, "ntlm_state", None) is not None and self.ntlm_state.user:
            # IIS keeps an NTLM-authenticated connection authenticated.
            with h.lock:
                if self.ntlm_state.user in h.passwords:
                    return self.ntlm_state.user
        if not quiet:
            self.unauthorized()
        return None

    def unauthorized(self):
        self.send(401, b"", "text/html", [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM"),
                                           ("WWW-Authenticate", 'Basic realm="ews.test"')])

    # --- EWS -----------------------------------------------------------------------------

    def ews(self, body):
        h = self.harness
        if h.replay is not None:
            h.replay.handle(self, h, body)
            return
        user = self.authenticate()
        if user is None:
            with h.lock:
                h.record(operation=None, user=None, status=401, codes=[])
            return
        try:
            doc = etree.fromstring(body, PARSER).getroottree()
        except etree.XMLSyntaxError as e:
            with h.lock:
                h.note_invalid("request", {"operation": None, "error": f"not well-formed XML: {e}", "request": body.decode("utf-8", "replace")[:4000]})
                h.record(operation=None, user=user, status=500, codes=["ErrorSchemaValidation"])
            self.answer(fault("ErrorSchemaValidation", "The request failed schema validation."), 500)
            return
        body_el = doc.getroot().find(f"{{{S}}}Body")
        op_el = body_el[0] if body_el is not None and len(body_el) else None
        op = local(op_el) if op_el is not None else None
        error = h.schema.validate(doc)
        if error:
            with h.lock:
                h.note_invalid("request", {"operation": op, "error": error, "request": body.decode("utf-8", "replace")[:4000]})
                h.record(operation=op, user=user, status=500, codes=["ErrorSchemaValidation"], error=error)
            self.answer(fault("ErrorSchemaValidation", f"The request failed schema validation: {error}"), 500)
            return
        header = doc.getroot().find(f"{{{S}}}Header")
        target = None
        if header is not None:
            imp = header.find(f"{{{T}}}ExchangeImpersonation/{{{T}}}ConnectingSID")
            if imp is not None and len(imp):
                target = (imp[0].text or "").strip().lower()
        with h.lock:
            entry = h.record(operation=op, user=user, impersonated=target, status=200, codes=[],
                             attributes=dict(op_el.attrib))
            http_fault = take(h.http_faults, op)
            delay = None if http_fault else take(h.delays, op)
            if http_fault:
                entry["status"] = http_fault["status"]
        if delay:
            time.sleep(delay["delay_ms"] / 1000)
        if http_fault:
            self.send(http_fault["status"], http_fault.get("body", "").encode(), "text/html")
            return
        with h.lock:
            try:
                response, status = self.dispatch(user, target, op, op_el), 200
            except EwsFault as e:
                response, status = fault(e.code, e.text, getattr(e, "backoff", None)), 500
                entry["codes"] = [e.code]
            entry["status"] = status
            if status == 200:
                entry["codes"] = [c.text for c in response.iter("{*}ResponseCode")]
            which = op if h.drop_after.get(op) else "*"
            drop = h.drop_after.get(which, 0)
            if drop and status == 200:
                h.drop_after[which] = drop - 1
                entry["dropped"] = True
        if entry.get("dropped"):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.answer(response, status)

    def dispatch(self, user, target, op, op_el):
        h = self.harness
        acting = user
        if target and target != user:
            if user not in h.impersonators:
                raise EwsFault("ErrorImpersonateUserDenied", "The account does not have permission to impersonate the requested user.")
            if h.state.mailbox(target) is None:
                raise EwsFault("ErrorNonExistentMailbox", f"No mailbox with SMTP address {target} exists.")
            acting = target
        busy = h.busy.get(op) or h.busy.get("*")
        if busy and busy["count"] > 0:
            busy["count"] -= 1
            e = EwsFault("ErrorServerBusy", "The server cannot service this request right now. Try again later.")
            e.backoff = busy["backoff_ms"]
            raise e
        if op in h.denied.get(acting, set()) or "*" in h.denied.get(acting, set()):
            raise EwsFault("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        box = h.state.mailbox(acting)
        if box is None:
            raise EwsFault("ErrorNonExistentMailbox", f"No mailbox with SMTP address {acting} exists.")
        handler = getattr(h.ops, op, None)
        if handler is None or op.startswith("_"):
            h.note_invalid("request", {"operation": op, "error": f"{op} is not emulated by the test server", "request": ""})
            raise EwsFault("ErrorInvalidOperationType", f"{op} is not supported by this server.")
        try:
            return handler(box, op_el)
        except calendar.NotEmulated as e:
            h.note_invalid("request", {"operation": op, "error": str(e), "request": ""})
            raise EwsFault("ErrorInvalidRequest", str(e)) from e
        except EwsFault:
            raise
        except Exception as e:  # an emulator bug must fail the test, not hang it
            detail = "".join(traceback.format_exception(e))[-1500:]
            h.note_invalid("request", {"operation": op, "error": f"emulator error: {detail}", "request": ""})
            raise EwsFault("ErrorInternalServerError", "An internal server error occurred.") from e

    def answer(self, child, status):
        h = self.harness
        doc = envelope(child)
        error = h.schema.validate(doc.getroottree())
        raw = etree.tostring(doc, xml_declaration=True, encoding="utf-8")
        if error:
            with h.lock:
                h.note_invalid("response", {"operation": local(child), "error": error, "response": raw.decode()[:4000]})
        self.send(status, raw)

    # --- autodiscover --------------------------------------------------------------------

    def autodiscover(self, body):
        h = self.harness
        if h.replay is not None:
            h.replay.handle(self, h, body, autodiscover=True)
            return
        user = self.authenticate()
        if user is None:
            with h.lock:
                h.record(operation="Autodiscover", user=None, status=401, codes=[])
            return
        try:
            req = etree.fromstring(body, PARSER)
            address = (req.findtext(".//{*}EMailAddress") or "").strip().lower()
        except etree.XMLSyntaxError:
            address = ""
        with h.lock:
            conf = h.autodiscover.get(address, {})
            h.record(operation="Autodiscover", user=user, status=200, codes=[], address=address)
            known = h.state.mailbox(address) is not None
        ns_r = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
        ns_a = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
        root = etree.Element(f"{{{ns_r}}}Autodiscover", nsmap={None: ns_r})
        if not address or not (known or conf):
            resp = etree.SubElement(root, f"{{{ns_r}}}Response")
            err = etree.SubElement(resp, f"{{{ns_r}}}Error", Time=time.strftime("%H:%M:%S"), Id="1")
            etree.SubElement(err, f"{{{ns_r}}}ErrorCode").text = "600" if not address else "500"
            etree.SubElement(err, f"{{{ns_r}}}Message").text = "Invalid Request" if not address else "The e-mail address cannot be found."
            etree.SubElement(err, f"{{{ns_r}}}DebugData")
        else:
            resp = etree.SubElement(root, f"{{{ns_a}}}Response", nsmap={None: ns_a})
            a = lambda parent, name, text=None: _sub(parent, ns_a, name, text)  # noqa: E731
            if "redirect_addr" not in conf and "redirect_url" not in conf:
                u = a(resp, "User")
                a(u, "DisplayName", h.state.mailbox(address).display_name)
                a(u, "DeploymentId", "0f4ab8a4-2d5e-4c2b-9ad0-7c7a3d2e1b01")
            acc = a(resp, "Account")
            a(acc, "AccountType", "email")
            if "redirect_addr" in conf:
                a(acc, "Action", "redirectAddr")
                a(acc, "RedirectAddr", conf["redirect_addr"])
            elif "redirect_url" in conf:
                a(acc, "Action", "redirectUrl")
                a(acc, "RedirectUrl", conf["redirect_url"])
            else:
                a(acc, "Action", "settings")
                ews = conf.get("ews_url", h.base_url + "/EWS/Exchange.asmx")
                for kind in ("EXCH", "EXPR"):
                    p = a(acc, "Protocol")
                    a(p, "Type", kind)
                    a(p, "Server", "localhost")
                    a(p, "ASUrl", ews)
                    a(p, "EwsUrl", ews)
                    a(p, "OOFUrl", ews)
        self.send(200, etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def take(faults, op):
    """The pending fault for `op` (or for any operation, "*"), used up by one."""
    for key in (op, "*"):
        fault = faults.get(key)
        if fault and fault["count"] > 0:
            fault["count"] -= 1
            return fault
    return None


def login_address(user, passwords):
    """The mailbox a login name means: the SMTP address, its local part, or
    `DOMAIN\\user` (as IIS accepts them)."""
    name = user.split("\\")[-1].lower()
    if "@" in name:
        return name
    return next((a for a in passwords if a.split("@")[0] == name), None)


def _sub(parent, ns, name, text=None):
    el = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        el.text = text
    return el


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--schema-dir", required=True)
    p.add_argument("--replay")
    p.add_argument("--id", default="")
    p.add_argument("--invalid-log")
    args = p.parse_args()
    token = os.environ.get("EWS_ADMIN_TOKEN", "")
    if len(token) < 16:
        sys.exit("EWS_ADMIN_TOKEN (16+ characters) must be set")
    schema = Schema(args.schema_dir)
    replay = None
    if args.replay:
        import replay as replay_mod
        replay = replay_mod.Replay(args.replay)
    harness = Harness(schema, replay)
    harness.base_url = f"https://localhost:{args.port}"
    harness.invalid_log = args.invalid_log
    handler = type("BoundHandler", (Handler,), {"harness": harness, "admin_token": token})
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    httpd.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    print(f"crmsync-ews {args.id} listening on 127.0.0.1:{args.port}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
