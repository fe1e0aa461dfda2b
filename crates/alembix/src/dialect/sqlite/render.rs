//! Rendering schema changes as SQL statements for this database.

use crate::schema::{Change, Schema};

/// SQL statements (without terminators) that apply `changes`, which turn `from` into `to`.
pub fn render(changes: &[Change], from: &Schema, to: &Schema) -> Vec<String> {
    let _ = (changes, from, to);
    Vec::new()
}
