//! Schema migrations, run by the service at start-up (unless `RUN_MIGRATIONS=false`) and by hand
//! with `cargo run -p migration -- up|down|status|fresh`.

pub use sea_orm_migration::prelude::*;

/// The unique index on `clients.email`: PostgreSQL names it in a violation, and the
/// repositories recognise "e-mail already taken" by it.
pub const CLIENTS_EMAIL_INDEX: &str = "clients_email_key";

mod m20260101_000001_create_tables;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20260101_000001_create_tables::Migration)]
    }
}
