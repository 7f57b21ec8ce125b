//! Schema migrations, run by the service at start-up (unless `RUN_MIGRATIONS=false`) and by hand
//! with `cargo run -p migration -- up|down|status|fresh`.

pub use sea_orm_migration::prelude::*;

/// The unique index on `clients.email`: PostgreSQL names it in a violation, and the
/// repositories recognise "e-mail already taken" by it.
pub const CLIENTS_EMAIL_INDEX: &str = "clients_email_key";

mod m20260101_000001_create_tables;
mod m20261203_000001_change_log;
mod m20261207_000001_guests;
mod m20261208_000001_favorite_details;
mod m20261208_000002_favorite_shares;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260101_000001_create_tables::Migration),
            Box::new(m20261203_000001_change_log::Migration),
            Box::new(m20261207_000001_guests::Migration),
            Box::new(m20261208_000001_favorite_details::Migration),
            Box::new(m20261208_000002_favorite_shares::Migration),
        ]
    }
}
