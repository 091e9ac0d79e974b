//! Item requests: SyncFolderItems, GetItem, FindItem, CreateItem, UpdateItem,
//! DeleteItem, MoveItem.

use super::{ItemShape, PropertyPath, Request, folder_refs, item_ids};
use crate::ews::types::{DistinguishedFolder, FolderRef, Item, ItemId};
use crate::ews::write::{self, Out};

/// `SyncFolderItems`: the changes since `sync_state` (none: from the start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncFolderItems {
    /// ItemShape (IdOnly, or with properties).
    pub shape: ItemShape,
    /// SyncFolderId.
    pub folder: FolderRef,
    /// SyncState of the previous answer.
    pub sync_state: Option<String>,
    /// MaxChangesReturned (1..512).
    pub max_changes: u32,
    /// Send `SyncScope` NormalItems (the server's default; some clients say it).
    pub normal_items_scope: bool,
}

/// `GetItem`: items by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetItem {
    /// ItemShape.
    pub shape: ItemShape,
    /// ItemIds.
    pub ids: Vec<ItemId>,
}

/// A `FindItem` restriction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    /// `IsEqualTo` a constant (e.g. `message:InternetMessageId` = `<id@host>`).
    IsEqualTo {
        /// The property.
        path: PropertyPath,
        /// The constant.
        value: String,
    },
}

/// How `FindItem` pages or expands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// `IndexedPageItemView`.
    Indexed {
        /// MaxEntriesReturned.
        max: u32,
        /// Offset.
        offset: u32,
    },
    /// `CalendarView`: occurrences expanded between two date-times.
    Calendar {
        /// StartDate.
        start: String,
        /// EndDate.
        end: String,
        /// MaxEntriesReturned.
        max: Option<u32>,
    },
}

/// `FindItem`: items in a folder matching a restriction, or a calendar view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindItem {
    /// ItemShape.
    pub shape: ItemShape,
    /// Paging or calendar view.
    pub view: View,
    /// Restriction.
    pub restriction: Option<Restriction>,
    /// ParentFolderIds.
    pub folder: FolderRef,
}

impl FindItem {
    /// Looks a sent message up in Sent Items by its Message-ID (the check
    /// before any resend after an unknown outcome).
    pub fn sent_by_message_id(message_id: &str) -> FindItem {
        FindItem {
            shape: ItemShape::id_only_with(&["message:InternetMessageId"]),
            view: View::Indexed { max: 10, offset: 0 },
            restriction: Some(Restriction::IsEqualTo {
                path: PropertyPath::field("message:InternetMessageId"),
                value: message_id.to_string(),
            }),
            folder: DistinguishedFolder::SentItems.into(),
        }
    }
}

/// `MessageDisposition` of CreateItem/UpdateItem on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageDisposition {
    /// Store only.
    SaveOnly,
    /// Send without a copy.
    SendOnly,
    /// Send and keep a copy (in `SavedItemFolderId`, Sent Items by default).
    SendAndSaveCopy,
}

impl MessageDisposition {
    fn as_str(self) -> &'static str {
        match self {
            MessageDisposition::SaveOnly => "SaveOnly",
            MessageDisposition::SendOnly => "SendOnly",
            MessageDisposition::SendAndSaveCopy => "SendAndSaveCopy",
        }
    }
}

/// `SendMeetingInvitations` / `SendMeetingInvitationsOrCancellations` / `SendMeetingCancellations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMeeting {
    /// SendToNone.
    None,
    /// SendOnlyToAll.
    OnlyToAll,
    /// SendToAllAndSaveCopy.
    AllAndSaveCopy,
    /// SendOnlyToChanged (updates only).
    OnlyToChanged,
    /// SendToChangedAndSaveCopy (updates only).
    ChangedAndSaveCopy,
}

impl SendMeeting {
    fn as_str(self) -> &'static str {
        match self {
            SendMeeting::None => "SendToNone",
            SendMeeting::OnlyToAll => "SendOnlyToAll",
            SendMeeting::AllAndSaveCopy => "SendToAllAndSaveCopy",
            SendMeeting::OnlyToChanged => "SendOnlyToChanged",
            SendMeeting::ChangedAndSaveCopy => "SendToChangedAndSaveCopy",
        }
    }
}

/// `CreateItem`: new items in a folder; for messages a disposition.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateItem {
    /// MessageDisposition (messages only).
    pub disposition: Option<MessageDisposition>,
    /// SendMeetingInvitations (calendar items only).
    pub send_invitations: Option<SendMeeting>,
    /// SavedItemFolderId (where the item, or the sent copy, goes).
    pub folder: Option<FolderRef>,
    /// The items.
    pub items: Vec<Item>,
}

