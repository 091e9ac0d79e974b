//! Folder requests: GetFolder, FindFolder, CreateFolder.

use super::{BaseShape, PropertyPath, Request, folder_refs};
use crate::ews::types::FolderRef;
use crate::ews::write::Out;

/// `GetFolder`: folders by reference, with their class, name and counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetFolder {
    /// FolderShape BaseShape.
    pub shape: BaseShape,
    /// The folders.
    pub folders: Vec<FolderRef>,
}

/// `FindFolder` traversal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traversal {
    /// Direct children.
    Shallow,
    /// The whole subtree.
    Deep,
}

/// `FindFolder`: the folders under a parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindFolder {
    /// Shallow or Deep.
    pub traversal: Traversal,
    /// FolderShape BaseShape.
    pub shape: BaseShape,
    /// FolderShape AdditionalProperties (`folder:FolderClass`, ...).
    pub additional: Vec<PropertyPath>,
    /// ParentFolderIds.
    pub parent: FolderRef,
}

/// Which folder element `CreateFolder` creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    /// A mail folder (`Folder`, IPF.Note).
    Mail,
    /// `CalendarFolder`.
    Calendar,
    /// `ContactsFolder`.
    Contacts,
    /// `TasksFolder`.
    Tasks,
}

/// `CreateFolder`: a folder of `kind` named `display_name` under `parent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFolder {
    /// ParentFolderId.
    pub parent: FolderRef,
    /// Kind.
    pub kind: FolderKind,
    /// DisplayName.
    pub display_name: String,
}

impl Request for GetFolder {
    fn operation(&self) -> &'static str {
        "GetFolder"
    }
    fn write_body(&self, out: &mut Out) {
        out.open("m:GetFolder", &[]);
        out.open("m:FolderShape", &[]).leaf("t:BaseShape", self.shape.as_str()).close("m:FolderShape");
        folder_refs(out, "m:FolderIds", &self.folders);
        out.close("m:GetFolder");
    }
}

impl Request for FindFolder {
    fn operation(&self) -> &'static str {
        "FindFolder"
    }
    fn write_body(&self, out: &mut Out) {
        let t = match self.traversal {
            Traversal::Shallow => "Shallow",
            Traversal::Deep => "Deep",
        };
        out.open("m:FindFolder", &[("Traversal", t)]);
        out.open("m:FolderShape", &[]).leaf("t:BaseShape", self.shape.as_str());
        if !self.additional.is_empty() {
            out.open("t:AdditionalProperties", &[]);
            for p in &self.additional {
                p.write(out);
            }
            out.close("t:AdditionalProperties");
        }
        out.close("m:FolderShape");
        folder_refs(out, "m:ParentFolderIds", std::slice::from_ref(&self.parent));
        out.close("m:FindFolder");
    }
}

impl Request for CreateFolder {
    fn operation(&self) -> &'static str {
        "CreateFolder"
    }
    fn write_body(&self, out: &mut Out) {
        out.open("m:CreateFolder", &[]);
        folder_refs(out, "m:ParentFolderId", std::slice::from_ref(&self.parent));
        let el = match self.kind {
            FolderKind::Mail => "t:Folder",
            FolderKind::Calendar => "t:CalendarFolder",
            FolderKind::Contacts => "t:ContactsFolder",
            FolderKind::Tasks => "t:TasksFolder",
        };
        out.open("m:Folders", &[]).open(el, &[]).leaf("t:DisplayName", &self.display_name);
        out.close(el).close("m:Folders").close("m:CreateFolder");
    }
}
