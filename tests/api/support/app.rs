//! Starts the real application on a random port, on a fresh database (a SQLite file, or a
//! PostgreSQL schema when `TEST_DATABASE_URL` is set: `database`), against a fake catalog on
//! loopback, and talks to it as a client would.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use favorites_api::app::Application;
use favorites_api::catalog::ProductSource;
use favorites_api::config::Settings;
use favorites_api::db::StatementCounter;
use futures::FutureExt;
use reqwest::StatusCode;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use crate::support::catalog::FakeCatalog;
use crate::support::database::{Backend, TestDatabase, backends};

pub const ADMIN: &str = "test_admin";
/// What a browser sends in `Accept` for a page.
pub const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
pub const PASSWORD: &str = "test-password";
pub const SECRET_KEY: &str = "test-secret-key-0123456789abcdef0123456789";

/// bcrypt at the lowest cost: the tests check behaviour, not hashing strength.
static PASSWORD_HASH: LazyLock<String> =
    LazyLock::new(|| bcrypt::hash(PASSWORD, 4).expect("hashing works"));

pub fn password_hash() -> String {
    PASSWORD_HASH.clone()
}

/// Settings a test changes before the app starts, written as an operator would write them
/// (`Options::default().with("UPSTREAM_TIMEOUT_MS", 300)`): they go through the same parsing and
/// validation as a real configuration.
#[derive(Clone, Default)]
pub struct Options {
    overrides: Vec<(String, String)>,
    /// Products from this source instead of the fake FakeStoreAPI.
    source: Option<Arc<dyn ProductSource>>,
}

impl Options {
    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.overrides.push((key.to_owned(), value.to_string()));
        self
    }

    /// A catalog source of the test's own, in place of FakeStoreAPI.
    pub fn with_source(mut self, source: Arc<dyn ProductSource>) -> Self {
        self.source = Some(source);
        self
    }

    /// Milliseconds, as `_MS` keys take them.
    pub fn with_millis(self, key: &str, duration: Duration) -> Self {
        self.with(key, duration.as_millis())
    }
}

/// Runs `test` once per backend, each time on a fresh app and database.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    each_backend_with(Options::default(), test).await;
}

pub async fn each_backend_with<F, Fut>(options: Options, test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        run_on(&backend, &options, &test).await;
    }
}

/// Runs `test` on a fresh app and database of one backend.
pub async fn run_on<F, Fut>(backend: &Backend, options: &Options, test: &F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let (app, database) = TestApp::spawn(backend, options).await;
    // Clean up even when the test fails, then report the failure.
    let outcome = AssertUnwindSafe(test(app)).catch_unwind().await;
    database.drop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[derive(Clone)]
pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub token: String,
    pub catalog: Arc<FakeCatalog>,
    pub db: DatabaseConnection,
    pub statements: StatementCounter,
    pub backend: Backend,
    /// The settings it was started with, so another instance can join it (`another_instance`).
    pub pairs: Vec<(String, String)>,
}

