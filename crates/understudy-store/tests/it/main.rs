//! The integration tests of `understudy-store` as one binary (it links once; each file is a module).

mod setup_postgres_script;
mod stores;
mod wal_bound;
