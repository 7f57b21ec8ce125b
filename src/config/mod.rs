//! Typed settings, loaded in layers: built-in defaults < optional `favorites.toml` < `.env` <
//! process environment. Keys keep the seed service's names (`DATABASE_URL`, `SECRET_KEY`, ...) so
//! an operator can reuse a seed `.env` as it is.
//!
//! Every value from `.env` and the environment is handed to figment as a *string* and extracted
//! leniently: `SECRET_KEY=123456` stays the string "123456" while `LISTEN_ADDR` or the TTLs still
//! parse into their types. Validation happens once, here, so the rest of the program can trust
//! the values it is given.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The keys the service reads from `.env` and the environment.
pub const KEYS: &[&str] = &[
    "DATABASE_URL",
    "DATABASE_SCHEMA",
    "DATABASE_MAX_CONNECTIONS",
    "DATABASE_ACQUIRE_TIMEOUT_MS",
    "FAKESTOREAPI_URL",
    "SECRET_KEY",
    "MASTER_USERNAME",
    "MASTER_PASSWORD_HASH",
    "MASTER_TOKEN_EXPIRE_MINUTES",
    "LISTEN_ADDR",
    "PRODUCT_CACHE_TTL_SECONDS",
    "UPSTREAM_TIMEOUT_MS",
    "RUN_MIGRATIONS",
    "PRODUCT_STALE_SECONDS",
    "REQUEST_TIMEOUT_MS",
    "MAX_BODY_BYTES",
    "MAX_BATCH_SIZE",
    "INTROSPECTION_ENABLED",
    "TRUST_PROXY",
    "LOGIN_MAX_FAILURES_PER_MINUTE",
    "UPSTREAM_BREAKER_THRESHOLD",
    "UPSTREAM_BREAKER_COOL_DOWN_MS",
    "CORS_ALLOWED_ORIGINS",
    "GRAPHIQL_ASSETS_DIR",
    "PERSISTED_QUERIES_MAX_BYTES",
    "REDIS_URL",
    "REDIS_KEY_PREFIX",
];

/// Longest token lifetime we accept: a year.
pub const MAX_TOKEN_EXPIRE_MINUTES: u64 = 365 * 24 * 60;

/// Shortest HS256 key we accept: RFC 7518 asks for a key at least as long as the hash output.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    pub database_url: String,
    /// PostgreSQL schema to work in instead of the connection's default (`public`).
    #[serde(default)]
    pub database_schema: Option<String>,
    pub database_max_connections: u32,
    pub database_acquire_timeout_ms: u64,
    pub fakestoreapi_url: String,
    pub secret_key: SecretString,
    pub master_username: String,
    pub master_password_hash: SecretString,
    pub master_token_expire_minutes: u64,
    pub listen_addr: SocketAddr,
    pub product_cache_ttl_seconds: u64,
    pub upstream_timeout_ms: u64,
    pub run_migrations: bool,
    /// How long past its TTL a product may still be served while the catalog is failing.
    pub product_stale_seconds: u64,
    pub request_timeout_ms: u64,
    pub max_body_bytes: usize,
    pub max_batch_size: usize,
    pub introspection_enabled: bool,
    /// Whether to take the client address from `X-Forwarded-For` (only behind a proxy).
    pub trust_proxy: bool,
    pub login_max_failures_per_minute: u32,
    /// Consecutive catalog failures that open the circuit breaker.
    pub upstream_breaker_threshold: u32,
    /// How long the open breaker keeps calls away from the catalog.
    pub upstream_breaker_cool_down_ms: u64,
    /// Comma-separated origins that browsers may call us from; empty means none.
    pub cors_allowed_origins: String,
    /// Where `scripts/graphiql-assets` put GraphiQL's files; unset means the page uses a CDN.
    #[serde(default)]
    pub graphiql_assets_dir: Option<std::path::PathBuf>,
    /// Memory for automatic persisted queries (their text); 0 turns them off.
    pub persisted_queries_max_bytes: usize,
    /// A Redis shared by every instance for product data; unset means an in-process cache.
    #[serde(default)]
    pub redis_url: Option<SecretString>,
    /// What every key of ours in Redis starts with, so services can share one Redis.
    pub redis_key_prefix: String,
}

