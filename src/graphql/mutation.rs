use async_graphql::{Context, Object};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::error::ApiError;
use super::guards::{AdminGuard, ClientAddress};
use super::loaders::RequestLoaders;
use super::types::{AccessToken, Client, CreateClientInput, UpdateClientInput};
use crate::auth::Authenticator;
use crate::catalog::Catalog;
use crate::db::changes::ChangeFeed;
use crate::db::repositories::{clients, favorites};
use crate::domain::{ClientEmail, ClientName};

pub struct MutationRoot;

/// Writes, and `issueToken`, the only operation that needs no token.
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
        let authenticator = ctx.data::<Authenticator>()?;
        let ClientAddress(client) = *ctx.data::<ClientAddress>()?;
        let token = authenticator
            .login(client, &username, &password)
            .await
            .map_err(ApiError::from)?;
        Ok(token.into())
    }

    /// Creates a client. `EMAIL_TAKEN` when another client has the address.
    #[graphql(guard = "AdminGuard")]
    async fn create_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new client's name and e-mail.")] input: CreateClientInput,
    ) -> async_graphql::Result<Client> {
        let name = ClientName::parse(&input.name).map_err(ApiError::from)?;
        let email = ClientEmail::parse(&input.email).map_err(ApiError::from)?;
        let db = ctx.data::<DatabaseConnection>()?;
        let client = clients::create(db, name, email)
            .await
            .map_err(ApiError::from)?;
        Ok(Client::new(client))
    }

    /// Changes a client's name and/or e-mail; absent fields stay as they are.
    #[graphql(guard = "AdminGuard")]
    async fn update_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client to change.")] id: Uuid,
        #[graphql(desc = "The fields to change; those left out keep their value.")]
        input: UpdateClientInput,
    ) -> async_graphql::Result<Client> {
        let name = input
            .name
            .as_deref()
            .map(ClientName::parse)
            .transpose()
            .map_err(ApiError::from)?;
        let email = input
            .email
            .as_deref()
            .map(ClientEmail::parse)
            .transpose()
            .map_err(ApiError::from)?;
        let db = ctx.data::<DatabaseConnection>()?;
        let client = clients::update(db, id, name, email)
            .await
            .map_err(ApiError::from)?;
        Ok(Client::new(client))
    }

    /// Deletes a client and their list; returns the deleted id.
    #[graphql(guard = "AdminGuard")]
    async fn delete_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client to delete.")] id: Uuid,
    ) -> async_graphql::Result<Uuid> {
        let db = ctx.data::<DatabaseConnection>()?;
        let changes = ctx.data::<ChangeFeed>()?;
        clients::delete(db, changes, id)
            .await
            .map_err(ApiError::from)?;
        Ok(id)
    }

    /// Adds a catalog product to a client's list. Adding one already there changes nothing.
    /// `PRODUCT_NOT_FOUND` when the catalog has no such product; `UPSTREAM_UNAVAILABLE` when the
    /// catalog cannot be asked. In both cases nothing is written.
    #[graphql(guard = "AdminGuard")]
    async fn add_favorite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client whose list to add to.")] client_id: Uuid,
        #[graphql(desc = "A product id of the catalog.")] product_id: i32,
    ) -> async_graphql::Result<Client> {
        let db = ctx.data::<DatabaseConnection>()?;
        let catalog = ctx.data::<Catalog>()?;
        // Checking the client first spares the catalog a call for a request that must fail.
        clients::find(db, client_id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(ApiError::client_not_found)?;
        let budget = &ctx.data::<RequestLoaders>()?.catalog_budget;
        catalog
            .product(product_id, budget)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::ProductNotFound(product_id))?;
        favorites::add(db, ctx.data::<ChangeFeed>()?, client_id, product_id)
            .await
            .map_err(ApiError::from)?;
        current(db, client_id).await
    }

    /// Removes a product from a client's list. Removing one that is not there changes nothing.
    #[graphql(guard = "AdminGuard")]
    async fn remove_favorite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client whose list to remove from.")] client_id: Uuid,
        #[graphql(desc = "The product to remove.")] product_id: i32,
    ) -> async_graphql::Result<Client> {
        let db = ctx.data::<DatabaseConnection>()?;
        favorites::remove(db, ctx.data::<ChangeFeed>()?, client_id, product_id)
            .await
            .map_err(ApiError::from)?;
        current(db, client_id).await
    }
}

/// The client as it is now, after a change to their list.
async fn current(db: &DatabaseConnection, id: Uuid) -> async_graphql::Result<Client> {
    let client = clients::find(db, id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(ApiError::client_not_found)?;
    Ok(Client::new(client))
}
