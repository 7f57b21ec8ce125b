//! The database of one test: a fresh SQLite file, or a fresh schema in the PostgreSQL of
//! `TEST_DATABASE_URL`, removed when the test is over; and its rows, read straight from it.

use std::path::PathBuf;

use favorites_api::db::entities::{client_favorite_product, product_ref};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use uuid::Uuid;

use crate::support::app::TestApp;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// SQLite always; PostgreSQL too when `TEST_DATABASE_URL` is set.
pub fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Sqlite];
    if let Ok(url) = std::env::var("TEST_DATABASE_URL")
        && !url.is_empty()
    {
        backends.push(Backend::Postgres(url));
    }
    backends
}

/// The database a test runs on, removed when the test is over.
pub enum TestDatabase {
    SqliteFile(PathBuf),
    PostgresSchema { admin_url: String, schema: String },
}

impl TestDatabase {
    /// A new database on `backend`; on PostgreSQL a schema named `schema`, or a random name.
    pub async fn create(backend: &Backend, schema: Option<String>) -> Self {
        match backend {
            Backend::Sqlite => Self::SqliteFile(
                std::env::temp_dir().join(format!("favorites-test-{}.db", Uuid::new_v4())),
            ),
            Backend::Postgres(admin_url) => {
                let schema = schema.unwrap_or_else(|| format!("test_{}", Uuid::new_v4().simple()));
                let admin = sea_orm::Database::connect(admin_url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                    .await
                    .expect("create a test schema");
                let _ = admin.close().await;
                Self::PostgresSchema {
                    admin_url: admin_url.clone(),
                    schema,
                }
            }
        }
    }

    /// What the app gets as `DATABASE_URL`.
    pub fn url(&self) -> String {
        match self {
            Self::SqliteFile(path) => format!("sqlite://{}?mode=rwc", path.display()),
            Self::PostgresSchema { admin_url, .. } => admin_url.clone(),
        }
    }

    /// What the app gets as `DATABASE_SCHEMA` (PostgreSQL only).
    pub fn schema(&self) -> Option<String> {
        match self {
            Self::SqliteFile(_) => None,
            Self::PostgresSchema { schema, .. } => Some(schema.clone()),
        }
    }

    pub async fn drop(self) {
        match self {
            Self::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Self::PostgresSchema { admin_url, schema } => {
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await
                    .expect("drop the test schema");
                let _ = admin.close().await;
            }
        }
    }
}

/// What a test reads of its database without going through the app.
impl TestApp {
    /// Rows of `products_ref`, read straight from the database.
    pub async fn product_refs(&self) -> Vec<i32> {
        product_ref::Entity::find()
            .order_by_asc(product_ref::Column::Id)
            .all(&self.db)
            .await
            .expect("read products_ref")
            .into_iter()
            .map(|row| row.id)
            .collect()
    }

    /// Rows of `products_ref` once the prune that follows a remove has run: waits (a few
    /// seconds at most) until they are exactly the product ids some list holds, and fails the
    /// test if they never are.
    pub async fn pruned_product_refs(&self) -> Vec<i32> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let refs = self.product_refs().await;
            let mut listed: Vec<i32> = self
                .favorite_rows()
                .await
                .into_iter()
                .map(|(_, p)| p)
                .collect();
            listed.sort_unstable();
            listed.dedup();
            if refs == listed {
                return refs;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "products_ref {refs:?} never became the listed ids {listed:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Rows of `client_favorite_products`, read straight from the database.
    pub async fn favorite_rows(&self) -> Vec<(Uuid, i32)> {
        client_favorite_product::Entity::find()
            .order_by_asc(client_favorite_product::Column::ClientId)
            .order_by_asc(client_favorite_product::Column::ProductId)
            .all(&self.db)
            .await
            .expect("read client_favorite_products")
            .into_iter()
            .map(|row| (row.client_id, row.product_id))
            .collect()
    }
}