/// Defaults for every key that has one; `SECRET_KEY` and `MASTER_PASSWORD_HASH` have none.
#[derive(Serialize)]
struct Defaults {
    database_url: &'static str,
    database_max_connections: u32,
    database_acquire_timeout_ms: u64,
    fakestoreapi_url: &'static str,
    master_username: &'static str,
    master_token_expire_minutes: u64,
    listen_addr: &'static str,
    product_cache_ttl_seconds: u64,
    upstream_timeout_ms: u64,
    run_migrations: bool,
    product_stale_seconds: u64,
    request_timeout_ms: u64,
    max_body_bytes: usize,
    max_batch_size: usize,
    introspection_enabled: bool,
    trust_proxy: bool,
    login_max_failures_per_minute: u32,
    upstream_breaker_threshold: u32,
    upstream_breaker_cool_down_ms: u64,
    cors_allowed_origins: &'static str,
    persisted_queries_max_bytes: usize,
    redis_key_prefix: &'static str,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            database_url: "sqlite://favorites.db?mode=rwc",
            database_max_connections: 10,
            database_acquire_timeout_ms: 2_000,
            fakestoreapi_url: "https://fakestoreapi.com",
            master_username: "favorite_products_admin",
            master_token_expire_minutes: 480,
            listen_addr: "127.0.0.1:8000",
            product_cache_ttl_seconds: 3_600,
            upstream_timeout_ms: 2_000,
            run_migrations: true,
            product_stale_seconds: 86_400,
            request_timeout_ms: 10_000,
            max_body_bytes: 1024 * 1024,
            max_batch_size: 10,
            introspection_enabled: true,
            trust_proxy: false,
            login_max_failures_per_minute: 10,
            upstream_breaker_threshold: 5,
            upstream_breaker_cool_down_ms: 30_000,
            cors_allowed_origins: "",
            persisted_queries_max_bytes: 4 * 1024 * 1024,
            redis_key_prefix: "favorites-api",
        }
    }
}

/// A configuration problem, worded as one line that names the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {key} {problem}")]
    Invalid { key: String, problem: String },
    #[error("configuration: cannot read {path}: {reason}")]
    File { path: String, reason: String },
}

impl ConfigError {
    fn invalid(key: &str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            problem: problem.into(),
        }
    }
}

