//! The integration suite: one binary, so it links once. Every test drives the real HTTP
//! endpoint of a freshly started app, on SQLite and (with `TEST_DATABASE_URL`) on PostgreSQL.

mod auth;
mod authorization;
mod binary;
mod catalog;
mod catalog_source;
mod clients;
mod database_faults;
mod errors;
mod fake_catalog;
mod favorites;
mod fleet_start;
mod frontend;
mod generative;
mod graphql_over_http;
mod health;
mod helpers;
mod identity_provider;
mod json_logs;
mod lifecycle;
mod limits;
mod metrics;
mod n_plus_one;
mod overload;
mod pagination;
mod races;
mod resilience;
mod response_cache;
mod schema;
mod security;
mod shared_cache;
mod storefront;
mod subscriptions;
mod tcp_proxy;
mod throttle;
mod traces;
