//! Who is calling. The HTTP handler decodes the bearer token once and puts a `Caller` into the
//! request data; guards only read it.

use async_graphql::{Context, Guard};

use super::error::ApiError;
use crate::auth::Admin;

/// The address a request came from (the socket peer, or `X-Forwarded-For` behind a trusted
/// proxy); login throttling counts by it.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub std::net::IpAddr);

#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    InvalidToken,
    Admin(Admin),
}

/// Protects every field but `issueToken` (and introspection, which async-graphql serves
/// without resolvers of ours).
pub struct AdminGuard;

impl Guard for AdminGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        match ctx.data_opt::<Caller>() {
            Some(Caller::Admin(_)) => Ok(()),
            Some(Caller::InvalidToken) => {
                Err(ApiError::Unauthenticated("invalid or expired token").into())
            }
            Some(Caller::Anonymous) | None => Err(ApiError::Unauthenticated(
                "this operation needs a bearer token from issueToken",
            )
            .into()),
        }
    }
}
