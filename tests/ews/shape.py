"""Writing items and folders as Exchange does: response shapes and schema order."""

import base64
import copy

from lxml import etree

import calendar_items as calendar

import store
from store import ITEM_CLASS, TYPE_NAME, extended_key, t
from xsd import M, T

INDEXED = {"EmailAddress": "EmailAddresses", "PhoneNumber": "PhoneNumbers",
           "PhysicalAddress": "PhysicalAddresses", "ImAddress": "ImAddresses"}

DEFAULT = {
    "Message": ["ItemId", "ParentFolderId", "ItemClass", "Subject", "DateTimeReceived", "Size", "HasAttachments",
                "IsRead", "From", "ToRecipients", "InternetMessageId", "DateTimeSent"],
    "CalendarItem": ["ItemId", "ParentFolderId", "ItemClass", "Subject", "Start", "End", "IsAllDayEvent",
                     "Location", "Organizer", "CalendarItemType", "HasAttachments"],
    "Contact": ["ItemId", "ParentFolderId", "ItemClass", "Subject", "FileAs", "DisplayName", "GivenName", "Surname",
                "CompanyName", "EmailAddresses", "PhoneNumbers", "HasAttachments"],
    "Task": ["ItemId", "ParentFolderId", "ItemClass", "Subject", "DueDate", "PercentComplete", "Status",
             "HasAttachments"],
}


def m(name, text=None, **attrs):
    el = etree.Element(f"{{{M}}}{name}", {k: str(v) for k, v in attrs.items()}, nsmap={"m": M, "t": T})
    if text is not None:
        el.text = str(text)
    return el


def local(el):
    return etree.QName(el).localname


def field_name(uri):
    """The element an EWS FieldURI names: `item:Subject` → Subject."""
    name = uri.split(":")[1] if ":" in uri else uri
    return INDEXED.get(name, name)


class Shape:
    """An ItemShape / FolderShape: base shape, MIME flag, additional properties."""

    def __init__(self, el=None):
        self.base = "Default"
        self.mime = False
        self.extra = set()
        self.extended = set()
        if el is None:
            return
        for child in el:
            name = local(child)
            if name == "BaseShape":
                self.base = (child.text or "Default").strip()
            elif name == "IncludeMimeContent":
                self.mime = (child.text or "").strip() == "true"
            elif name == "AdditionalProperties":
                for prop in child:
                    uri = prop.get("FieldURI")
                    if uri:
                        self.extra.add(field_name(uri))
                    elif local(prop) == "ExtendedFieldURI":
                        self.extended.add(extended_key(prop))


def item_fields(item):
    """All fields of an item: stored ones plus those the server computes."""
    f = dict(item.fields)
    f["ItemId"] = t("ItemId", Id=item.id, ChangeKey=item.change_key)
    f["ParentFolderId"] = t("ParentFolderId", Id=item.folder.id, ChangeKey=item.folder.change_key)
    f.setdefault("ItemClass", t("ItemClass", ITEM_CLASS[item.kind]))
    f["DateTimeReceived"] = t("DateTimeReceived", item.created)
    f["DateTimeCreated"] = t("DateTimeCreated", item.created)
    f["LastModifiedTime"] = t("LastModifiedTime", item.modified)
    size = len(item.mime) if item.mime is not None else sum(len(etree.tostring(v)) for v in item.fields.values())
    f["Size"] = t("Size", size)
    f.setdefault("HasAttachments", t("HasAttachments", "false"))
    if item.kind == "Message":
        f.setdefault("IsRead", t("IsRead", "false"))
    if calendar.is_master(item):
        f.update(calendar.master_fields(item))
    if item.kind == "CalendarItem":
        kind = "RecurringMaster" if "Recurrence" in item.fields else "Single"
        f.setdefault("CalendarItemType", t("CalendarItemType", kind))
    mime = item.mime
    if mime is None and item.kind == "Message":
        mime = store.make_mime(item, item.folder.mailbox.address)
    if mime is not None:
        f["MimeContent"] = t("MimeContent", base64.b64encode(mime).decode(), CharacterSet="UTF-8")
    return f


def write_item(schema, item, shape):
    """The `t:Message`/`t:CalendarItem`/... element of `item` in `shape`."""
    everything = item_fields(item)
    if shape.base == "IdOnly":
        wanted = {"ItemId"}
    elif shape.base == "AllProperties":
        wanted = set(everything) - {"MimeContent"}
    else:
        wanted = set(DEFAULT[item.kind])
    wanted |= shape.extra
    if shape.mime:
        if "MimeContent" not in everything:
            raise calendar.NotEmulated(f"MimeContent of a {item.kind} is not emulated by the test server")
        wanted.add("MimeContent")
    else:
        wanted.discard("MimeContent")
    el = t(item.kind)
    for name in schema.order(TYPE_NAME[item.kind]):
        if name == "ExtendedProperty":
            for key, prop in item.extended.items():
                if key in shape.extended:
                    el.append(copy.deepcopy(prop))
        elif name in wanted and name in everything:
            el.append(copy.deepcopy(everything[name]))
    return el


def write_folder(schema, mailbox, folder, base="Default"):
    """A `t:Folder`/`t:CalendarFolder`/... element."""
    items = folder.items.values()
    f = {
        "FolderId": t("FolderId", Id=folder.id, ChangeKey=folder.change_key),
        "DisplayName": t("DisplayName", folder.display_name),
        "TotalCount": t("TotalCount", len(items)),
        "ChildFolderCount": t("ChildFolderCount", len(mailbox.children(folder, False))),
    }
    if folder.element == "Folder":
        f["UnreadCount"] = t("UnreadCount", sum(1 for i in items if i.kind == "Message" and not i.is_read))
    if base == "AllProperties":
        if folder.parent is not None:
            f["ParentFolderId"] = t("ParentFolderId", Id=folder.parent.id, ChangeKey=folder.parent.change_key)
        if folder.folder_class:
            f["FolderClass"] = t("FolderClass", folder.folder_class)
    if base == "IdOnly":
        f = {"FolderId": f["FolderId"]}
    el = t(folder.element)
    for name in schema.order(folder.element + "Type"):
        if name in f:
            el.append(f[name])
    return el


def response_message(op, code="NoError", text=None, backoff=None):
    """`m:{op}ResponseMessage` with ResponseClass, MessageText, ResponseCode."""
    error = code != "NoError"
    el = m(f"{op}ResponseMessage", ResponseClass="Error" if error else "Success")
    if error:
        el.append(m("MessageText", text or code))
    el.append(m("ResponseCode", code))
    if error:
        el.append(m("DescriptiveLinkKey", 0))
    if backoff is not None:
        xml = m("MessageXml")
        xml.append(t("Value", backoff, Name="BackOffMilliseconds"))
        el.append(xml)
    return el