impl Settings {
    /// Loads settings from `favorites.toml` and `.env` in the working directory, then the
    /// process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(Path::new("favorites.toml"), Path::new(".env"), env)
    }

    /// Loads settings from explicit sources; `load` and the tests share this path.
    pub fn load_from(
        toml_path: &Path,
        dotenv_path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let settings: Settings = layers(toml_path, dotenv_path, env)?
            .extract_lossy()
            .map_err(describe_figment_error)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.secret_key.expose_secret().len() < MIN_SECRET_KEY_BYTES {
            return Err(ConfigError::invalid(
                "SECRET_KEY",
                format!("must be at least {MIN_SECRET_KEY_BYTES} bytes long"),
            ));
        }
        if self
            .master_password_hash
            .expose_secret()
            .parse::<bcrypt::HashParts>()
            .is_err()
        {
            return Err(ConfigError::invalid(
                "MASTER_PASSWORD_HASH",
                "is not a bcrypt hash (make one with `favorites-api hash-password`)",
            ));
        }
        if self.master_username.trim().is_empty() {
            return Err(ConfigError::invalid("MASTER_USERNAME", "must not be empty"));
        }
        if !(1..=MAX_TOKEN_EXPIRE_MINUTES).contains(&self.master_token_expire_minutes) {
            return Err(ConfigError::invalid(
                "MASTER_TOKEN_EXPIRE_MINUTES",
                format!("must be between 1 and {MAX_TOKEN_EXPIRE_MINUTES} (one year)"),
            ));
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError::invalid(
                "DATABASE_MAX_CONNECTIONS",
                "must be at least 1",
            ));
        }
        for (key, value) in [
            ("UPSTREAM_TIMEOUT_MS", self.upstream_timeout_ms),
            ("REQUEST_TIMEOUT_MS", self.request_timeout_ms),
            ("MAX_BODY_BYTES", self.max_body_bytes as u64),
            ("MAX_BATCH_SIZE", self.max_batch_size as u64),
            (
                "LOGIN_MAX_FAILURES_PER_MINUTE",
                u64::from(self.login_max_failures_per_minute),
            ),
            (
                "UPSTREAM_BREAKER_THRESHOLD",
                u64::from(self.upstream_breaker_threshold),
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        match reqwest::Url::parse(&self.fakestoreapi_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(ConfigError::invalid(
                    "FAKESTOREAPI_URL",
                    "must be an http(s) URL",
                ));
            }
        }
        if let Some(schema) = &self.database_schema
            && (schema.is_empty()
                || !schema
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(ConfigError::invalid(
                "DATABASE_SCHEMA",
                "must be a plain identifier (letters, digits, underscores)",
            ));
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        self.cors_allowed_origins()?;
        if self.redis_key_prefix.is_empty()
            || self
                .redis_key_prefix
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ConfigError::invalid(
                "REDIS_KEY_PREFIX",
                "must be non-empty, without spaces",
            ));
        }
        if let Some(redis_url) = &self.redis_url {
            match reqwest::Url::parse(redis_url.expose_secret()) {
                Ok(url) if matches!(url.scheme(), "redis" | "rediss") => {}
                // The URL may carry a password: it is not echoed.
                _ => {
                    return Err(ConfigError::invalid(
                        "REDIS_URL",
                        "must be a redis:// or rediss:// URL",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The origins of `CORS_ALLOWED_ORIGINS`, each as a browser sends it in `Origin`
    /// (`scheme://host[:port]`), or `*` for any.
    pub fn cors_allowed_origins(&self) -> Result<Vec<String>, ConfigError> {
        self.cors_allowed_origins
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(|origin| {
                if origin == "*" {
                    return Ok(origin.to_owned());
                }
                let invalid = || {
                    ConfigError::invalid(
                        "CORS_ALLOWED_ORIGINS",
                        format!(
                            "holds {origin:?}, which is not an origin like https://app.example.com"
                        ),
                    )
                };
                let url = reqwest::Url::parse(origin).map_err(|_| invalid())?;
                let bare = matches!(url.scheme(), "http" | "https")
                    && url.host_str().is_some()
                    && url.path() == "/"
                    && url.query().is_none()
                    && url.fragment().is_none()
                    && url.username().is_empty();
                if !bare || origin.ends_with('/') {
                    return Err(invalid());
                }
                Ok(url.origin().ascii_serialization())
            })
            .collect()
    }

    pub fn token_lifetime(&self) -> Duration {
        Duration::from_secs(self.master_token_expire_minutes.saturating_mul(60))
    }

    pub fn product_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.product_cache_ttl_seconds)
    }

    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }

    pub fn product_stale_for(&self) -> Duration {
        Duration::from_secs(self.product_stale_seconds)
    }

    pub fn upstream_breaker_cool_down(&self) -> Duration {
        Duration::from_millis(self.upstream_breaker_cool_down_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn database_acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.database_acquire_timeout_ms)
    }
}

/// Just what `favorites-api migrate` needs, so migrations can run without the app's secrets.
#[derive(Clone, Debug, Deserialize)]
pub struct DatabaseTarget {
    pub database_url: String,
    #[serde(default)]
    pub database_schema: Option<String>,
}

impl DatabaseTarget {
    pub fn load() -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        layers(Path::new("favorites.toml"), Path::new(".env"), env)?
            .extract_lossy()
            .map_err(describe_figment_error)
    }
}

fn layers(
    toml_path: &Path,
    dotenv_path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Figment, ConfigError> {
    let dotenv = read_dotenv(dotenv_path)?;
    Ok(Figment::new()
        .merge(Serialized::defaults(Defaults::default()))
        .merge(Toml::file(toml_path))
        .merge(Serialized::globals(known_keys(dotenv)))
        .merge(Serialized::globals(known_keys(env))))
}

/// Keeps only the keys we know, lower-cased to match the struct's field names, as strings.
fn known_keys(pairs: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter(|(key, _)| KEYS.contains(&key.as_str()))
        .map(|(key, value)| (key.to_lowercase(), value))
        .collect()
}

fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let file_error = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    dotenvy::from_path_iter(path)
        .map_err(|err| file_error(err.to_string()))?
        .map(|item| item.map_err(|err| file_error(err.to_string())))
        .collect()
}