/// One change of `UpdateItem`.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// SetItemField: `path` takes the value of the same field in `item`.
    Set {
        /// The field.
        path: PropertyPath,
        /// An item of the right kind carrying only that field.
        item: Item,
    },
    /// AppendToItemField (body, recipients).
    Append {
        /// The field.
        path: PropertyPath,
        /// An item of the right kind carrying what to append.
        item: Item,
    },
    /// DeleteItemField.
    Delete {
        /// The field.
        path: PropertyPath,
    },
}

/// The changes to one item; its ChangeKey makes the update fail if the item changed since.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemChange {
    /// ItemId with the ChangeKey read last.
    pub id: ItemId,
    /// Updates, in order.
    pub updates: Vec<Update>,
}

/// `ConflictResolution` of UpdateItem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictResolution {
    /// Fail when the ChangeKey is stale (`ErrorIrresolvableConflict`).
    NeverOverwrite,
    /// Let the server merge.
    AutoResolve,
    /// Overwrite.
    AlwaysOverwrite,
}

impl ConflictResolution {
    fn as_str(self) -> &'static str {
        match self {
            ConflictResolution::NeverOverwrite => "NeverOverwrite",
            ConflictResolution::AutoResolve => "AutoResolve",
            ConflictResolution::AlwaysOverwrite => "AlwaysOverwrite",
        }
    }
}

/// `UpdateItem`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateItem {
    /// ConflictResolution.
    pub conflict: ConflictResolution,
    /// MessageDisposition (messages only; SaveOnly for flag changes).
    pub disposition: Option<MessageDisposition>,
    /// SendMeetingInvitationsOrCancellations (calendar items only).
    pub send_meeting: Option<SendMeeting>,
    /// The changes.
    pub changes: Vec<ItemChange>,
}

impl UpdateItem {
    /// Marks a message read or unread (SaveOnly, AutoResolve).
    pub fn set_read(id: ItemId, read: bool) -> UpdateItem {
        let msg = crate::ews::types::Message { is_read: Some(read), ..Default::default() };
        UpdateItem {
            conflict: ConflictResolution::AutoResolve,
            disposition: Some(MessageDisposition::SaveOnly),
            send_meeting: None,
            changes: vec![ItemChange {
                id,
                updates: vec![Update::Set {
                    path: PropertyPath::field("message:IsRead"),
                    item: Item::Message(msg),
                }],
            }],
        }
    }
}

/// `DeleteType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteType {
    /// Gone for good.
    HardDelete,
    /// To the dumpster.
    SoftDelete,
    /// To Deleted Items.
    MoveToDeletedItems,
}

/// `DeleteItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteItem {
    /// DeleteType.
    pub delete_type: DeleteType,
    /// SendMeetingCancellations (calendar items; `None` unless the CRM user organizes).
    pub send_cancellations: Option<SendMeeting>,
    /// AffectedTaskOccurrences: AllOccurrences (tasks; a recurring task goes whole).
    pub all_task_occurrences: bool,
    /// The items.
    pub ids: Vec<ItemId>,
}

/// `MoveItem`: items to another folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveItem {
    /// ToFolderId.
    pub to: FolderRef,
    /// The items.
    pub ids: Vec<ItemId>,
}

impl Request for SyncFolderItems {
    fn operation(&self) -> &'static str {
        "SyncFolderItems"
    }
    fn write_body(&self, out: &mut Out) {
        out.open("m:SyncFolderItems", &[]);
        self.shape.write(out, "m:ItemShape");
        folder_refs(out, "m:SyncFolderId", std::slice::from_ref(&self.folder));
        out.opt("m:SyncState", self.sync_state.as_deref().filter(|s| !s.is_empty()));
        out.leaf("m:MaxChangesReturned", &self.max_changes.clamp(1, 512).to_string());
        if self.normal_items_scope {
            out.leaf("m:SyncScope", "NormalItems");
        }
        out.close("m:SyncFolderItems");
    }
}

impl Request for GetItem {
    fn operation(&self) -> &'static str {
        "GetItem"
    }
    fn write_body(&self, out: &mut Out) {
        out.open("m:GetItem", &[]);
        self.shape.write(out, "m:ItemShape");
        item_ids(out, "m:ItemIds", &self.ids);
        out.close("m:GetItem");
    }
}

