//! favorites-api: a GraphQL API for managing clients and their favorite products.
//!
//! A map of the crate, from the edge inward (each depends only on those below it):
//! - `cli` and `app`: the command line, and the one place the application is composed from
//!   its settings, served, and stopped;
//! - `http`: router, middleware, handlers, serving connections;
//! - `graphql`: the schema (types and thin resolvers, a file per feature) and the pipeline every
//!   operation goes through (limits, persisted queries, the response cache, codes);
//! - `service`: the use cases, the authorization policy, per-request sessions;
//! - `catalog`: the FakeStoreAPI client with its caches;
//! - `db`: connection, entities and repositories (all SQL lives there), the change feed;
//! - `auth`: the admin's login, our tokens, the identity provider's tokens;
//! - `domain`: values every layer shares, valid by construction, and the error codes;
//! - `config`: settings from defaults, `.env`, `favorites.toml` and the environment.

pub mod app;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod service;
mod sync;
pub mod telemetry;
