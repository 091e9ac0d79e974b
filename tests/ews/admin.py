"""The test-control interface: `POST /admin/<command>` with a JSON object,
header `X-Admin-Token`; answers JSON. See docs/testing.md for the commands."""

import base64
import hmac
import json

from lxml import etree

import calendar_items as calendar
import store
from store import t
from xsd import M, S, T

NSMAP = {"t": T}


class AdminError(Exception):
    pass


def handle(req, h, command, body):
    token = req.headers.get("X-Admin-Token") or ""
    if not hmac.compare_digest(token, req.admin_token):
        req.send(403, b'{"error":"bad admin token"}', "application/json")
        return
    fn = COMMANDS.get(command.strip("/"))
    if fn is None:
        req.send(404, json.dumps({"error": f"unknown admin command {command}"}).encode(), "application/json")
        return
    try:
        args = json.loads(body or b"{}")
        with h.lock:
            result = fn(h, args)
    except (AdminError, KeyError, ValueError, TypeError) as e:
        req.send(400, json.dumps({"error": f"{command}: {e}"}).encode(), "application/json")
        return
    req.send(200, json.dumps(result).encode(), "application/json")


def _box(h, address):
    box = h.state.mailbox(address)
    if box is None:
        raise AdminError(f"no mailbox {address}")
    return box


def _folder(box, ref):
    folder = box.folder(ref or "inbox")
    if folder is None:
        raise AdminError(f"no folder {ref} in {box.address}")
    return folder


def _item(h, ident):
    item = h.state.items.get(ident)
    if item is None:
        raise AdminError(f"no item {ident}")
    return item


def add_user(h, a):
    box = h.state.add_mailbox(a["address"], a.get("display_name"))
    h.passwords[box.address] = a["password"]
    return {"address": box.address}


def set_password(h, a):
    box = _box(h, a["address"])
    h.passwords[box.address] = a["password"]
    return {}


def impersonation(h, a):
    """Grants (or takes away) the ApplicationImpersonation role."""
    account = a["account"].lower()
    if a.get("granted", True):
        h.impersonators.add(account)
    else:
        h.impersonators.discard(account)
    return {}


def seed_mime(h, a):
    box = _box(h, a["user"])
    folder = _folder(box, a.get("folder"))
    raw = base64.b64decode(a["mime_b64"]) if "mime_b64" in a else a["mime"].encode()
    fields = store.fields_from_mime(raw, box)
    fields["IsRead"] = t("IsRead", "true" if a.get("is_read") else "false")
    fields["IsDraft"] = t("IsDraft", "false")
    item = h.state.add_item("Message", folder, fields, raw)
    return item.summary()


def seed_mimes(h, a):
    """Many messages at once (benchmarks): `mimes_b64` list; returns their ids."""
    box = _box(h, a["user"])
    folder = _folder(box, a.get("folder"))
    ids = []
    for b64 in a["mimes_b64"]:
        raw = base64.b64decode(b64)
        fields = store.fields_from_mime(raw, box)
        fields["IsRead"] = t("IsRead", "true" if a.get("is_read") else "false")
        fields["IsDraft"] = t("IsDraft", "false")
        ids.append(h.state.add_item("Message", folder, fields, raw).id)
    return ids


def seed_item(h, a):
    """An item from its `t:CalendarItem`/`t:Contact`/`t:Task`/`t:Message`
    element (as a CreateItem request would carry it), schema-checked first."""
    box = _box(h, a["user"])
    spec = etree.fromstring(a["xml"].encode())
    env = etree.Element(f"{{{S}}}Envelope")
    body = etree.SubElement(env, f"{{{S}}}Body")
    create = etree.SubElement(body, f"{{{M}}}CreateItem", MessageDisposition="SaveOnly")
    items = etree.SubElement(create, f"{{{M}}}Items")
    items.append(spec)
    error = h.schema.validate(env.getroottree())
    if error:
        raise AdminError(f"seed item is not schema-valid: {error}")
    kind = etree.QName(spec).localname
    default = {"Message": "inbox", "CalendarItem": "calendar", "Contact": "contacts", "Task": "tasks"}.get(kind)
    if default is None:
        raise AdminError(f"cannot seed a {kind}")
    folder = _folder(box, a.get("folder") or default)
    item = h.ops.new_item(box, spec, folder)
    return item.summary()


def create_folder(h, a):
    box = _box(h, a["user"])
    parent = _folder(box, a.get("parent") or "msgfolderroot")
    klass = a.get("folder_class", "IPF.Note")
    element = {"IPF.Appointment": "CalendarFolder", "IPF.Contact": "ContactsFolder", "IPF.Task": "TasksFolder"}.get(klass, "Folder")
    folder = store.Folder(box, a["name"], element, klass, parent)
    box.folders[folder.id] = folder
    return {"id": folder.id}