impl Request for FindItem {
    fn operation(&self) -> &'static str {
        "FindItem"
    }
    fn write_body(&self, out: &mut Out) {
        out.open("m:FindItem", &[("Traversal", "Shallow")]);
        self.shape.write(out, "m:ItemShape");
        match &self.view {
            View::Indexed { max, offset } => {
                let (max, offset) = (max.to_string(), offset.to_string());
                out.empty(
                    "m:IndexedPageItemView",
                    &[("MaxEntriesReturned", &max), ("Offset", &offset), ("BasePoint", "Beginning")],
                );
            }
            View::Calendar { start, end, max } => {
                let max = max.map(|m| m.to_string());
                let mut attrs = vec![];
                if let Some(m) = &max {
                    attrs.push(("MaxEntriesReturned", m.as_str()));
                }
                attrs.push(("StartDate", start));
                attrs.push(("EndDate", end));
                out.empty("m:CalendarView", &attrs);
            }
        }
        if let Some(Restriction::IsEqualTo { path, value }) = &self.restriction {
            out.open("m:Restriction", &[]).open("t:IsEqualTo", &[]);
            path.write(out);
            out.open("t:FieldURIOrConstant", &[]).empty("t:Constant", &[("Value", value)]);
            out.close("t:FieldURIOrConstant").close("t:IsEqualTo").close("m:Restriction");
        }
        folder_refs(out, "m:ParentFolderIds", std::slice::from_ref(&self.folder));
        out.close("m:FindItem");
    }
}

impl Request for CreateItem {
    fn operation(&self) -> &'static str {
        "CreateItem"
    }
    fn write_body(&self, out: &mut Out) {
        let mut attrs = vec![];
        if let Some(d) = self.disposition {
            attrs.push(("MessageDisposition", d.as_str()));
        }
        if let Some(s) = self.send_invitations {
            attrs.push(("SendMeetingInvitations", s.as_str()));
        }
        out.open("m:CreateItem", &attrs);
        if let Some(f) = &self.folder {
            folder_refs(out, "m:SavedItemFolderId", std::slice::from_ref(f));
        }
        out.open("m:Items", &[]);
        for item in &self.items {
            write::item(out, item);
        }
        out.close("m:Items").close("m:CreateItem");
    }
}

impl Request for UpdateItem {
    fn operation(&self) -> &'static str {
        "UpdateItem"
    }
    fn write_body(&self, out: &mut Out) {
        let mut attrs = vec![("ConflictResolution", self.conflict.as_str())];
        if let Some(d) = self.disposition {
            attrs.push(("MessageDisposition", d.as_str()));
        }
        if let Some(s) = self.send_meeting {
            attrs.push(("SendMeetingInvitationsOrCancellations", s.as_str()));
        }
        out.open("m:UpdateItem", &attrs).open("m:ItemChanges", &[]);
        for change in &self.changes {
            out.open("t:ItemChange", &[]);
            write::item_id(out, "t:ItemId", &change.id);
            out.open("t:Updates", &[]);
            for u in &change.updates {
                match u {
                    Update::Set { path, item } => {
                        out.open("t:SetItemField", &[]);
                        path.write(out);
                        write::item(out, item);
                        out.close("t:SetItemField");
                    }
                    Update::Append { path, item } => {
                        out.open("t:AppendToItemField", &[]);
                        path.write(out);
                        write::item(out, item);
                        out.close("t:AppendToItemField");
                    }
                    Update::Delete { path } => {
                        out.open("t:DeleteItemField", &[]);
                        path.write(out);
                        out.close("t:DeleteItemField");
                    }
                }
            }
            out.close("t:Updates").close("t:ItemChange");
        }
        out.close("m:ItemChanges").close("m:UpdateItem");
    }
}

impl Request for DeleteItem {
    fn operation(&self) -> &'static str {
        "DeleteItem"
    }
    fn write_body(&self, out: &mut Out) {
        let dt = match self.delete_type {
            DeleteType::HardDelete => "HardDelete",
            DeleteType::SoftDelete => "SoftDelete",
            DeleteType::MoveToDeletedItems => "MoveToDeletedItems",
        };
        let mut attrs = vec![("DeleteType", dt)];
        if let Some(s) = self.send_cancellations {
            attrs.push(("SendMeetingCancellations", s.as_str()));
        }
        if self.all_task_occurrences {
            attrs.push(("AffectedTaskOccurrences", "AllOccurrences"));
        }
        out.open("m:DeleteItem", &attrs);
        item_ids(out, "m:ItemIds", &self.ids);
        out.close("m:DeleteItem");
    }
}

impl Request for MoveItem {
    fn operation(&self) -> &'static str {
        "MoveItem"
    }
    fn write_body(&self, out: &mut Out) {
        out.open("m:MoveItem", &[]);
        folder_refs(out, "m:ToFolderId", std::slice::from_ref(&self.to));
        item_ids(out, "m:ItemIds", &self.ids);
        out.close("m:MoveItem");
    }
}
