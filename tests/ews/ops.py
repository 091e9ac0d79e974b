"""The EWS operations, answered statefully from the mailboxes in `State`.

Each handler takes the operation element (`m:GetItem`, ...) and returns the
`m:{Op}Response` element. Errors about one id go into that id's response
message, as Exchange does; `EwsFault` is for whole-request failures.
"""

import base64
import binascii
import copy
import os


import calendar_items as calendar
import store
from match import calendar_view, delete_indexed, matches, merge_indexed
from shape import Shape, field_name, local, m, response_message, write_folder, write_item
from store import Item, t
from xsd import M, T

NS = {"m": M, "t": T}


class EwsFault(Exception):
    """A request-level error answered as a SOAP fault (HTTP 500)."""

    def __init__(self, code, text):
        super().__init__(text)
        self.code = code
        self.text = text


class State:
    """Everything the server knows: mailboxes, item index, sync states."""

    def __init__(self):
        self.mailboxes = {}
        self.items = {}
        self.sync_states = {}
        self.bad_sync_states = set()

    def mailbox(self, address):
        return self.mailboxes.get(address.lower())

    def add_mailbox(self, address, display_name=None):
        box = self.mailboxes.get(address.lower())
        if box is None:
            box = store.Mailbox(address, display_name)
            self.mailboxes[box.address] = box
        return box

    def add_item(self, kind, folder, fields, mime=None):
        item = Item(kind, folder, fields, mime)
        folder.items[item.id] = item
        self.items[item.id] = item
        return item

    def remove_item(self, item):
        item.folder.items.pop(item.id, None)
        self.items.pop(item.id, None)

    def move_item(self, item, folder):
        """Moves to `folder`; like Exchange, the moved item gets a new id."""
        self.remove_item(item)
        moved = Item(item.kind, folder, item.fields, item.mime)
        moved.created = item.created
        moved.extended = item.extended
        folder.items[moved.id] = moved
        self.items[moved.id] = moved
        return moved


