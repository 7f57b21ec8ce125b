//! Secrets that cannot leak by accident: the demo key and password only work on loopback, the
//! operator's file beats the demo `.env` (and the log says which layer each secret came from),
//! and a database URL's password never appears in what the program writes.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::support::app::{ADMIN, password_hash};
use crate::support::binary::{Server, UNSET, WorkDir, free_port, refused_start};

/// The committed demo configuration, as a checkout (or an image built from one) carries it.
const DEMO_DOTENV: &str = include_str!("../../.env");
const DEMO_KEY: &str = "demo-secret-key-change-me-0123456789abcdef";

/// The base settings the tests give, left out so that `.env` and `favorites.toml` decide.
const FROM_FILES: [(&str, &str); 3] = [
    ("SECRET_KEY", UNSET),
    ("MASTER_PASSWORD_HASH", UNSET),
    ("MASTER_USERNAME", UNSET),
];

fn every_interface() -> String {
    format!("0.0.0.0:{}", free_port())
}

#[tokio::test]
async fn the_demo_secrets_refuse_to_listen_beyond_loopback() {
    let dir = WorkDir::new();
    dir.write(".env", DEMO_DOTENV);
    let listen = every_interface();
    let mut env = FROM_FILES.to_vec();
    env.push(("LISTEN_ADDR", &listen));
    let refused = refused_start(dir, &env).await;
    assert!(!refused.status.success());
    let first = refused.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("favorites-api: configuration: SECRET_KEY is the demo key"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains(DEMO_KEY),
        "the key itself was printed"
    );
}

#[tokio::test]
async fn the_demo_password_alone_refuses_too() {
    let dir = WorkDir::new();
    dir.write(".env", DEMO_DOTENV);
    let listen = every_interface();
    let refused = refused_start(
        dir,
        &[
            ("MASTER_PASSWORD_HASH", UNSET),
            ("MASTER_USERNAME", UNSET),
            ("LISTEN_ADDR", &listen),
        ],
    )
    .await;
    let first = refused.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("MASTER_PASSWORD_HASH is the demo password's hash"),
        "{}",
        refused.stderr
    );
}

#[tokio::test]
async fn the_operators_file_wins_over_the_demo_dotenv_and_the_log_says_so() {
    let dir = WorkDir::new();
    dir.write(".env", DEMO_DOTENV);
    let real_key = "the-operators-own-secret-key-0123456789";
    dir.write(
        "favorites.toml",
        &format!(
            "secret_key = \"{real_key}\"\nmaster_password_hash = \"{}\"\nmaster_username = \"{ADMIN}\"\n",
            password_hash()
        ),
    );
    let listen = every_interface();
    let mut env = FROM_FILES.to_vec();
    env.push(("LISTEN_ADDR", &listen));
    env.push(("RUST_LOG", "info"));
    let server = Server::start_in(dir, &env)
        .await
        .expect("it starts with the operator's secrets");
    let log = server.stderr();
    let line = log
        .lines()
        .find(|line| line.contains("secret setting loaded") && line.contains("SECRET_KEY"))
        .unwrap_or_else(|| panic!("no line says where SECRET_KEY came from:\n{log}"));
    assert!(line.contains("favorites.toml"), "{line}");
    assert!(
        !log.contains(real_key) && !log.contains(DEMO_KEY),
        "a key was logged:\n{log}"
    );

    // A token signed with the public demo key is worth nothing here.
    let now = chrono::Utc::now().timestamp();
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({ "sub": ADMIN, "role": "admin", "iat": now, "exp": now + 600, "iss": "favorites-api", "aud": "favorites-api" }),
        &EncodingKey::from_secret(DEMO_KEY.as_bytes()),
    )
    .expect("a token");
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/graphql", server.base))
        .bearer_auth(forged)
        .json(&json!({ "query": "{ clients { totalCount } }" }))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
}

#[tokio::test]
async fn a_database_url_that_does_not_parse_is_named_without_its_password() {
    let password = "QmFzZTY0/c2VjcmV0+==";
    let url = format!("postgres://app:{password}@127.0.0.1:5432/favorites");
    let refused = refused_start(WorkDir::new(), &[("DATABASE_URL", &url)]).await;
    assert!(
        refused.stderr.contains("DATABASE_URL"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("c2VjcmV0"),
        "the password was printed:\n{}",
        refused.stderr
    );
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_is_named_without_its_password() {
    let url = format!(
        "postgres://app:s3cr3t-pa55word@127.0.0.1:{}/favorites",
        free_port()
    );
    let refused = refused_start(
        WorkDir::new(),
        &[
            ("DATABASE_URL", &url),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "500"),
        ],
    )
    .await;
    assert!(
        refused.stderr.contains("cannot connect to the database"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("s3cr3t-pa55word"),
        "the password was printed:\n{}",
        refused.stderr
    );
}
