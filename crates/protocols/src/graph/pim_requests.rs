//! Request builders for events (calendarView delta, CRUD, instances),
//! contacts (delta, CRUD) and Microsoft To Do (lists, task delta, CRUD).
//! Writes take the item's ETag for `If-Match`.

use reqwest::Method;

use super::pim::{Contact, Event, TodoTask};
use super::request::{GraphRequest, Mailbox, segment};

/// Permission to read and write calendars.
pub const CALENDARS_READ_WRITE: &str = "Calendars.ReadWrite";
/// Permission to read and write contacts.
pub const CONTACTS_READ_WRITE: &str = "Contacts.ReadWrite";
/// Permission to read and write To Do tasks.
pub const TASKS_READ_WRITE: &str = "Tasks.ReadWrite";

fn to_json<T: serde::Serialize>(item: &T) -> serde_json::Value {
    // The types hold only strings, numbers, booleans and lists: serializing cannot fail.
    serde_json::to_value(item).unwrap_or_default()
}

impl Mailbox {
    /// `GET /calendarView/delta?startDateTime&endDateTime`: the first round
    /// over a window (ISO 8601 times); later rounds follow the delta link,
    /// which keeps the window. Occurrences and exceptions come one by one.
    pub fn calendar_view_delta(&self, start: &str, end: &str, page_size: u32) -> GraphRequest {
        let path = format!("{}/calendarView/delta", self.prefix());
        GraphRequest::new(Method::GET, path, "calendar delta", CALENDARS_READ_WRITE)
            .query(&[("startDateTime", start), ("endDateTime", end)])
            .max_page_size(page_size)
    }

    /// `GET /events/{id}`.
    pub fn event(&self, id: &str) -> GraphRequest {
        let path = format!("{}/events/{}", self.prefix(), segment(id));
        GraphRequest::new(Method::GET, path, "get event", CALENDARS_READ_WRITE).item(id)
    }

    /// `GET /events/{series master id}/instances` within a window: its
    /// occurrences and exceptions.
    pub fn event_instances(&self, master_id: &str, start: &str, end: &str) -> GraphRequest {
        let path = format!("{}/events/{}/instances", self.prefix(), segment(master_id));
        GraphRequest::new(Method::GET, path, "list event instances", CALENDARS_READ_WRITE)
            .query(&[("startDateTime", start), ("endDateTime", end)])
            .item(master_id)
    }

    /// `POST /events`: a new event or series (with `recurrence`).
    pub fn create_event(&self, event: &Event) -> GraphRequest {
        GraphRequest::new(
            Method::POST,
            format!("{}/events", self.prefix()),
            "create event",
            CALENDARS_READ_WRITE,
        )
        .json(to_json(event))
    }

    /// `PATCH /events/{id}` with the fields set in `event`, at version `etag`.
    pub fn update_event(&self, id: &str, event: &Event, etag: Option<&str>) -> GraphRequest {
        let path = format!("{}/events/{}", self.prefix(), segment(id));
        GraphRequest::new(Method::PATCH, path, "update event", CALENDARS_READ_WRITE)
            .item(id)
            .json(to_json(event))
            .if_match(etag)
    }

    /// `DELETE /events/{id}` at version `etag`.
    pub fn delete_event(&self, id: &str, etag: Option<&str>) -> GraphRequest {
        let path = format!("{}/events/{}", self.prefix(), segment(id));
        GraphRequest::new(Method::DELETE, path, "delete event", CALENDARS_READ_WRITE).item(id).if_match(etag)
    }

    /// `GET /contacts/delta` (default folder) or
    /// `/contactFolders/{folder}/contacts/delta`.
    pub fn contacts_delta(&self, folder: Option<&str>, page_size: u32) -> GraphRequest {
        let path = match folder {
            None => format!("{}/contacts/delta", self.prefix()),
            Some(f) => format!("{}/contactFolders/{}/contacts/delta", self.prefix(), segment(f)),
        };
        GraphRequest::new(Method::GET, path, "contacts delta", CONTACTS_READ_WRITE).max_page_size(page_size)
    }

