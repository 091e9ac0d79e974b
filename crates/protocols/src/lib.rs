//! crmsync protocol clients: bytes from mail and groupware servers to typed items.

pub mod mime;
