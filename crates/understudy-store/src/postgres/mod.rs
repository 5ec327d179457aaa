//! The PostgreSQL store: every trait of [`crate::api`] over a pool of `tokio-postgres`
//! connections, so that gateway replicas and eval workers on many machines share one state.
//! The request log has a pool of its own whose commits do not wait for the server's disk
//! flush (`synchronous_commit = off`): a killed gateway loses no committed row, and a crash of
//! the server itself may lose the last fraction of a second, as SQLite's `synchronous=NORMAL`
//! may on power loss.

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::location::redact;
use crate::StoreError;

mod conversations;
mod log;
mod migrations;
mod runs;
mod shadow;
mod vectors;

/// Connections per pool: enough for a gateway's concurrent requests on a few cores.
const POOL_SIZE: usize = 16;

/// A pool of connections to one PostgreSQL database.
pub struct PgStore {
    pool: Pool,
    log_pool: Pool,
    /// The URL without its password, for messages.
    name: String,
}

/// How often a running process makes the request log's partitions ahead.
const PARTITIONS_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Keeps the request log's daily partitions made ahead while `store` is in use.
pub(crate) fn keep_log_partitions(store: &std::sync::Arc<PgStore>) {
    let store = std::sync::Arc::downgrade(store);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PARTITIONS_EVERY).await;
            let Some(store) = store.upgrade() else {
                return;
            };
            if let Err(e) = store.ensure_log_partitions().await {
                tracing::warn!("request log partitions: {e}");
            }
        }
    });
}

/// What PostgreSQL said, with the server's own message when there is one.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl PgStore {
    /// Connects to `url`, creating and migrating the schema.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let name = redact(url);
        let store = Self {
            pool: pool(url, None, &name)?,
            log_pool: pool(url, Some("-c synchronous_commit=off"), &name)?,
            name,
        };
        store.migrate().await?;
        store.ensure_log_partitions().await?;
        Ok(store)
    }

    pub(super) fn fail(&self, e: tokio_postgres::Error) -> StoreError {
        StoreError::Postgres {
            store: self.name.clone(),
            message: describe(&e),
        }
    }

    pub(super) async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| self.cannot_connect(e))
    }

    pub(super) async fn log_client(&self) -> Result<Object, StoreError> {
        self.log_pool
            .get()
            .await
            .map_err(|e| self.cannot_connect(e))
    }

    /// A pool's failure to connect, with the driver's cause (refused, authentication, …).
    fn cannot_connect(&self, e: deadpool_postgres::PoolError) -> StoreError {
        let message = match &e {
            deadpool_postgres::PoolError::Backend(e) => {
                let mut text = describe(e);
                let mut cause = std::error::Error::source(e);
                while let Some(c) = cause {
                    text = format!("{text}: {c}");
                    cause = c.source();
                }
                text
            }
            other => other.to_string(),
        };
        StoreError::Postgres {
            store: self.name.clone(),
            message: format!("cannot connect: {message}"),
        }
    }

    /// Runs one statement on a pooled connection, prepared once per connection (one round trip
    /// a call instead of a parse and an execute); the rows it changed.
    pub(super) async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        self.execute_on(&client, sql, params).await
    }

    /// [`PgStore::execute`] on a given connection (the request log's pool has its own).
    pub(super) async fn execute_on(
        &self,
        client: &Object,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let statement = client.prepare_cached(sql).await.map_err(|e| self.fail(e))?;
        client
            .execute(&statement, params)
            .await
            .map_err(|e| self.fail(e))
    }

    /// Runs one query (prepared once per connection) and reads each row with `read`.
    pub(super) async fn rows<T>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        read: impl Fn(&tokio_postgres::Row) -> Result<T, tokio_postgres::Error>,
    ) -> Result<Vec<T>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(|e| self.fail(e))?;
        let rows = client
            .query(&statement, params)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(read)
            .collect::<Result<_, _>>()
            .map_err(|e| self.fail(e))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.fail(e))?;
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(727274); CREATE TABLE IF NOT EXISTS understudy_schema (version INTEGER NOT NULL)",
        )
        .await
        .map_err(|e| self.fail(e))?;
        let row = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM understudy_schema",
                &[],
            )
            .await
            .map_err(|e| self.fail(e))?;
        let version: i32 = row.try_get(0).map_err(|e| self.fail(e))?;
        if version as usize > migrations::MIGRATIONS.len() {
            return Err(StoreError::Newer {
                store: self.name.clone(),
                version: i64::from(version),
            });
        }
        for (index, sql) in migrations::MIGRATIONS
            .iter()
            .enumerate()
            .skip(version as usize)
        {
            tx.batch_execute(sql).await.map_err(|e| {
                let mut failure = self.fail(e);
                if sql.contains("CREATE EXTENSION") {
                    if let StoreError::Postgres { message, .. } = &mut failure {
                        message.push_str(": the server needs the pgvector extension (package postgresql-NN-pgvector, or the pgvector/pgvector Docker image)");
                    }
                }
                failure
            })?;
            tx.execute(
                "INSERT INTO understudy_schema (version) VALUES ($1)",
                &[&(index as i32 + 1)],
            )
            .await
            .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))
    }
}

fn pool(url: &str, options: Option<&str>, name: &str) -> Result<Pool, StoreError> {
    let fail = |message: String| StoreError::Postgres {
        store: name.to_string(),
        message,
    };
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| fail(format!("not a PostgreSQL URL: {e}")))?;
    config.application_name("understudy");
    if let Some(options) = options {
        config.options(options);
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .build()
        .map_err(|e| fail(format!("cannot make a connection pool: {e}")))
}