/// Figment names fields by their lower-case path; operators know them by the upper-case key.
/// The message never includes the value, which may be a secret.
fn describe_figment_error(error: figment::Error) -> ConfigError {
    let key = error
        .path
        .first()
        .map(|field| field.to_uppercase())
        .unwrap_or_else(|| "(file)".to_owned());
    let problem = match &error.kind {
        figment::error::Kind::MissingField(_) => "is required but not set".to_owned(),
        // What was found is left out: the key may hold a secret.
        figment::error::Kind::InvalidType(_, expected) => {
            format!("has the wrong type: expected {expected}")
        }
        figment::error::Kind::InvalidValue(_, expected) => {
            format!("has an invalid value: expected {expected}")
        }
        other => format!("is invalid: {other}"),
    };
    let key = match &error.kind {
        figment::error::Kind::MissingField(field) => field.to_uppercase(),
        _ => key,
    };
    ConfigError::Invalid { key, problem }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2b$12$jN1NmXIy5YgRZAH.h90uwOExGS2d0jldCsG3Udfb2Ck/XrBand1Ou";

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load_from(
            Path::new("/nonexistent/favorites.toml"),
            Path::new("/nonexistent/.env"),
            env(pairs),
        )
    }

    #[test]
    fn numeric_secret_stays_a_string() {
        let key = "12345678901234567890123456789012345";
        let settings = load(&[("SECRET_KEY", key), ("MASTER_PASSWORD_HASH", HASH)]).unwrap();
        assert_eq!(settings.secret_key.expose_secret(), key);
        assert_eq!(settings.master_token_expire_minutes, 480);
        assert_eq!(settings.listen_addr.port(), 8000);
    }

    #[test]
    fn missing_secret_names_the_key() {
        let err = load(&[("MASTER_PASSWORD_HASH", HASH)]).unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY"), "{err}");
    }

    #[test]
    fn short_secret_is_refused() {
        let err = load(&[("SECRET_KEY", "short"), ("MASTER_PASSWORD_HASH", HASH)]).unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY"), "{err}");
        assert!(!err.to_string().contains("short"), "secret leaked: {err}");
    }

    #[test]
    fn bad_number_names_the_key() {
        let err = load(&[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("MASTER_PASSWORD_HASH", HASH),
            ("PRODUCT_CACHE_TTL_SECONDS", "soon"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("PRODUCT_CACHE_TTL_SECONDS"),
            "{err}"
        );
    }

    #[test]
    fn absurd_token_lifetime_is_refused() {
        let err = load(&[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("MASTER_PASSWORD_HASH", HASH),
            ("MASTER_TOKEN_EXPIRE_MINUTES", "1000000000000"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("MASTER_TOKEN_EXPIRE_MINUTES"),
            "{err}"
        );
    }

    #[test]
    fn wrongly_typed_secret_is_not_echoed() {
        let dir = std::env::temp_dir().join(format!("favorites-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml = dir.join("favorites.toml");
        std::fs::write(&toml, "secret_key = 987654321987654321\n").unwrap();
        let err = Settings::load_from(
            &toml,
            Path::new("/nonexistent/.env"),
            env(&[("MASTER_PASSWORD_HASH", HASH)]),
        )
        .unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.to_string().contains("SECRET_KEY"), "{err}");
        assert!(
            !err.to_string().contains("987654321"),
            "secret leaked: {err}"
        );
    }

    #[test]
    fn redis_key_prefix_has_a_default_and_must_be_one_word() {
        let key = ("SECRET_KEY", "0123456789abcdef0123456789abcdef");
        let hash = ("MASTER_PASSWORD_HASH", HASH);
        let settings = load(&[key, hash]).unwrap();
        assert_eq!(settings.redis_key_prefix, "favorites-api");
        assert!(settings.redis_url.is_none());
        let err = load(&[key, hash, ("REDIS_KEY_PREFIX", "two words")]).unwrap_err();
        assert!(err.to_string().contains("REDIS_KEY_PREFIX"), "{err}");
    }

    #[test]
    fn bad_hash_is_refused() {
        let err = load(&[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("MASTER_PASSWORD_HASH", "plaintext"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("MASTER_PASSWORD_HASH"), "{err}");
    }
}
