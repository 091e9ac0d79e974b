//! Tasks: an activity row plus the `tasks` row. The typed content is
//! [`TaskItem`], the same shape the CalDAV converter produces.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::act::item::{TaskItem, TaskPriority, TaskStatus};
use crate::error::{CoreError, Result};
use crate::model::{RecordRef, RecordType};
use crate::store::appointments::{OwnerIds, owner_and_regarding};
use crate::time::now_db;

/// A task as `task show` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    /// Activity id.
    pub id: i64,
    /// iCalendar UID.
    pub uid: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: Option<String>,
    /// Due date or time.
    pub due: Option<String>,
    /// not_started, in_progress, waiting, completed, deferred.
    pub status: TaskStatus,
    /// low, normal, high.
    pub priority: TaskPriority,
    /// 0-100.
    pub percent_complete: u8,
    /// Regarding record.
    pub regarding: Option<RecordRef>,
    /// Owner's address.
    pub owner: Option<String>,
    /// open, completed or canceled.
    pub state: String,
    /// Version.
    pub version: i64,
    /// Last change.
    pub modified_on: String,
}

/// A task with what the sync needs.
#[derive(Debug, Clone)]
pub struct TaskRow {
    /// Activity id.
    pub id: i64,
    /// Content.
    pub item: TaskItem,
    /// Version.
    pub version: i64,
    /// Last change.
    pub modified_on: String,
    /// Owner.
    pub owner: OwnerIds,
}

fn state_of(t: &TaskItem) -> &'static str {
    match t.status {
        TaskStatus::Completed => "completed",
        TaskStatus::Deferred => "canceled",
        _ => "open",
    }
}

/// Inserts a task; returns its activity id.
pub fn insert(
    conn: &Connection,
    t: &TaskItem,
    regarding: Option<(RecordType, i64)>,
    owner: OwnerIds,
) -> Result<i64> {
    let now = now_db();
    conn.execute(
        "INSERT INTO activities (type, subject, regarding_type, regarding_id, owner_user_id, owner_queue_id, \
         state, created_on, modified_on) VALUES ('task', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            t.summary,
            regarding.map(|r| r.0.as_str()),
            regarding.map(|r| r.1),
            owner.user_id,
            owner.queue_id,
            state_of(t),
            now
        ],
    )?;
    let id = conn.last_insert_rowid();
    crate::store::activities::set_body(conn, id, t.description.as_deref(), None)?;
    conn.execute(
        "INSERT INTO tasks (activity_id, uid, due_on, status, priority, percent_complete) VALUES (?1,?2,?3,?4,?5,?6)",
        params![id, t.uid, t.due, t.status.as_str(), t.priority.as_str(), t.percent_complete],
    )
    .map_err(crate::store::unique_to_exists("task with uid", &t.uid))?;
    Ok(id)
}

/// Replaces the content of task `id` and bumps its version.
pub fn update(conn: &Connection, id: i64, t: &TaskItem) -> Result<()> {
    let n = conn.execute(
        "UPDATE activities SET subject = ?2, state = ?3, version = version + 1, modified_on = ?4 \
         WHERE id = ?1 AND type = 'task'",
        params![id, t.summary, state_of(t), now_db()],
    )?;
    if n == 0 {
        return Err(CoreError::not_found("task", id.to_string()));
    }
    crate::store::activities::set_body(conn, id, t.description.as_deref(), None)?;
    conn.execute(
        "UPDATE tasks SET uid = ?2, due_on = ?3, status = ?4, priority = ?5, percent_complete = ?6 WHERE activity_id = ?1",
        params![id, t.uid, t.due, t.status.as_str(), t.priority.as_str(), t.percent_complete],
    )
    .map_err(crate::store::unique_to_exists("task with uid", &t.uid))?;
    Ok(())
}

/// Every task (or just `id`).
pub fn rows(conn: &Connection, id: Option<i64>) -> Result<Vec<TaskRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, t.uid, a.subject, b.body_text, t.due_on, t.status, t.priority, t.percent_complete, a.version, \
         a.modified_on, a.owner_user_id, a.owner_queue_id \
         FROM activities a JOIN tasks t ON t.activity_id = a.id \
         LEFT JOIN activity_bodies b ON b.activity_id = a.id WHERE (?1 IS NULL OR a.id = ?1) ORDER BY a.id",
    )?;
    let rows = stmt.query_map([id], |r| {
        let status: String = r.get(5)?;
        let priority: String = r.get(6)?;
        Ok(TaskRow {
            id: r.get(0)?,
            item: TaskItem {
                uid: r.get(1)?,
                summary: r.get(2)?,
                description: r.get(3)?,
                due: r.get(4)?,
                status: TaskStatus::parse("status", &status).unwrap_or(TaskStatus::NotStarted),
                priority: TaskPriority::parse("priority", &priority).unwrap_or(TaskPriority::Normal),
                percent_complete: r.get::<_, i64>(7)?.clamp(0, 100) as u8,
            },
            version: r.get(8)?,
            modified_on: r.get(9)?,
            owner: OwnerIds { user_id: r.get(10)?, queue_id: r.get(11)? },
        })
    })?;
    let mut out: Vec<TaskRow> = rows.collect::<rusqlite::Result<_>>()?;
    for t in &mut out {
        let crate::act::Item::Task(n) = crate::act::Item::Task(t.item.clone()).normalized() else {
            unreachable!()
        };
        t.item = n;
    }
    Ok(out)
}

/// One task.
pub fn get(conn: &Connection, id: i64) -> Result<TaskRow> {
    rows(conn, Some(id))?.pop().ok_or_else(|| CoreError::invalid("id", format!("no task {id}")))
}

/// The task with this UID, if any.
pub fn find_by_uid(conn: &Connection, uid: &str) -> Result<Option<i64>> {
    Ok(conn.query_row("SELECT activity_id FROM tasks WHERE uid = ?1", [uid], |r| r.get(0)).optional()?)
}

/// The view `task show` prints.
pub fn view(conn: &Connection, id: i64) -> Result<TaskView> {
    let row = get(conn, id)?;
    let (regarding, owner, state) = owner_and_regarding(conn, id)?;
    let t = row.item;
    Ok(TaskView {
        id,
        uid: t.uid,
        subject: t.summary,
        body: t.description,
        due: t.due,
        status: t.status,
        priority: t.priority,
        percent_complete: t.percent_complete,
        regarding,
        owner,
        state,
        version: row.version,
        modified_on: row.modified_on,
    })
}

/// Ids of every task, by due date.
pub fn list_ids(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt =
        conn.prepare("SELECT activity_id FROM tasks ORDER BY due_on IS NULL, due_on, activity_id")?;
    Ok(stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
}
