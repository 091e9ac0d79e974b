"""Mailboxes, folders and items of the emulated Exchange server.

Items keep their fields as EWS `t:` elements (copied from CreateItem requests or
derived from MIME), keyed by element name; `xsd.Schema.order` puts them back in
schema order when an item is written. Every change bumps the item's ChangeKey;
`version` counts content changes apart from the read flag, so SyncFolderItems
can tell an Update from a ReadFlagChange.
"""

import base64
import copy
import email
import email.policy
import email.utils
import itertools
import os
import time
from datetime import datetime, timezone

from lxml import etree

from xsd import T

_counter = itertools.count(1)

# (distinguished id, display name, element, FolderClass, parent)
DISTINGUISHED = [
    ("root", "Root", "Folder", None, None),
    ("msgfolderroot", "Top of Information Store", "Folder", "IPF.Note", "root"),
    ("inbox", "Inbox", "Folder", "IPF.Note", "msgfolderroot"),
    ("drafts", "Drafts", "Folder", "IPF.Note", "msgfolderroot"),
    ("sentitems", "Sent Items", "Folder", "IPF.Note", "msgfolderroot"),
    ("deleteditems", "Deleted Items", "Folder", "IPF.Note", "msgfolderroot"),
    ("outbox", "Outbox", "Folder", "IPF.Note", "msgfolderroot"),
    ("junkemail", "Junk Email", "Folder", "IPF.Note", "msgfolderroot"),
    ("calendar", "Calendar", "CalendarFolder", "IPF.Appointment", "msgfolderroot"),
    ("contacts", "Contacts", "ContactsFolder", "IPF.Contact", "msgfolderroot"),
    ("tasks", "Tasks", "TasksFolder", "IPF.Task", "msgfolderroot"),
]

ITEM_CLASS = {"Message": "IPM.Note", "CalendarItem": "IPM.Appointment", "Contact": "IPM.Contact", "Task": "IPM.Task"}
TYPE_NAME = {"Message": "MessageType", "CalendarItem": "CalendarItemType", "Contact": "ContactItemType", "Task": "TaskType"}


ID_PREFIX = b"\x00\x00\x0c\x24"


def new_id(tag):
    """An opaque base64 id like Exchange's (prefix `AAMkA`), unique per run."""
    raw = ID_PREFIX + tag.encode()[:4].ljust(4, b"_") + os.urandom(12) + next(_counter).to_bytes(8, "big")
    return base64.b64encode(raw).decode()


def new_change_key():
    return base64.b64encode(b"\x09\x00\x00\x00\x16\x00\x00\x00" + os.urandom(6) + next(_counter).to_bytes(6, "big")).decode()


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def t(name, text=None, **attrs):
    el = etree.Element(f"{{{T}}}{name}", {k: str(v) for k, v in attrs.items()}, nsmap={"t": T})
    if text is not None:
        el.text = str(text)
    return el


def mailbox_el(name, addr, tag="Mailbox"):
    box = t(tag)
    if name:
        box.append(t("Name", name))
    box.append(t("EmailAddress", addr))
    box.append(t("RoutingType", "SMTP"))
    return box


class Folder:
    def __init__(self, mailbox, display_name, element, folder_class, parent, distinguished=None):
        self.id = new_id("fold")
        self.change_key = new_change_key()
        self.mailbox = mailbox
        self.display_name = display_name
        self.element = element
        self.folder_class = folder_class
        self.parent = parent
        self.distinguished = distinguished
        self.items = {}


def extended_key(uri):
    """A canonical key for an ExtendedFieldURI element (tags and ids as hex,
    property-set GUIDs lower-case; PropertyType left out)."""
    out = []
    for k, v in sorted(uri.attrib.items()):
        if k == "PropertyType":
            continue
        if k in ("PropertyTag", "PropertyId"):
            v = hex(int(v, 0) if v.lower().startswith("0x") else int(v))
        elif k == "PropertySetId":
            v = v.lower()
        out.append(f"{k}={v}")
    return ";".join(out)


class Item:
    occurrence = None

    def __init__(self, kind, folder, fields, mime=None):
        self.id = new_id("item")
        self.kind = kind
        self.folder = folder
        self.fields = fields
        self.mime = mime
        self.change_key = new_change_key()
        self.version = 1
        self.created = now_iso()
        self.modified = self.created
        self.seq = next(_counter)
        self.extended = {}

    def text(self, name):
        el = self.fields.get(name)
        return None if el is None else (el.text or "")

    @property
    def is_read(self):
        return (self.text("IsRead") or "false") == "true"

    def touch(self, content=True):
        self.change_key = new_change_key()
        self.modified = now_iso()
        self.seq = next(_counter)
        if content:
            self.version += 1

    def summary(self):
        """What an admin read-back shows."""
        out = {
            "id": self.id,
            "change_key": self.change_key,
            "kind": self.kind,
            "folder": self.folder.distinguished or self.folder.display_name,
            "subject": self.text("Subject"),
            "internet_message_id": self.text("InternetMessageId"),
            "is_read": self.is_read if self.kind == "Message" else None,
            "fields": {k: etree.tostring(v, encoding="unicode") for k, v in self.fields.items()},
            "extended": {k: "".join(v.itertext()).strip() for k, v in self.extended.items()},
        }
        if self.mime is not None:
            out["mime"] = self.mime.decode("utf-8", "replace")
        return out


