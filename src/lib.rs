//! favorites-api: a GraphQL API for managing clients and their favorite products.
//!
//! A map of the crate, from the edge inward (each depends only on those below it):
//! - `http`: router, handlers, server start-up and shutdown;
//! - `graphql`: schema, types, thin resolvers, error codes, limits;
//! - `service`: the use cases, the authorization policy, per-request sessions;
//! - `catalog`: the FakeStoreAPI client with its caches;
//! - `db`: connection, entities and repositories (all SQL lives there), the change feed;
//! - `auth`: the admin's login, our tokens, the identity provider's tokens;
//! - `domain`: values every layer shares, valid by construction;
//! - `config`: settings from defaults, `.env`, `favorites.toml` and the environment.

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
