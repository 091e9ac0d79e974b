//! CRM records: contacts, accounts and leads.

use rusqlite::{Connection, OptionalExtension, params};

use crate::act::item::{ContactItem, Item};
use crate::error::{CoreError, Result};
use crate::model::{Account, Contact, Lead, RecordRef, RecordType, person_name};
use crate::time::now_db;

/// Inserts a contact; `owner` is resolved to a user id by the caller.
pub fn insert_contact(conn: &Connection, c: &Contact, owner_user_id: Option<i64>) -> Result<i64> {
    let now = now_db();
    conn.execute(
        "INSERT INTO contacts (first_name, last_name, email, email2, email3, company, phone, mobile_phone, \
         street, city, postal_code, region, country, owner_user_id, created_on, modified_on, uid) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?15,?16)",
        params![
            c.first_name,
            c.last_name,
            c.email,
            c.email2,
            c.email3,
            c.company,
            c.phone,
            c.mobile_phone,
            c.street,
            c.city,
            c.postal_code,
            c.region,
            c.country,
            owner_user_id,
            now,
            c.uid
        ],
    )
    .map_err(crate::store::unique_to_exists("contact with uid", c.uid.as_deref().unwrap_or_default()))?;
    Ok(conn.last_insert_rowid())
}

/// Inserts an account.
pub fn insert_account(conn: &Connection, a: &Account) -> Result<i64> {
    let now = now_db();
    conn.execute(
        "INSERT INTO accounts (name, email, phone, created_on, modified_on) VALUES (?1,?2,?3,?4,?4)",
        params![a.name, a.email, a.phone, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Inserts a lead.
pub fn insert_lead(conn: &Connection, l: &Lead) -> Result<i64> {
    let now = now_db();
    conn.execute(
        "INSERT INTO leads (first_name, last_name, email, company, phone, created_on, modified_on) \
         VALUES (?1,?2,?3,?4,?5,?6,?6)",
        params![l.first_name, l.last_name, l.email, l.company, l.phone, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// All active contacts, by last and first name.
pub fn list_contacts(conn: &Connection) -> Result<Vec<Contact>> {
    contacts_where(conn, None)
}

/// One active contact.
pub fn get_contact(conn: &Connection, id: i64) -> Result<Contact> {
    contacts_where(conn, Some(id))?.pop().ok_or_else(|| CoreError::invalid("id", format!("no contact {id}")))
}

fn contacts_where(conn: &Connection, id: Option<i64>) -> Result<Vec<Contact>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, first_name, last_name, c.email, email2, email3, company, phone, mobile_phone, street, \
         city, postal_code, region, country, u.email, c.uid FROM contacts c LEFT JOIN users u ON u.id = c.owner_user_id \
         WHERE c.active = 1 AND (?1 IS NULL OR c.id = ?1) ORDER BY last_name, first_name, c.id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Contact {
            id: r.get(0)?,
            first_name: r.get(1)?,
            last_name: r.get(2)?,
            email: r.get(3)?,
            email2: r.get(4)?,
            email3: r.get(5)?,
            company: r.get(6)?,
            phone: r.get(7)?,
            mobile_phone: r.get(8)?,
            street: r.get(9)?,
            city: r.get(10)?,
            postal_code: r.get(11)?,
            region: r.get(12)?,
            country: r.get(13)?,
            owner: r.get(14)?,
            uid: r.get(15)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// All active accounts by name.
pub fn list_accounts(conn: &Connection) -> Result<Vec<Account>> {
    let mut stmt =
        conn.prepare("SELECT id, name, email, phone FROM accounts WHERE active = 1 ORDER BY name, id")?;
    let rows = stmt.query_map([], |r| {
        Ok(Account { id: r.get(0)?, name: r.get(1)?, email: r.get(2)?, phone: r.get(3)? })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// All active leads.
pub fn list_leads(conn: &Connection) -> Result<Vec<Lead>> {
    let mut stmt = conn.prepare(
        "SELECT id, first_name, last_name, email, company, phone FROM leads WHERE active = 1 \
         ORDER BY last_name, first_name, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Lead {
            id: r.get(0)?,
            first_name: r.get(1)?,
            last_name: r.get(2)?,
            email: r.get(3)?,
            company: r.get(4)?,
            phone: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Resolves `TYPE:KEY` style references: KEY is an id, an email address, or (for
/// accounts, users and queues) a name. Fails with a message naming `field`.
pub fn resolve_ref(conn: &Connection, field: &str, record_type: RecordType, key: &str) -> Result<RecordRef> {
    let key = key.trim();
    let (table, name_sql, email_cols): (&str, &str, &[&str]) = match record_type {
        RecordType::Contact => (
            "contacts",
            "trim(coalesce(first_name,'') || ' ' || coalesce(last_name,''))",
            &["email", "email2", "email3"],
        ),
        RecordType::Lead => {
            ("leads", "trim(coalesce(first_name,'') || ' ' || coalesce(last_name,''))", &["email"])
        }
        RecordType::Account => ("accounts", "name", &["email"]),
        RecordType::User => ("users", "name", &["email"]),
        RecordType::Queue => ("queues", "name", &["email"]),
    };
    let by = |cond: &str, value: &dyn rusqlite::ToSql| -> Result<Vec<(i64, String, Option<String>)>> {
        let sql = format!("SELECT id, {name_sql}, email FROM {table} WHERE active = 1 AND ({cond}) LIMIT 2");
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([value], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    let found = if let Ok(id) = key.parse::<i64>() {
        by("id = ?1", &id)?
    } else if key.contains('@') {
        let cond = email_cols.iter().map(|c| format!("{c} = ?1")).collect::<Vec<_>>().join(" OR ");
        by(&cond, &key)?
    } else {
        by(&format!("{name_sql} = ?1 COLLATE NOCASE"), &key)?
    };
    match found.as_slice() {
        [(id, name, email)] => Ok(RecordRef {
            record_type,
            id: *id,
            name: if name.is_empty() { email.clone().unwrap_or_default() } else { name.clone() },
        }),
        [] => Err(CoreError::invalid(field, format!("no {record_type} '{key}'"))),
        _ => {
            Err(CoreError::invalid(field, format!("several {record_type} records match '{key}'; use the id")))
        }
    }
}

/// Display name of a record by type and id (None when it no longer exists).
pub fn record_name(conn: &Connection, record_type: RecordType, id: i64) -> Result<Option<String>> {
    let sql = match record_type {
        RecordType::Contact => "SELECT first_name, last_name, email FROM contacts WHERE id = ?1",
        RecordType::Lead => "SELECT first_name, last_name, email FROM leads WHERE id = ?1",
        RecordType::Account => "SELECT name, NULL, email FROM accounts WHERE id = ?1",
        RecordType::User => "SELECT name, NULL, email FROM users WHERE id = ?1",
        RecordType::Queue => "SELECT name, NULL, email FROM queues WHERE id = ?1",
    };
    Ok(conn
        .query_row(sql, [id], |r| {
            let a: Option<String> = r.get(0)?;
            let b: Option<String> = r.get(1)?;
            let e: Option<String> = r.get(2)?;
            Ok(person_name(a.as_deref(), b.as_deref(), e.as_deref()))
        })
        .optional()?)
}

/// A contact with what the ACT sync needs.
#[derive(Debug, Clone)]
pub struct ContactRow {
    /// Contact id.
    pub id: i64,
    /// Content (UID empty when the contact never had one).
    pub item: ContactItem,
    /// Version, bumped on every change.
    pub version: i64,
    /// Last change.
    pub modified_on: String,
    /// Owning user.
    pub owner_user_id: Option<i64>,
}

/// The synced content of a contact record.
pub fn contact_item(c: &Contact) -> ContactItem {
    let item = ContactItem {
        uid: c.uid.clone().unwrap_or_default(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        emails: [&c.email, &c.email2, &c.email3].into_iter().flatten().cloned().collect(),
        company: c.company.clone(),
        phone: c.phone.clone(),
        mobile_phone: c.mobile_phone.clone(),
        street: c.street.clone(),
        city: c.city.clone(),
        postal_code: c.postal_code.clone(),
        region: c.region.clone(),
        country: c.country.clone(),
    };
    let Item::Contact(n) = Item::Contact(item).normalized() else { unreachable!() };
    n
}

/// A contact record holding `item` (id and owner left to the caller).
pub fn contact_from_item(item: &ContactItem) -> Contact {
    let mut emails = item.emails.iter().cloned();
    Contact {
        id: 0,
        first_name: item.first_name.clone(),
        last_name: item.last_name.clone(),
        email: emails.next(),
        email2: emails.next(),
        email3: emails.next(),
        company: item.company.clone(),
        phone: item.phone.clone(),
        mobile_phone: item.mobile_phone.clone(),
        street: item.street.clone(),
        city: item.city.clone(),
        postal_code: item.postal_code.clone(),
        region: item.region.clone(),
        country: item.country.clone(),
        owner: None,
        uid: Some(item.uid.clone()).filter(|u| !u.is_empty()),
    }
}

/// Every active contact with its version and owner id, for the sync.
pub fn contact_rows(conn: &Connection) -> Result<Vec<ContactRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, first_name, last_name, c.email, email2, email3, company, phone, mobile_phone, street, \
         city, postal_code, region, country, c.uid, c.version, c.modified_on, c.owner_user_id FROM contacts c \
         WHERE c.active = 1 ORDER BY c.id",
    )?;
    let rows = stmt.query_map([], |r| {
        let c = Contact {
            id: r.get(0)?,
            first_name: r.get(1)?,
            last_name: r.get(2)?,
            email: r.get(3)?,
            email2: r.get(4)?,
            email3: r.get(5)?,
            company: r.get(6)?,
            phone: r.get(7)?,
            mobile_phone: r.get(8)?,
            street: r.get(9)?,
            city: r.get(10)?,
            postal_code: r.get(11)?,
            region: r.get(12)?,
            country: r.get(13)?,
            owner: None,
            uid: r.get(14)?,
        };
        Ok(ContactRow {
            id: c.id,
            item: contact_item(&c),
            version: r.get(15)?,
            modified_on: r.get(16)?,
            owner_user_id: r.get(17)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Replaces the content of contact `id` (owner unchanged unless given) and bumps its version.
pub fn update_contact(
    conn: &Connection,
    id: i64,
    c: &Contact,
    owner_user_id: Option<Option<i64>>,
) -> Result<()> {
    let n = conn
        .execute(
            "UPDATE contacts SET first_name=?2, last_name=?3, email=?4, email2=?5, email3=?6, company=?7, phone=?8, \
             mobile_phone=?9, street=?10, city=?11, postal_code=?12, region=?13, country=?14, uid=?15, \
             version = version + 1, modified_on = ?16 WHERE id = ?1 AND active = 1",
            params![
                id,
                c.first_name,
                c.last_name,
                c.email,
                c.email2,
                c.email3,
                c.company,
                c.phone,
                c.mobile_phone,
                c.street,
                c.city,
                c.postal_code,
                c.region,
                c.country,
                c.uid,
                now_db()
            ],
        )
        .map_err(crate::store::unique_to_exists("contact with uid", c.uid.as_deref().unwrap_or_default()))?;
    if n == 0 {
        return Err(CoreError::not_found("contact", id.to_string()));
    }
    if let Some(o) = owner_user_id {
        conn.execute("UPDATE contacts SET owner_user_id = ?2 WHERE id = ?1", params![id, o])?;
    }
    Ok(())
}

/// Deletes a contact (physically: the sync mirrors the delete).
pub fn delete_contact(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute("DELETE FROM contacts WHERE id = ?1", [id])? > 0)
}
