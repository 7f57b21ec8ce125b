//! Every setting, declared once: its key, doc line, type, default and parser (which is its
//! validation). The `Settings` struct, the loader's list of keys and the README's table all come
//! from here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::declare::Default::{Required, Unset, Value};
use super::declare::declare_settings;
use super::parse::*;
use super::values::{CatalogSource, CorsOrigins, DatabaseUrl, LogFormat};

/// Shortest HS256 key we accept: RFC 7518 asks for a key at least as long as the hash output.
pub const MIN_SECRET_KEY_BYTES: usize = 32;
/// Longest token lifetime we accept: a year.
pub const MAX_TOKEN_EXPIRE_MINUTES: u64 = 365 * 24 * 60;
/// The log filter when none is configured: sqlx and sea-orm are chatty at `info`.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,sea_orm=warn";
const DAY_SECONDS: u64 = 24 * 60 * 60;
const MIB: usize = 1024 * 1024;

declare_settings! {
    /// SQLite file (embedded) or `postgres://user:pass@host/db`
    DATABASE_URL (secret) => database_url: DatabaseUrl = Value("sqlite://favorites.db?mode=rwc"), database_url();
    /// PostgreSQL schema to use
    DATABASE_SCHEMA => database_schema: Option<String> = Unset("(connection default)"), optional(identifier(63));
    /// pool size for PostgreSQL (SQLite always uses one connection)
    DATABASE_MAX_CONNECTIONS => database_max_connections: u32 = Value("10"), number(1..=1_000);
    /// how long a request waits for a database connection
    DATABASE_ACQUIRE_TIMEOUT_MS => database_acquire_timeout: Duration = Value("2000"), millis(1..=600_000);
    /// which catalog API products come from (`fakestore`: FakeStoreAPI)
    CATALOG_SOURCE => catalog_source: CatalogSource = Value("fakestore"), catalog_source();
    /// FakeStoreAPI's base URL
    FAKESTOREAPI_URL => fakestoreapi_url: reqwest::Url = Value("https://fakestoreapi.com"), http_url();
    /// HS256 signing key, at least 32 bytes
    SECRET_KEY (secret) => secret_key: SecretString = Required, secret(MIN_SECRET_KEY_BYTES);
    /// admin login
    MASTER_USERNAME => master_username: String = Value("favorite_products_admin"), non_empty();
    /// bcrypt hash of the admin password
    MASTER_PASSWORD_HASH (secret) => master_password_hash: SecretString = Required, bcrypt_hash();
    /// admin token lifetime
    MASTER_TOKEN_EXPIRE_MINUTES => master_token_lifetime: Duration = Value("480"), minutes(1..=MAX_TOKEN_EXPIRE_MINUTES);
    /// default lifetime of a token from `issueClientToken` (it may ask for 1 to 1440 minutes)
    CLIENT_TOKEN_EXPIRE_MINUTES => client_token_lifetime: Duration = Value("60"), minutes(1..=1_440);
    /// requests a minute one client may make, across all its tokens (beyond: `RATE_LIMITED`); the admin is not limited by it
    CLIENT_REQUESTS_PER_MINUTE => client_requests_per_minute: u32 = Value("600"), number(1..=1_000_000);
    /// the most products one client's list may hold; beyond, `addFavorite` is `FAVORITES_LIMIT_REACHED` and writes nothing
    MAX_FAVORITES_PER_CLIENT => max_favorites_per_client: u32 = Value("1000"), number(1..=100_000);
    /// lifetime of a guest shopper's token from `startGuestSession` (see [Access for storefronts](#access-for-storefronts))
    GUEST_TOKEN_EXPIRE_DAYS => guest_token_lifetime: Duration = Value("30"), days(1..=365);
    /// guest sessions one network (an IPv4 address, an IPv6 /64) may start per minute (beyond: `RATE_LIMITED`)
    GUEST_SESSIONS_PER_MINUTE => guest_sessions_per_minute: u32 = Value("30"), number(1..=100_000);
    /// a guest's list untouched this long is deleted (in small batches, off the request path)
    GUEST_LIST_RETENTION_DAYS => guest_list_retention: Duration = Value("30"), days(1..=3_650);
    /// shared lists (`sharedFavorites`) one network (an IPv4 address, an IPv6 /64) may open per minute (beyond: `RATE_LIMITED`; an answer from the response cache is not counted)
    SHARED_READS_PER_MINUTE => shared_reads_per_minute: u32 = Value("120"), number(1..=1_000_000_000);
    /// how long an instance keeps a product's `favoritesCount` (and the `popularProducts` ranking) before counting again: how far they may lag the lists
    FAVORITES_COUNT_TTL_SECONDS => favorites_count_ttl: Duration = Value("10"), seconds(1..=3_600);
    /// the store's identity provider's JWKS, e.g. `https://idp.example.com/.well-known/jwks.json`; set with the next two, it lets shoppers call with the provider's tokens (see [Access for storefronts](#access-for-storefronts))
    AUTH_JWKS_URL => auth_jwks_url: Option<reqwest::Url> = Unset("(unset: off)"), optional(http_url());
    /// the `iss` the identity provider's tokens carry
    AUTH_JWT_ISSUER => auth_jwt_issuer: Option<String> = Unset("(unset)"), optional(non_empty());
    /// the `aud` they must carry (this API's identifier at the provider)
    AUTH_JWT_AUDIENCE => auth_jwt_audience: Option<String> = Unset("(unset)"), optional(non_empty());
    /// the claim that holds the shopper's e-mail address
    AUTH_EMAIL_CLAIM => auth_email_claim: String = Value("email"), non_empty();
    /// `true`: a provider token for an e-mail no client has creates that client
    AUTH_CREATE_CLIENTS => auth_create_clients: bool = Value("false"), flag();
    /// the least time between two fetches of the JWKS (a token naming an unknown `kid` asks for one)
    AUTH_JWKS_MIN_REFRESH_SECONDS => auth_jwks_min_refresh: Duration = Value("30"), seconds(1..=86_400);
    /// the most a fetch of the JWKS may take
    AUTH_JWKS_TIMEOUT_MS => auth_jwks_timeout: Duration = Value("3000"), millis(1..=60_000);
    /// bind address (`0.0.0.0:8000` to listen on every interface)
    LISTEN_ADDR => listen_addr: SocketAddr = Value("127.0.0.1:8000"), socket_address();
    /// how long product data is cached
    PRODUCT_CACHE_TTL_SECONDS => product_cache_ttl: Duration = Value("3600"), seconds(1..=30 * DAY_SECONDS);
    /// total time allowed for one catalog request
    UPSTREAM_TIMEOUT_MS => upstream_timeout: Duration = Value("2000"), millis(1..=60_000);
    /// apply pending migrations at start-up
    RUN_MIGRATIONS => run_migrations: bool = Value("true"), flag();
    /// how long past its TTL a product is still served while the catalog fails
    PRODUCT_STALE_SECONDS => product_stale_for: Duration = Value("86400"), seconds(0..=30 * DAY_SECONDS);
    /// consecutive catalog failures that open the circuit breaker
    UPSTREAM_BREAKER_THRESHOLD => upstream_breaker_threshold: u32 = Value("5"), number(1..=1_000);
    /// how long the open breaker keeps calls away from the catalog
    UPSTREAM_BREAKER_COOL_DOWN_MS => upstream_breaker_cool_down: Duration = Value("30000"), millis(1..=3_600_000);
    /// the most a client may take to send a request's headers, counted from when the connection is ready for a request: so also how long an idle keep-alive connection stays open
    HTTP_HEADER_TIMEOUT_MS => http_header_timeout: Duration = Value("10000"), millis(100..=300_000);
    /// open connections (WebSockets included) at most; beyond it new ones wait in the kernel's accept queue. Lowered at start to what the open-file limit allows
    MAX_CONNECTIONS => max_connections: usize = Value("4096"), number(1..=1_000_000);
    /// API requests doing work at once: running, or ready to run and waiting for a core (one waiting on the database, the catalog or Redis does not count). Beyond, a new request waits briefly in a queue, then gets `503` (`OVERLOADED`). `0`: two per core (a request holding one runs or is about to: more would only share the cores, and hold more answers in memory at once)
    MAX_CONCURRENT_REQUESTS => max_concurrent_requests: usize = Value("0"), number(0..=100_000);
    /// API requests admitted and not yet answered, those waiting on the network included: a bound on memory. Beyond, a new request waits in the same queue. `0`: 128 per core
    MAX_IN_FLIGHT_REQUESTS => max_in_flight_requests: usize = Value("0"), number(0..=1_000_000);
    /// API requests that may wait for room (first come first served, up to 1 s in a burst, 250 ms once the queue has stood for a second); beyond, `503` at once. Room enough for a burst that waits on the network: it is taken on within a few milliseconds of the slots keeping up
    MAX_QUEUED_REQUESTS => max_queued_requests: usize = Value("256"), number(0..=100_000);
    /// open GraphQL WebSockets at most; beyond, a new one is closed with 1013 ("try again later")
    MAX_WEBSOCKET_CONNECTIONS => max_websocket_connections: usize = Value("1000"), number(1..=1_000_000);
    /// subscriptions one WebSocket may hold at once; beyond, a new one gets an `error` (`OVERLOADED`) and the others go on
    MAX_SUBSCRIPTIONS_PER_CONNECTION => max_subscriptions_per_connection: usize = Value("20"), number(1..=10_000);
    /// largest WebSocket message or frame; a bigger one closes the socket with 1009
    WEBSOCKET_MAX_MESSAGE_BYTES => websocket_max_message_bytes: usize = Value("65536"), number(1_024..=16 * MIB);
    /// WebSockets that have not yet authenticated (sent `connection_init`) at most; beyond it the upgrade is refused with 503
    WEBSOCKET_MAX_UNAUTHENTICATED => websocket_max_unauthenticated: usize = Value("256"), number(1..=100_000);
    /// after SIGTERM, how long the instance reports not ready (`/readyz` 503 "draining") while it keeps serving, so that a load balancer's health check takes it out first; then it stops accepting. A second signal cuts it short
    SHUTDOWN_DRAIN_MS => shutdown_drain: Duration = Value("5000"), millis(0..=600_000);
    /// the longest a request may run (also the grace period at shutdown)
    REQUEST_TIMEOUT_MS => request_timeout: Duration = Value("10000"), millis(1..=600_000);
    /// largest request body (413 beyond)
    MAX_BODY_BYTES => max_body_bytes: usize = Value("1048576"), number(1..=100 * MIB);
    /// most operations in one JSON array batch
    MAX_BATCH_SIZE => max_batch_size: usize = Value("10"), number(1..=1_000);
    /// `false` turns off introspection and "Did you mean ..." suggestions
    INTROSPECTION_ENABLED => introspection_enabled: bool = Value("true"), flag();
    /// failed logins allowed per client network (an IPv4 address, an IPv6 /64) per minute
    LOGIN_MAX_FAILURES_PER_MINUTE => login_max_failures_per_minute: u32 = Value("10"), number(1..=100_000);
    /// password checks (bcrypt) running at once; beyond, a login is `RATE_LIMITED` at once. `0`: half the cores
    LOGIN_CONCURRENT_CHECKS => login_concurrent_checks: usize = Value("0"), number(0..=1_024);
    /// behind a reverse proxy: take the client address from the last `X-Forwarded-For` entry
    TRUST_PROXY => trust_proxy: bool = Value("false"), flag();
    /// comma-separated origins browsers may call from (`*` for any); empty means none
    CORS_ALLOWED_ORIGINS => cors_allowed_origins: CorsOrigins = Value(""), cors_origins();
    /// folder filled by `scripts/graphiql-assets`, served at `/graphiql/assets/`
    GRAPHIQL_ASSETS_DIR => graphiql_assets_dir: Option<PathBuf> = Unset("(unset: CDN)"), optional(path());
    /// memory for automatic persisted queries; `0` turns them off
    PERSISTED_QUERIES_MAX_BYTES => persisted_queries_max_bytes: usize = Value("4194304"), number(0..=1024 * MIB);
    /// memory for whole answers to queries, kept until what they read changes (see [The response cache](#the-response-cache)); `0` turns it off
    RESPONSE_CACHE_MAX_BYTES => response_cache_max_bytes: usize = Value("33554432"), number(0..=16 * 1024 * MIB);
    /// how long the change log keeps a change (see [How changes travel](#how-changes-travel-between-instances)); older rows are deleted in small batches
    CHANGE_LOG_RETENTION_HOURS => change_log_retention: Duration = Value("72"), hours(1..=24 * 365);
    /// PostgreSQL: the longest an instance goes without reading the change log when no other instance signals it
    CHANGE_LOG_POLL_MS => change_log_poll_interval: Duration = Value("1000"), millis(10..=60_000);
    /// `redis://[:password@]host:6379[/db]`, or `rediss://` for TLS: product data shared by every
    /// instance (see [Running several instances](#running-several-instances)); unset, each
    /// instance caches in-process only
    REDIS_URL (secret) => redis_url: Option<SecretString> = Unset("(unset)"), optional(redis_url());
    /// what every key in Redis starts with (one word), so several services can share one Redis
    REDIS_KEY_PREFIX => redis_key_prefix: String = Value("favorites-api"), word(64);
    /// log filter (tracing `EnvFilter` syntax)
    RUST_LOG => log_filter: String = Value(DEFAULT_LOG_FILTER), non_empty();
    /// `text` (readable lines) or `json` (one object a line: time, level, message, target, and the trace and span ids when traces are on). Traces themselves follow OpenTelemetry's own variables (`OTEL_EXPORTER_OTLP_ENDPOINT`...), read from the process environment: see [Traces](#traces)
    LOG_FORMAT => log_format: LogFormat = Value("text"), log_format();
}
