//! The GraphQL object types. Each wraps a value from the layers below and only shapes it.

mod client;
mod connection;
mod product;
mod token;

pub use client::{Client, CreateClientInput, Favorite, UpdateClientInput};
pub use connection::{ClientConnection, ClientEdge, FavoriteConnection, FavoriteEdge, PageInfo};
pub use product::{Product, Rating};
pub use token::AccessToken;
