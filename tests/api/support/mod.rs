//! Helpers the feature tests share: the app under test and stand-ins for what surrounds it.

pub mod app;
pub mod binary;
pub mod catalog;
pub mod database;
pub mod fleet;
pub mod identity_provider;
pub mod metrics;
pub mod otlp;
pub mod tcp_proxy;
pub mod websocket;
