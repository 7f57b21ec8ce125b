//! Security, round two: one test (or more) per door found open, each failing on the code that
//! had the door open.

mod graphiql;
mod login;
mod secrets;
mod shared_state;
mod slowloris;
mod websocket;