def items(h, a):
    box = _box(h, a["user"])
    folder = _folder(box, a.get("folder"))
    return [i.summary() for i in sorted(folder.items.values(), key=lambda i: i.seq)]


def folders(h, a):
    box = _box(h, a["user"])
    return [{"id": f.id, "name": f.display_name, "distinguished": f.distinguished, "class": f.folder_class,
             "count": len(f.items)} for f in box.folders.values()]


def update_item(h, a):
    """Changes an item as another client would: `subject`, `is_read`, or
    `fields` (element name → `t:` element XML)."""
    item = _item(h, a["id"])
    content = False
    if "subject" in a:
        item.fields["Subject"] = t("Subject", a["subject"])
        content = True
    for name, xml in a.get("fields", {}).items():
        item.fields[name] = etree.fromstring(xml.encode())
        content = True
    if "is_read" in a:
        item.fields["IsRead"] = t("IsRead", "true" if a["is_read"] else "false")
    item.touch(content=content)
    return item.summary()


def delete_item(h, a):
    h.state.remove_item(_item(h, a["id"]))
    return {}


def validate(h, a):
    """Checks a whole SOAP envelope against the EWS schema: {"error": null | text}."""
    doc = etree.fromstring(a["xml"].encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    return {"error": h.schema.validate(doc.getroottree())}


def _occurrence(h, a):
    master = _item(h, a["id"])
    if not calendar.is_master(master):
        raise AdminError(f"{a['id']} is not a recurring master")
    orig, err = calendar.by_index(master, int(a["index"]))
    if err:
        raise AdminError(f"occurrence {a['index']}: {err}")
    return master, orig


def modify_occurrence(h, a):
    """Makes occurrence `index` an exception (as Outlook would): `subject`,
    `start`, `end` (ISO date-times), `location`."""
    master, orig = _occurrence(h, a)
    exc = calendar.state_of(master).exceptions.setdefault(orig, {})
    for key, name in (("subject", "Subject"), ("start", "Start"), ("end", "End"), ("location", "Location")):
        if key in a:
            exc[name] = t(name, a[key])
    master.touch()
    return master.summary()


def delete_occurrence(h, a):
    """Deletes occurrence `index` of a recurring master."""
    master, orig = _occurrence(h, a)
    calendar.state_of(master).deleted.add(orig)
    master.exceptions.pop(orig, None)
    master.touch()
    return master.summary()


def log(h, a):
    return h.log


def invalid(h, a):
    return {"requests": h.invalid, "responses": h.invalid_responses}


def fault(h, a):
    kind = a["kind"]
    if kind == "server_busy":
        h.busy[a["operation"]] = {"count": int(a.get("count", 1)), "backoff_ms": int(a.get("backoff_ms", 1000))}
    elif kind == "invalid_sync_state":
        if a.get("all"):
            h.state.bad_sync_states.update(h.state.sync_states)
        else:
            h.state.bad_sync_states.add(a["sync_state"])
    elif kind == "drop_after":
        h.drop_after[a["operation"]] = int(a.get("count", 1))
    elif kind == "delay":
        h.delays[a["operation"]] = {"count": int(a.get("count", 1)), "delay_ms": int(a["delay_ms"])}
    elif kind == "http_status":
        h.http_faults[a["operation"]] = {"count": int(a.get("count", 1)), "status": int(a["status"]),
                                         "body": a.get("body", "")}
    elif kind == "access_denied":
        h.denied.setdefault(a["user"].lower(), set()).add(a.get("operation", "*"))
    elif kind == "clear":
        h.busy.clear()
        h.drop_after.clear()
        h.delays.clear()
        h.http_faults.clear()
        h.denied.clear()
    else:
        raise AdminError(f"unknown fault kind {kind}")
    return {}


def autodiscover(h, a):
    """Per address: `redirect_addr`, `redirect_url` or `ews_url`."""
    h.autodiscover[a["address"].lower()] = {k: v for k, v in a.items() if k != "address"}
    return {}


COMMANDS = {
    "add_user": add_user, "set_password": set_password, "impersonation": impersonation,
    "seed_mime": seed_mime, "seed_mimes": seed_mimes, "seed_item": seed_item, "create_folder": create_folder,
    "items": items, "modify_occurrence": modify_occurrence, "delete_occurrence": delete_occurrence, "folders": folders, "update_item": update_item, "delete_item": delete_item,
    "log": log, "invalid": invalid, "validate": validate, "fault": fault, "autodiscover": autodiscover,
}
