//! The mutation root: thin resolvers over the session's use cases.

use async_graphql::{Context, Object};
use uuid::Uuid;

use super::session;
use super::types::{AccessToken, Client, CreateClientInput, UpdateClientInput};

pub struct MutationRoot;

/// Writes, and the tokens.
#[Object(name = "Mutation")]
impl MutationRoot {
    /// Exchanges the admin's username and password for a bearer token. The only operation that
    /// needs no token.
    async fn issue_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The admin's username.")] username: String,
        #[graphql(desc = "The admin's password.")] password: String,
    ) -> async_graphql::Result<AccessToken> {
        let token = session(ctx)?.tokens().log_in(&username, &password).await?;
        Ok(token.into())
    }

    /// A token that acts for one client only, for a store's backend that has authenticated the
    /// shopper itself. Admin only; `NOT_FOUND` when there is no such client.
    async fn issue_client_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client the token acts for.")] client_id: Uuid,
        #[graphql(
            desc = "Lifetime in minutes, 1 to 1440 (default `CLIENT_TOKEN_EXPIRE_MINUTES`, 60)."
        )]
        expires_in_minutes: Option<i32>,
    ) -> async_graphql::Result<AccessToken> {
        let token = session(ctx)?
            .tokens()
            .issue_client(client_id, expires_in_minutes)
            .await?;
        Ok(token.into())
    }

    /// Creates a client. `EMAIL_TAKEN` when another client has the address. Admin only.
    async fn create_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new client's name and e-mail.")] input: CreateClientInput,
    ) -> async_graphql::Result<Client> {
        let client = session(ctx)?
            .clients()
            .create(&input.name, &input.email)
            .await?;
        Ok(Client::new(client))
    }

    /// Changes a client's name and/or e-mail; absent fields stay as they are. A client token may
    /// rename its own client, and not change its e-mail.
    async fn update_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client to change.")] id: Uuid,
        #[graphql(desc = "The fields to change; those left out keep their value.")]
        input: UpdateClientInput,
    ) -> async_graphql::Result<Client> {
        let client = session(ctx)?
            .clients()
            .update(id, input.name.as_deref(), input.email.as_deref())
            .await?;
        Ok(Client::new(client))
    }

    /// Deletes a client and their list; returns the deleted id. Admin only.
    async fn delete_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client to delete.")] id: Uuid,
    ) -> async_graphql::Result<Uuid> {
        Ok(session(ctx)?.clients().delete(id).await?)
    }

    /// Adds a catalog product to a client's list. Adding one already there changes nothing.
    /// `PRODUCT_NOT_FOUND` when the catalog has no such product; `UPSTREAM_UNAVAILABLE` when the
    /// catalog cannot be asked; `FAVORITES_LIMIT_REACHED` when the list is full. In each case
    /// nothing is written.
    async fn add_favorite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client whose list to add to.")] client_id: Uuid,
        #[graphql(desc = "A product id of the catalog.")] product_id: i32,
    ) -> async_graphql::Result<Client> {
        let client = session(ctx)?.favorites().add(client_id, product_id).await?;
        Ok(Client::new(client))
    }

    /// Removes a product from a client's list. Removing one that is not there changes nothing.
    async fn remove_favorite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client whose list to remove from.")] client_id: Uuid,
        #[graphql(desc = "The product to remove.")] product_id: i32,
    ) -> async_graphql::Result<Client> {
        let client = session(ctx)?
            .favorites()
            .remove(client_id, product_id)
            .await?;
        Ok(Client::new(client))
    }
}
