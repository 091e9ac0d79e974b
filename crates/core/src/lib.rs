//! crmsync core: the domain types, the SQLite store with its migrations,
//! encrypted credentials, settings with their defaults, and the pure logic the
//! engine decides with. Nothing in this crate opens a network connection.

pub mod act;
pub mod address;
pub mod correlation;
pub mod crash;
pub mod error;
pub mod health;
pub mod hints;
pub mod model;
pub mod oauth;
pub mod resolution;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod time;
pub mod tracking;

pub use error::{CoreError, ErrorClass, Result};
pub use store::Store;