    /// `GET /contacts/{id}`.
    pub fn contact(&self, id: &str) -> GraphRequest {
        let path = format!("{}/contacts/{}", self.prefix(), segment(id));
        GraphRequest::new(Method::GET, path, "get contact", CONTACTS_READ_WRITE).item(id)
    }

    /// `POST /contacts`.
    pub fn create_contact(&self, contact: &Contact) -> GraphRequest {
        let path = format!("{}/contacts", self.prefix());
        GraphRequest::new(Method::POST, path, "create contact", CONTACTS_READ_WRITE).json(to_json(contact))
    }

    /// `PATCH /contacts/{id}` with the fields set, at version `etag`.
    pub fn update_contact(&self, id: &str, contact: &Contact, etag: Option<&str>) -> GraphRequest {
        let path = format!("{}/contacts/{}", self.prefix(), segment(id));
        GraphRequest::new(Method::PATCH, path, "update contact", CONTACTS_READ_WRITE)
            .item(id)
            .json(to_json(contact))
            .if_match(etag)
    }

    /// `DELETE /contacts/{id}` at version `etag`.
    pub fn delete_contact(&self, id: &str, etag: Option<&str>) -> GraphRequest {
        let path = format!("{}/contacts/{}", self.prefix(), segment(id));
        GraphRequest::new(Method::DELETE, path, "delete contact", CONTACTS_READ_WRITE).item(id).if_match(etag)
    }

    /// `GET /todo/lists`: the To Do lists (the default one has
    /// `wellknownListName` `defaultList`).
    pub fn todo_lists(&self) -> GraphRequest {
        GraphRequest::new(
            Method::GET,
            format!("{}/todo/lists", self.prefix()),
            "list task lists",
            TASKS_READ_WRITE,
        )
    }

    /// `GET /todo/lists/{list}/tasks/delta`.
    pub fn todo_tasks_delta(&self, list: &str, page_size: u32) -> GraphRequest {
        let path = format!("{}/todo/lists/{}/tasks/delta", self.prefix(), segment(list));
        GraphRequest::new(Method::GET, path, "tasks delta", TASKS_READ_WRITE)
            .max_page_size(page_size)
            .item(list)
    }

    /// `GET /todo/lists/{list}/tasks/{id}`.
    pub fn todo_task(&self, list: &str, id: &str) -> GraphRequest {
        let path = format!("{}/todo/lists/{}/tasks/{}", self.prefix(), segment(list), segment(id));
        GraphRequest::new(Method::GET, path, "get task", TASKS_READ_WRITE).item(id)
    }

    /// `POST /todo/lists/{list}/tasks`.
    pub fn create_todo_task(&self, list: &str, task: &TodoTask) -> GraphRequest {
        let path = format!("{}/todo/lists/{}/tasks", self.prefix(), segment(list));
        GraphRequest::new(Method::POST, path, "create task", TASKS_READ_WRITE).json(to_json(task))
    }

    /// `PATCH /todo/lists/{list}/tasks/{id}` with the fields set, at version `etag`.
    pub fn update_todo_task(
        &self,
        list: &str,
        id: &str,
        task: &TodoTask,
        etag: Option<&str>,
    ) -> GraphRequest {
        let path = format!("{}/todo/lists/{}/tasks/{}", self.prefix(), segment(list), segment(id));
        GraphRequest::new(Method::PATCH, path, "update task", TASKS_READ_WRITE)
            .item(id)
            .json(to_json(task))
            .if_match(etag)
    }

    /// `DELETE /todo/lists/{list}/tasks/{id}` at version `etag`.
    pub fn delete_todo_task(&self, list: &str, id: &str, etag: Option<&str>) -> GraphRequest {
        let path = format!("{}/todo/lists/{}/tasks/{}", self.prefix(), segment(list), segment(id));
        GraphRequest::new(Method::DELETE, path, "delete task", TASKS_READ_WRITE).item(id).if_match(etag)
    }
}