class Mailbox:
    def __init__(self, address, display_name=None):
        self.address = address.lower()
        self.display_name = display_name or address.split("@")[0]
        self.folders = {}
        self.by_name = {}
        for dist, name, element, klass, parent in DISTINGUISHED:
            f = Folder(self, name, element, klass, self.by_name.get(parent), dist)
            self.folders[f.id] = f
            self.by_name[dist] = f

    def folder(self, ref):
        """A folder by distinguished name, id or display name (case-insensitive)."""
        if ref in self.by_name:
            return self.by_name[ref]
        if ref in self.folders:
            return self.folders[ref]
        for f in self.folders.values():
            if f.display_name.lower() == str(ref).lower():
                return f
        return None

    def children(self, folder, deep):
        out = []
        for f in self.folders.values():
            if f.parent is folder:
                out.append(f)
                if deep:
                    out.extend(self.children(f, True))
        return out


def fields_from_mime(raw, mailbox):
    """EWS fields of a message from its RFC 822 bytes."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    f = {}

    def header(name):
        v = msg.get(name)
        return None if v is None else str(v)

    if header("Subject") is not None:
        f["Subject"] = t("Subject", header("Subject"))
    body = None
    try:
        part = msg.get_body(preferencelist=("html", "plain"))
        if part is not None:
            body = (part.get_content_subtype(), part.get_content())
    except (KeyError, LookupError, ValueError):
        body = None
    if body:
        f["Body"] = t("Body", body[1], BodyType="HTML" if body[0] == "html" else "Text")
    date = header("Date")
    if date:
        try:
            dt = email.utils.parsedate_to_datetime(date).astimezone(timezone.utc)
            f["DateTimeSent"] = t("DateTimeSent", dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        except (TypeError, ValueError):
            pass
    for hdr, name in (("In-Reply-To", "InReplyTo"),):
        if header(hdr):
            f[name] = t(name, header(hdr))
    has_att = any(p.get_content_disposition() == "attachment" for p in msg.walk())
    f["HasAttachments"] = t("HasAttachments", "true" if has_att else "false")
    for hdr, name, disp in (("To", "ToRecipients", "DisplayTo"), ("Cc", "CcRecipients", "DisplayCc")):
        addrs = email.utils.getaddresses([str(v) for v in msg.get_all(hdr, [])])
        if addrs:
            el = t(name)
            for n, a in addrs:
                el.append(mailbox_el(n, a))
            f[name] = el
            f[disp] = t(disp, "; ".join(n or a for n, a in addrs))
    frm = email.utils.getaddresses([str(v) for v in msg.get_all("From", [])])
    if frm:
        n, a = frm[0]
        f["From"] = t("From")
        f["From"].append(mailbox_el(n, a))
        f["Sender"] = t("Sender")
        f["Sender"].append(mailbox_el(n, a))
    if header("Message-ID"):
        f["InternetMessageId"] = t("InternetMessageId", header("Message-ID").strip())
    if header("References"):
        f["References"] = t("References", " ".join(header("References").split()))
    return f


def recipients(item):
    """SMTP addresses in To/Cc/Bcc of an item."""
    out = []
    for name in ("ToRecipients", "CcRecipients", "BccRecipients"):
        el = item.fields.get(name)
        if el is not None:
            out.extend(a.text.strip().lower() for a in el.iter(f"{{{T}}}EmailAddress") if a.text)
    return out


def make_mime(item, sender):
    """RFC 822 bytes for an item created without MimeContent (for sending)."""
    msg = email.message.EmailMessage()
    msg["From"] = sender
    to = [a for a in recipients(item)]
    if to:
        msg["To"] = ", ".join(to)
    msg["Subject"] = item.text("Subject") or ""
    msg["Date"] = email.utils.formatdate(time.time())
    msg["Message-ID"] = item.text("InternetMessageId") or email.utils.make_msgid(domain="ews.test")
    body = item.fields.get("Body")
    if body is not None and body.get("BodyType") == "HTML":
        msg.set_content(body.text or "", subtype="html")
    else:
        msg.set_content("" if body is None else (body.text or ""))
    return msg.as_bytes(policy=email.policy.SMTP)


def copy_fields(fields):
    return {k: copy.deepcopy(v) for k, v in fields.items()}
