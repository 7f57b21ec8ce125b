//! The integration suite: one binary, so it links once. Every test drives the real HTTP
//! endpoint of a freshly started app, on SQLite and (with `TEST_DATABASE_URL`) on PostgreSQL.
//! One file a feature; what they share is in `support`.

mod auth;
mod authorization;
mod catalog;
mod catalog_source;
mod change_log;
mod client_tokens;
mod clients;
mod cold_burst;
mod compression;
mod database_faults;
mod document_limits;
mod errors;
mod extreme_settings;
mod favorite_details;
mod favorite_order;
mod favorites;
mod fleet_start;
mod freshness;
mod frontend;
mod generative;
mod graphiql;
mod graphql_over_http;
mod guests;
mod health;
mod http_limits;
mod json_logs;
mod lifecycle;
mod login_limits;
mod metrics;
mod n_plus_one;
mod overload;
mod pagination;
mod provider_tokens;
mod races;
mod resilience;
mod response_cache;
mod schema;
mod secrets;
mod shared_cache;
mod shared_cache_outages;
mod subscriptions;
mod support;
mod traces;
mod websocket_limits;
