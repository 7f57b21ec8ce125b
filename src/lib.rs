//! favorites-api: a GraphQL API for managing clients and their favorite products.
//!
//! A map of the crate, from the edge inward:
//! - `http`: router, handlers, server start-up and shutdown;
//! - `graphql`: schema, types, guards, loaders, error codes;
//! - `auth`: admin credentials and JWTs;
//! - `catalog`: the FakeStoreAPI client with its cache, and the product DataLoader;
//! - `db`: connection, entities and repositories (all SQL lives there);
//! - `domain`: input values that are valid by construction;
//! - `config`: settings from defaults, `favorites.toml`, `.env` and the environment.

pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod telemetry;
