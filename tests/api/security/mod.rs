//! Security, round two: one test (or more) per door found open, each failing on the code that
//! had the door open.

mod favorites_limit;
mod graphiql;
mod login;
mod redirects;
mod redis;
mod secrets;
mod settings;
mod shared_state;
mod slowloris;
mod websocket;