impl TestApp {
    async fn spawn(backend: &Backend, options: &Options) -> (Self, TestDatabase) {
        let catalog = Arc::new(FakeCatalog::start().await);
        // A test may name its schema (DATABASE_SCHEMA); it is created and dropped all the same.
        let schema = options
            .overrides
            .iter()
            .find(|(key, _)| key == "DATABASE_SCHEMA")
            .map(|(_, schema)| schema.clone());
        let database = TestDatabase::create(backend, schema).await;
        let mut pairs: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), database.url()),
            ("DATABASE_ACQUIRE_TIMEOUT_MS".into(), "5000".into()),
            ("FAKESTOREAPI_URL".into(), catalog.url()),
            ("SECRET_KEY".into(), SECRET_KEY.into()),
            ("MASTER_USERNAME".into(), ADMIN.into()),
            ("MASTER_PASSWORD_HASH".into(), PASSWORD_HASH.clone()),
            ("MASTER_TOKEN_EXPIRE_MINUTES".into(), "60".into()),
            ("LISTEN_ADDR".into(), "127.0.0.1:0".into()),
            (
                "PERSISTED_QUERIES_MAX_BYTES".into(),
                (1024 * 1024).to_string(),
            ),
            // Tests fire dozens of requests at once to check other things, on a machine that
            // runs other tests meanwhile; admission control has tests of its own (`overload`,
            // `cold_burst`).
            ("MAX_CONCURRENT_REQUESTS".into(), "1000".into()),
        ];
        pairs.extend(
            database
                .schema()
                .map(|schema| ("DATABASE_SCHEMA".into(), schema)),
        );
        pairs.extend(options.overrides.iter().cloned());
        let mut app = Self::start(pairs, catalog, backend.clone(), options.source.clone()).await;
        app.token = app.issue_token().await;
        (app, database)
    }

    async fn start(
        pairs: Vec<(String, String)>,
        catalog: Arc<FakeCatalog>,
        backend: Backend,
        source: Option<Arc<dyn ProductSource>>,
    ) -> Self {
        let settings = Settings::from_pairs(pairs.clone()).expect("valid test settings");
        let application = match source {
            Some(source) => Application::build_with_source(settings, source).await,
            None => Application::build(settings).await,
        }
        .expect("the application starts");
        let address = format!("http://{}", application.local_addr());
        let db = application.db();
        let statements = application.statements();
        tokio::spawn(application.run_until_stopped());
        Self {
            address,
            http: reqwest::Client::new(),
            token: String::new(),
            catalog,
            db,
            statements,
            backend,
            pairs,
        }
    }

    /// A second (third, ...) instance of the service, as a fleet would run it: the same
    /// database, fake catalog and Redis, its own port and in-process state. `options` change
    /// its settings (say, its `REDIS_URL`). It stops with the test.
    pub async fn another_instance_with(&self, options: Options) -> Self {
        let mut pairs = self.pairs.clone();
        pairs.push(("RUN_MIGRATIONS".into(), "false".into())); // the first instance did
        pairs.extend(options.overrides);
        let mut app = Self::start(
            pairs,
            Arc::clone(&self.catalog),
            self.backend.clone(),
            options.source,
        )
        .await;
        // The same SECRET_KEY signs for every instance.
        app.token = self.token.clone();
        app
    }

    async fn issue_token(&self) -> String {
        let body = self
            .graphql_as(
                None,
                "mutation($u: String!, $p: String!) { issueToken(username: $u, password: $p) { accessToken } }",
                json!({ "u": ADMIN, "p": PASSWORD }),
            )
            .await;
        body["data"]["issueToken"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {body}"))
            .to_owned()
    }

    /// GETs a path of the app as a browser does (`Accept: text/html, ...`).
    pub async fn get_page(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .header("accept", BROWSER_ACCEPT)
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    /// GETs a path of the app.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    /// POSTs a raw body to `/graphql`; returns the status and the JSON answer.
    pub async fn post_graphql(&self, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.address))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON answer");
        assert_every_error_has_a_code(&body);
        (status, body)
    }

    /// Runs a document with the given token (or none); every error must carry a code.
    pub async fn graphql_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .post_graphql(token, &json!({ "query": query, "variables": variables }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Runs a document as the admin.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(Some(&self.token), query, variables).await
    }

    /// Runs a document as the admin and returns `data`, failing on any error.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    pub async fn create_client(&self, name: &str, email: &str) -> String {
        let data = self
            .data(
                "mutation($input: CreateClientInput!) { createClient(input: $input) { id } }",
                json!({ "input": { "name": name, "email": email } }),
            )
            .await;
        data["createClient"]["id"]
            .as_str()
            .expect("an id")
            .to_owned()
    }

    /// A token that acts for `client_id` alone, minted by the admin.
    pub async fn client_token(&self, client_id: &str) -> String {
        let data = self
            .data(
                "mutation($id: UUID!) { issueClientToken(clientId: $id) { accessToken } }",
                json!({ "id": client_id }),
            )
            .await;
        data["issueClientToken"]["accessToken"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    pub async fn add_favorite(&self, client_id: &str, product_id: i64) -> Value {
        self.graphql(
            "mutation($c: UUID!, $p: Int!) { addFavorite(clientId: $c, productId: $p) { id favorites { totalCount nodes { productId } } } }",
            json!({ "c": client_id, "p": product_id }),
        )
        .await
    }

    pub async fn remove_favorite(&self, client_id: &str, product_id: i64) -> Value {
        self.graphql(
            "mutation($c: UUID!, $p: Int!) { removeFavorite(clientId: $c, productId: $p) { id favorites { totalCount nodes { productId } } } }",
            json!({ "c": client_id, "p": product_id }),
        )
        .await
    }
}

/// Checks a response, or each response of a batch.
pub fn assert_every_error_has_a_code(body: &Value) {
    if let Some(responses) = body.as_array() {
        responses.iter().for_each(assert_every_error_has_a_code);
        return;
    }
    if let Some(errors) = body.get("errors").and_then(Value::as_array) {
        for error in errors {
            assert!(
                error["extensions"]["code"].is_string(),
                "an error without a code: {error}"
            );
        }
    }
}

/// The codes of a response's errors, in order.
pub fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    error["extensions"]["code"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The values of an answer's `Vary` headers, lower-case, joined with `, `.
pub fn vary(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(reqwest::header::VARY)
        .iter()
        .map(|value| value.to_str().unwrap().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The seconds a refusal's `Retry-After` asks the caller to wait.
pub fn retry_after_seconds(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .expect("Retry-After is text")
        .parse()
        .expect("Retry-After is whole seconds")
}
