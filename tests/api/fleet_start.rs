//! A fleet that starts together: instances started at the same moment on an empty PostgreSQL
//! database all become ready, and each migration is applied once.

use std::panic::AssertUnwindSafe;

use favorites_api::app::Application;
use favorites_api::config::Settings;
use futures::FutureExt;
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;

use crate::support::app::{ADMIN, SECRET_KEY, password_hash};
use crate::support::catalog::FakeCatalog;
use crate::support::database::{Backend, backends};

const INSTANCES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_started_together_on_an_empty_database_all_become_ready() {
    let Some(admin_url) = backends().into_iter().find_map(|backend| match backend {
        Backend::Postgres(url) => Some(url),
        Backend::Sqlite => None,
    }) else {
        eprintln!("skipped: needs PostgreSQL (TEST_DATABASE_URL); a SQLite file has one process");
        return;
    };
    let schema = format!("fleet_{}", Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(&admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    admin
        .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .expect("create the fleet's schema");
    let outcome = AssertUnwindSafe(start_together(&admin_url, &schema, &admin))
        .catch_unwind()
        .await;
    admin
        .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .expect("drop the fleet's schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn start_together(admin_url: &str, schema: &str, admin: &sea_orm::DatabaseConnection) {
    let catalog = FakeCatalog::start().await;
    let pairs: Vec<(String, String)> = [
        ("DATABASE_URL", admin_url.to_owned()),
        ("DATABASE_SCHEMA", schema.to_owned()),
        ("FAKESTOREAPI_URL", catalog.url()),
        ("SECRET_KEY", SECRET_KEY.to_owned()),
        ("MASTER_USERNAME", ADMIN.to_owned()),
        ("MASTER_PASSWORD_HASH", password_hash()),
        ("LISTEN_ADDR", "127.0.0.1:0".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    let builds = (0..INSTANCES).map(|_| {
        let settings = Settings::from_pairs(pairs.clone()).expect("valid settings");
        tokio::spawn(Application::build(settings))
    });
    let started = futures::future::join_all(builds).await;
    let mut failures = Vec::new();
    let mut addresses = Vec::new();
    for outcome in started {
        match outcome.expect("the start-up task ran") {
            Ok(application) => {
                addresses.push(application.local_addr());
                tokio::spawn(application.run_until_stopped());
            }
            Err(error) => failures.push(error.to_string()),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {INSTANCES} instances failed to start: {failures:?}",
        failures.len()
    );
    let http = reqwest::Client::new();
    for address in &addresses {
        let ready = http
            .get(format!("http://{address}/readyz"))
            .send()
            .await
            .expect("readyz answers");
        assert_eq!(ready.status(), 200, "instance {address} is not ready");
    }
    let rows = admin
        .query_all_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT version, COUNT(*) AS times FROM \"{schema}\".seaql_migrations GROUP BY version"),
        ))
        .await
        .expect("read the migration table");
    let expected = migration::Migrator::migrations().len();
    assert_eq!(rows.len(), expected, "every migration is recorded");
    for row in rows {
        let version: String = row.try_get("", "version").expect("a version");
        let times: i64 = row.try_get("", "times").expect("a count");
        assert_eq!(times, 1, "migration {version} recorded {times} times");
    }
}
