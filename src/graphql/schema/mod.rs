//! The schema's types and resolvers, a file per feature (clients, favorites, the caller's own
//! list, products, tokens), each with its object types and its part of the root types.
//! Resolvers only translate: each calls one use case of the request's `Session` and shapes what
//! comes back.

mod clients;
mod favorite_page;
mod favorites;
mod my_favorites;
pub(super) mod paging;
mod products;
mod shares;
mod tokens;

use async_graphql::{Context, MergedObject};

use crate::service::Session;

pub use favorites::SubscriptionRoot;

/// Reads. Every field but `sharedFavorites`, `__typename` and introspection needs
/// `Authorization: Bearer <token>`.
#[derive(Default, MergedObject)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    clients::ClientsQuery,
    my_favorites::MyFavoritesQuery,
    products::ProductsQuery,
    shares::SharesQuery,
);

/// Writes, and the tokens.
#[derive(Default, MergedObject)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    tokens::TokensMutation,
    clients::ClientsMutation,
    favorites::FavoritesMutation,
    my_favorites::MyFavoritesMutation,
    shares::SharesMutation,
);

/// The request's session: every resolver goes through it to the use cases.
fn session<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Session> {
    ctx.data::<Session>()
}

/// How many items a list argument may make a field resolve, for the complexity limit.
fn list_weight(size: Option<i32>) -> usize {
    size.unwrap_or(paging::DEFAULT_PAGE_SIZE as i32)
        .clamp(1, paging::MAX_PAGE_SIZE) as usize
}