class Ops:
    def __init__(self, schema, state):
        self.schema = schema
        self.state = state

    # --- helpers -----------------------------------------------------------------

    def folder_of(self, box, ref_el):
        """The folder a FolderId / DistinguishedFolderId element names, or None."""
        name = local(ref_el)
        if name == "DistinguishedFolderId":
            mb = ref_el.find("t:Mailbox/t:EmailAddress", NS)
            if mb is not None and mb.text and mb.text.strip().lower() != box.address:
                other = self.state.mailbox(mb.text.strip())
                if other is None:
                    raise EwsFault("ErrorNonExistentMailbox", f"No mailbox with the SMTP address {mb.text}.")
                raise EwsFault("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            return box.by_name.get(ref_el.get("Id"))
        if name == "FolderId":
            return box.folders.get(ref_el.get("Id"))
        return None

    def lookup(self, box, ident):
        """(item, error code) for an ItemId's Id."""
        try:
            raw = base64.b64decode(ident or "", validate=True)
        except (binascii.Error, ValueError):
            return None, "ErrorInvalidIdMalformed"
        if not raw.startswith(store.ID_PREFIX):
            return None, "ErrorInvalidIdMalformed"
        occ = calendar.OCCURRENCES.get(ident)
        if occ is not None:
            master, orig = occ
            if self.state.items.get(master.id) is not master or master.folder.mailbox is not box:
                return None, "ErrorItemNotFound"
            if orig in calendar.state_of(master).deleted:
                return None, "ErrorCalendarOccurrenceIsDeletedFromRecurrence"
            return calendar.view(master, orig), None
        item = self.state.items.get(ident)
        if item is None or item.folder.mailbox is not box:
            return None, "ErrorItemNotFound"
        return item, None

    def item_of(self, box, id_el):
        """(item or occurrence view, error code) for an ItemId,
        OccurrenceItemId or RecurringMasterItemId element."""
        kind = local(id_el)
        if kind == "OccurrenceItemId":
            master, err = self.lookup(box, id_el.get("RecurringMasterId"))
            if err:
                return None, err
            if not calendar.is_master(master):
                return None, "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange"
            orig, err = calendar.by_index(master, int(id_el.get("InstanceIndex")))
            return (None, err) if err else (calendar.view(master, orig), None)
        if kind == "RecurringMasterItemId":
            item, err = self.lookup(box, id_el.get("OccurrenceId"))
            if err:
                return None, err
            return (item.occurrence[0] if item.occurrence else item), None
        return self.lookup(box, id_el.get("Id"))

    def respond(self, op, messages):
        resp = m(f"{op}Response")
        msgs = m("ResponseMessages")
        for msg in messages:
            msgs.append(msg)
        resp.append(msgs)
        return resp

    # --- folders -----------------------------------------------------------------

    def GetFolder(self, box, req):
        base = (req.findtext("m:FolderShape/t:BaseShape", "Default", NS) or "Default").strip()
        out = []
        for ref in req.find("m:FolderIds", NS):
            folder = self.folder_of(box, ref)
            if folder is None:
                out.append(response_message("GetFolder", "ErrorFolderNotFound", "The specified folder could not be found in the store."))
                continue
            msg = response_message("GetFolder")
            fs = m("Folders")
            fs.append(write_folder(self.schema, box, folder, base))
            msg.append(fs)
            out.append(msg)
        return self.respond("GetFolder", out)

    def FindFolder(self, box, req):
        base = (req.findtext("m:FolderShape/t:BaseShape", "Default", NS) or "Default").strip()
        deep = req.get("Traversal") == "Deep"
        out = []
        for ref in req.find("m:ParentFolderIds", NS):
            parent = self.folder_of(box, ref)
            if parent is None:
                out.append(response_message("FindFolder", "ErrorFolderNotFound", "The specified folder could not be found in the store."))
                continue
            found = box.children(parent, deep)
            msg = response_message("FindFolder")
            root = m("RootFolder", TotalItemsInView=len(found), IncludesLastItemInRange="true")
            fs = t("Folders")
            for f in found:
                fs.append(write_folder(self.schema, box, f, base))
            root.append(fs)
            msg.append(root)
            out.append(msg)
        return self.respond("FindFolder", out)

    def CreateFolder(self, box, req):
        parent = self.folder_of(box, req.find("m:ParentFolderId", NS)[0])
        out = []
        for spec in req.find("m:Folders", NS):
            name = spec.findtext("t:DisplayName", "", NS)
            if parent is None:
                out.append(response_message("CreateFolder", "ErrorParentFolderNotFound", "The parent folder could not be found."))
                continue
            if any(f.display_name.lower() == name.lower() for f in box.children(parent, False)):
                out.append(response_message("CreateFolder", "ErrorFolderExists", "A folder with the specified name already exists."))
                continue
            klass = spec.findtext("t:FolderClass", None, NS) or {
                "CalendarFolder": "IPF.Appointment", "ContactsFolder": "IPF.Contact", "TasksFolder": "IPF.Task"}.get(local(spec), "IPF.Note")
            folder = store.Folder(box, name, local(spec), klass, parent)
            box.folders[folder.id] = folder
            msg = response_message("CreateFolder")
            fs = m("Folders")
            fe = t(folder.element)
            fe.append(t("FolderId", Id=folder.id, ChangeKey=folder.change_key))
            fs.append(fe)
            msg.append(fs)
            out.append(msg)
        return self.respond("CreateFolder", out)

    # --- sync --------------------------------------------------------------------

    def SyncFolderItems(self, box, req):
        op = "SyncFolderItems"
        shape = Shape(req.find("m:ItemShape", NS))
        folder = self.folder_of(box, req.find("m:SyncFolderId", NS)[0])
        if folder is None:
            return self.respond(op, [response_message(op, "ErrorFolderNotFound", "The specified folder could not be found in the store.")])
        token = (req.findtext("m:SyncState", "", NS) or "").strip()
        ignore = {i.get("Id") for i in req.findall("m:Ignore/t:ItemId", NS)}
        limit = int(req.findtext("m:MaxChangesReturned", "512", NS))
        if token:
            known = self.state.sync_states.get(token)
            if token in self.state.bad_sync_states or known is None or known[0] != folder.id:
                msg = response_message(op, "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid.")
                msg.append(m("SyncState"))
                msg.append(m("IncludesLastItemInRange", "true"))
                return self.respond(op, [msg])
            snapshot = dict(known[1])
        else:
            snapshot = {}
        changes = []
        for ident in list(snapshot):
            if ident not in folder.items:
                changes.append((0, "Delete", ident, None))
        for item in sorted(folder.items.values(), key=lambda i: i.seq):
            was = snapshot.get(item.id)
            if was is None:
                changes.append((item.seq, "Create", item.id, item))
            elif was[0] != item.version:
                changes.append((item.seq, "Update", item.id, item))
            elif was[1] != item.is_read:
                changes.append((item.seq, "ReadFlagChange", item.id, item))
        page, rest = changes[:limit], changes[limit:]
        xml = m("Changes")
        for _, kind, ident, item in page:
            if kind == "Delete":
                snapshot.pop(ident, None)
            else:
                snapshot[ident] = (item.version, item.is_read)
            if ident in ignore:
                continue
            el = t(kind)
            if kind in ("Create", "Update"):
                el.append(write_item(self.schema, item, shape))
            elif kind == "Delete":
                el.append(t("ItemId", Id=ident))
            else:
                el.append(t("ItemId", Id=ident, ChangeKey=item.change_key))
                el.append(t("IsRead", "true" if item.is_read else "false"))
            xml.append(el)
        new_token = base64.b64encode(b"H4sIAAAAAAAEAO29B2AcSZY" + os.urandom(18)).decode()
        self.state.sync_states[new_token] = (folder.id, snapshot)
        msg = response_message(op)
        msg.append(m("SyncState", new_token))
        msg.append(m("IncludesLastItemInRange", "false" if rest else "true"))
        msg.append(xml)
        return self.respond(op, [msg])

    def SyncFolderHierarchy(self, box, req):
        op = "SyncFolderHierarchy"
        base = (req.findtext("m:FolderShape/t:BaseShape", "Default", NS) or "Default").strip()
        ref = req.find("m:SyncFolderId", NS)
        top = self.folder_of(box, ref[0]) if ref is not None else box.by_name["msgfolderroot"]
        if top is None:
            return self.respond(op, [response_message(op, "ErrorFolderNotFound", "The specified folder could not be found in the store.")])
        token = (req.findtext("m:SyncState", "", NS) or "").strip()
        snapshot = {}
        if token:
            known = self.state.sync_states.get(token)
            if token in self.state.bad_sync_states or known is None or known[0] != ("hierarchy", top.id):
                msg = response_message(op, "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid.")
                msg.append(m("SyncState"))
                msg.append(m("IncludesLastFolderInRange", "true"))
                return self.respond(op, [msg])
            snapshot = dict(known[1])
        current = {f.id: f for f in box.children(top, True)}
        changes = m("Changes")
        for ident in [i for i in snapshot if i not in current]:
            el = t("Delete")
            el.append(t("FolderId", Id=ident))
            changes.append(el)
        for f in current.values():
            now = (f.display_name, f.parent.id if f.parent else None)
            was = snapshot.get(f.id)
            if was != now:
                el = t("Create" if was is None else "Update")
                el.append(write_folder(self.schema, box, f, base))
                changes.append(el)
        new_token = base64.b64encode(b"H4sIAAAAAAAEAHierarchy" + os.urandom(18)).decode()
        self.state.sync_states[new_token] = (("hierarchy", top.id), {
            i: (f.display_name, f.parent.id if f.parent else None) for i, f in current.items()})
        msg = response_message(op)
        msg.append(m("SyncState", new_token))
        msg.append(m("IncludesLastFolderInRange", "true"))
        msg.append(changes)
        return self.respond(op, [msg])

    # --- items -------------------------------------------------------------------

    def GetItem(self, box, req):
        shape = Shape(req.find("m:ItemShape", NS))
        out = []
        for id_el in req.find("m:ItemIds", NS):
            item, err = self.item_of(box, id_el)
            if err:
                out.append(response_message("GetItem", err, _TEXT[err]))
                out[-1].append(m("Items"))
                continue
            msg = response_message("GetItem")
            items = m("Items")
            items.append(write_item(self.schema, item, shape))
            msg.append(items)
            out.append(msg)
        return self.respond("GetItem", out)

    def FindItem(self, box, req):
        shape = Shape(req.find("m:ItemShape", NS))
        restriction = req.find("m:Restriction", NS)
        view = req.find("m:CalendarView", NS)
        paged = req.find("m:IndexedPageItemView", NS)
        out = []
        for ref in req.find("m:ParentFolderIds", NS):
            folder = self.folder_of(box, ref)
            if folder is None:
                out.append(response_message("FindItem", "ErrorFolderNotFound", "The specified folder could not be found in the store."))
                continue
            found = sorted(folder.items.values(), key=lambda i: i.seq)
            if restriction is not None and len(restriction):
                found = [i for i in found if matches(restriction[0], i)]
            if view is not None:
                found = calendar_view(found, view)
            total = len(found)
            last = True
            if paged is not None:
                offset = int(paged.get("Offset", "0"))
                limit = int(paged.get("MaxEntriesReturned", str(total or 1)))
                found = found[offset:offset + limit]
                last = offset + len(found) >= total
            msg = response_message("FindItem")
            root = m("RootFolder", TotalItemsInView=total, IncludesLastItemInRange="true" if last else "false")
            if paged is not None and not last:
                root.set("IndexedPagingOffset", str(int(paged.get("Offset", "0")) + len(found)))
            items = t("Items")
            for i in found:
                items.append(write_item(self.schema, i, shape))
            root.append(items)
            msg.append(root)
            out.append(msg)
        return self.respond("FindItem", out)

    def new_item(self, box, spec, folder):
        """Creates an item from a `t:Message`/`t:CalendarItem`/... element."""
        kind = local(spec)
        fields, mime, extended = {}, None, {}
        for child in spec:
            name = local(child)
            if name == "MimeContent":
                mime = base64.b64decode((child.text or "").strip())
                fields.update(store.fields_from_mime(mime, box))
            elif name == "ExtendedProperty":
                tag = child.find("t:ExtendedFieldURI", NS)
                if tag is not None and tag.get("PropertyTag", "").lower() in ("0x0e07", "3591"):
                    read = int(child.findtext("t:Value", "0", NS)) & 1
                    fields["IsRead"] = t("IsRead", "true" if read else "false")
                elif tag is not None:
                    extended[store.extended_key(tag)] = copy.deepcopy(child)
            elif name not in ("ItemId", "ParentFolderId"):
                fields[name] = copy.deepcopy(child)
        if kind == "CalendarItem" and "Organizer" not in fields:
            org = t("Organizer")
            org.append(store.mailbox_el(box.display_name, box.address))
            fields["Organizer"] = org
        if kind == "Contact" and "FileAs" not in fields and "DisplayName" in fields:
            fields["FileAs"] = t("FileAs", fields["DisplayName"].text)
        item = self.state.add_item(kind, folder, fields, mime)
        item.extended = extended
        if calendar.is_master(item):
            calendar.adopt_seeded(item)
        return item

    def CreateItem(self, box, req):
        disposition = req.get("MessageDisposition")
        saved = req.find("m:SavedItemFolderId", NS)
        target = self.folder_of(box, saved[0]) if saved is not None else None
        out = []
        for spec in req.find("m:Items", NS):
            kind = local(spec)
            if kind not in store.ITEM_CLASS:
                out.append(response_message("CreateItem", "ErrorInvalidRequest", f"{kind} is not supported by this server."))
                continue
            if kind == "Message" and disposition is None:
                out.append(response_message("CreateItem", "ErrorInvalidRequest", "MessageDisposition is required for messages."))
                continue
            msg = response_message("CreateItem")
            items = m("Items")
            if kind == "Message" and disposition in ("SendOnly", "SendAndSaveCopy"):
                self.send(box, spec, (target or box.by_name["sentitems"]) if disposition == "SendAndSaveCopy" else None)
            else:
                default = {"Message": "drafts", "CalendarItem": "calendar", "Contact": "contacts", "Task": "tasks"}[kind]
                folder = target or box.by_name[default]
                item = self.new_item(box, spec, folder)
                el = t(kind)
                el.append(t("ItemId", Id=item.id, ChangeKey=item.change_key))
                items.append(el)
            msg.append(items)
            out.append(msg)
        return self.respond("CreateItem", out)

    def send(self, box, spec, saved_folder):
        """Sends a message: a copy in Sent Items (unless SendOnly) and one in
        the Inbox of every local recipient."""
        draft = self.new_item(box, spec, box.by_name["drafts"])
        self.state.remove_item(draft)
        mime = draft.mime or store.make_mime(draft, box.address)
        fields = store.copy_fields(draft.fields)
        fields.update(store.fields_from_mime(mime, box))
        if "From" not in fields:
            fields["From"] = t("From")
            fields["From"].append(store.mailbox_el(box.display_name, box.address))
        if saved_folder is not None:
            sent = store.copy_fields(fields)
            sent["IsRead"] = t("IsRead", "true")
            sent["IsDraft"] = t("IsDraft", "false")
            self.state.add_item("Message", saved_folder, sent, mime)
        for addr in store.recipients(draft):
            other = self.state.mailbox(addr)
            if other is not None:
                got = store.copy_fields(fields)
                got["IsRead"] = t("IsRead", "false")
                self.state.add_item("Message", other.by_name["inbox"], got, mime)

    def UpdateItem(self, box, req):
        resolution = req.get("ConflictResolution", "AutoResolve")
        out = []
        for change in req.find("m:ItemChanges", NS):
            id_el = change[0]
            item, err = self.item_of(box, id_el)
            if err:
                out.append(response_message("UpdateItem", err, _TEXT[err]))
                out[-1].append(m("Items"))
                continue
            key = id_el.get("ChangeKey")
            owner = item.occurrence[0] if item.occurrence else item
            if key and key != owner.change_key and resolution != "AlwaysOverwrite":
                msg = response_message("UpdateItem", "ErrorIrresolvableConflict", _TEXT["ErrorIrresolvableConflict"])
                msg.append(m("Items"))
                out.append(msg)
                continue
            read_only = True
            for upd in change.find("t:Updates", NS):
                path = upd[0]
                if local(path) == "ExtendedFieldURI":
                    read_only = False
                    ext_key = store.extended_key(path)
                    value = upd[1].find("t:ExtendedProperty", NS) if len(upd) > 1 else None
                    if local(upd) == "DeleteItemField":
                        owner.extended.pop(ext_key, None)
                    elif value is not None:
                        owner.extended[ext_key] = copy.deepcopy(value)
                    continue
                name = field_name(path.get("FieldURI") or "")
                if name != "IsRead":
                    read_only = False
                kind = local(upd)
                if kind == "DeleteItemField":
                    if local(path) == "IndexedFieldURI":
                        uri = (path.get("FieldURI") or "").split(":")
                        sub = uri[2] if len(uri) > 2 else None
                        delete_indexed(item.fields, name, path.get("FieldIndex"), sub)
                    else:
                        item.fields.pop(name, None)
                    continue
                value = upd[1].find(f"{{{T}}}{name}")
                if value is None:
                    continue
                if local(path) == "IndexedFieldURI":
                    merge_indexed(item.fields, name, value)
                elif kind == "AppendToItemField" and name in item.fields:
                    cur = item.fields[name]
                    if len(value):
                        cur.extend(copy.deepcopy(list(value)))
                    else:
                        cur.text = (cur.text or "") + (value.text or "")
                else:
                    item.fields[name] = copy.deepcopy(value)
            if item.occurrence:
                master, orig = item.occurrence
                skip = {"CalendarItemType", "OriginalStart"}
                master.exceptions[orig] = {k: v for k, v in item.fields.items() if k not in skip}
            owner.touch(content=not read_only)
            msg = response_message("UpdateItem")
            items = m("Items")
            el = t(item.kind)
            el.append(t("ItemId", Id=item.id, ChangeKey=owner.change_key))
            items.append(el)
            msg.append(items)
            conflicts = m("ConflictResults")
            conflicts.append(t("Count", 0))
            msg.append(conflicts)
            out.append(msg)
        return self.respond("UpdateItem", out)

    def DeleteItem(self, box, req):
        how = req.get("DeleteType")
        out = []
        for id_el in req.find("m:ItemIds", NS):
            item, err = self.item_of(box, id_el)
            if err:
                out.append(response_message("DeleteItem", err, _TEXT[err]))
                continue
            if item.occurrence:
                master, orig = item.occurrence
                master.deleted.add(orig)
                master.exceptions.pop(orig, None)
                master.touch()
            elif how == "MoveToDeletedItems" and item.folder is not box.by_name["deleteditems"]:
                self.state.move_item(item, box.by_name["deleteditems"])
            else:
                self.state.remove_item(item)
            out.append(response_message("DeleteItem"))
        return self.respond("DeleteItem", out)

    def MoveItem(self, box, req):
        target = self.folder_of(box, req.find("m:ToFolderId", NS)[0])
        out = []
        for id_el in req.find("m:ItemIds", NS):
            item, err = self.item_of(box, id_el)
            if err or target is None:
                code = err or "ErrorToFolderNotFound"
                out.append(response_message("MoveItem", code, _TEXT.get(code, code)))
                out[-1].append(m("Items"))
                continue
            moved = self.state.move_item(item, target)
            msg = response_message("MoveItem")
            items = m("Items")
            el = t(moved.kind)
            el.append(t("ItemId", Id=moved.id, ChangeKey=moved.change_key))
            items.append(el)
            msg.append(items)
            out.append(msg)
        return self.respond("MoveItem", out)


_TEXT = {
    "ErrorItemNotFound": "The specified object was not found in the store.",
    "ErrorInvalidIdMalformed": "Id is malformed.",
    "ErrorIrresolvableConflict": "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
    "ErrorToFolderNotFound": "The destination folder could not be found.",
    "ErrorCalendarOccurrenceIsDeletedFromRecurrence": "Occurrence with this index was previously deleted from the recurrence.",
    "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange": "Occurrence index is out of recurrence range.",
}

