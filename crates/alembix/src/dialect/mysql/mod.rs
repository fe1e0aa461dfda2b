//! MySQL / MariaDB: connect, named lock, catalog checks, error messages.

pub mod inspect;
pub mod render;

#[cfg(feature = "mysql")]
use std::str::FromStr;

use sha2::{Digest, Sha256};
#[cfg(feature = "mysql")]
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError};
#[cfg(feature = "mysql")]
use sqlx::ConnectOptions;

#[cfg_attr(not(feature = "mysql"), allow(unused_imports))]
use super::{literal, DbError};
#[cfg_attr(not(feature = "mysql"), allow(unused_imports))]
use crate::url::{DatabaseUrl, Dialect};

#[cfg(feature = "mysql")]
pub async fn connect(url: &DatabaseUrl) -> Result<MySqlConnection, sqlx::Error> {
    MySqlConnectOptions::from_str(&url.expose_driver_url())?
        .connect()
        .await
}

/// `GET_LOCK` names are at most 64 characters; long ones are shortened with a hash.
fn lock_name(name: &str) -> String {
    if name.len() <= 64 {
        return name.to_string();
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("alembix:{hex}")
}

pub fn try_lock_sql(name: &str) -> String {
    format!(
        "SELECT CAST(GET_LOCK({}, 0) AS CHAR)",
        literal(&lock_name(name), Dialect::Mysql)
    )
}

pub fn unlock_sql(name: &str) -> String {
    format!(
        "SELECT CAST(RELEASE_LOCK({}) AS CHAR)",
        literal(&lock_name(name), Dialect::Mysql)
    )
}

pub fn lock_holder_sql(name: &str) -> String {
    format!(
        "SELECT CONCAT('connection ', p.ID, ' (', p.USER, '@', p.HOST, ', running for ', p.TIME, ' s)') \
         FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK({})",
        literal(&lock_name(name), Dialect::Mysql)
    )
}

pub fn table_exists_sql(table: &str) -> String {
    let (schema, name) = match table.split_once('.') {
        Some((s, n)) => (literal(s, Dialect::Mysql), n),
        None => ("DATABASE()".to_string(), table),
    };
    format!(
        "SELECT 'yes' FROM information_schema.TABLES WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {}",
        literal(name, Dialect::Mysql)
    )
}

#[cfg(feature = "mysql")]
pub fn error(db: &(dyn sqlx::error::DatabaseError + 'static)) -> DbError {
    match db.try_downcast_ref::<MySqlDatabaseError>() {
        Some(my) => DbError {
            message: format!("{} (error {})", my.message(), my.number()),
            code: Some(my.number().to_string()),
            position: None,
        },
        None => DbError::new(db.message()),
    }
}
