//! understudy's store: one SQLite file (WAL) with eval runs and cells, the response cache and
//! the gateway's request log, under versioned migrations. Eval, tune, reports and the gateway
//! use it through this crate; none of them names the database driver for these tables.

mod cache_key;
pub mod conditions;
mod error;
mod sqlite;

pub use cache_key::cache_key;
pub use conditions::Conditions;
pub use error::StoreError;
pub use sqlite::*;
