//! Clients: reading them (alone, by e-mail, a page at a time), creating, renaming, changing
//! e-mail, deleting.

use uuid::Uuid;

use super::policy::Action;
use super::{Result, ServiceError, Session};
use crate::auth::Caller;
use crate::db::repositories::clients;
use crate::domain::{Client, ClientEmail, ClientName, Page, PageDirection};

pub struct Clients<'a> {
    session: &'a Session,
}

impl<'a> Clients<'a> {
    pub(super) fn new(session: &'a Session) -> Self {
        Self { session }
    }

    /// `viewer`: the client the caller acts for; `None` for the admin, or when that client has
    /// been deleted since the token was issued. `its_favorites` as for `get`.
    pub async fn viewer(&self, its_favorites: bool) -> Result<Option<Client>> {
        self.session.authorize(Action::ReadViewer, None)?;
        match self.session.caller() {
            Caller::Client(own) => self.read_one(own.client_id, its_favorites).await,
            _ => Ok(None),
        }
    }

    /// One client, or `None` when there is no such client. Loads of one request are batched;
    /// `its_favorites` when the caller will ask for the client's list (it is then loaded with
    /// the client, in the same statement).
    pub async fn get(&self, id: Uuid, its_favorites: bool) -> Result<Option<Client>> {
        self.session.authorize(Action::ReadClient, Some(id))?;
        self.read_one(id, its_favorites).await
    }

    async fn read_one(&self, id: Uuid, its_favorites: bool) -> Result<Option<Client>> {
        let read = self.session.read();
        if its_favorites {
            read.client_and_favorites(id).await
        } else {
            read.client(id).await
        }
    }

    /// By e-mail address, in any case.
    pub async fn by_email(&self, email: &str) -> Result<Option<Client>> {
        self.session.authorize(Action::FindClientByEmail, None)?;
        let email = ClientEmail::parse(email)?;
        self.session.read().client_by_email(&email).await
    }

    /// A page of clients in creation order; `their_favorites` when the caller will ask for
    /// the page's lists (they are then loaded with the page).
    pub async fn page(
        &self,
        direction: PageDirection<Uuid>,
        limit: u64,
        their_favorites: bool,
    ) -> Result<Page<Client>> {
        self.session.authorize(Action::ListClients, None)?;
        self.session
            .read()
            .client_page(direction, limit, their_favorites)
            .await
    }

    pub async fn count(&self) -> Result<u64> {
        self.session.authorize(Action::ListClients, None)?;
        self.session.read().client_count().await
    }

    /// `EMAIL_TAKEN` when another client has the address (also when two requests race for it).
    pub async fn create(&self, name: &str, email: &str) -> Result<Client> {
        self.session.authorize(Action::CreateClient, None)?;
        let name = ClientName::parse(name)?;
        let email = ClientEmail::parse(email)?;
        let services = self.session.services();
        Ok(clients::create(&services.db, &services.changes, name, email).await?)
    }

    /// Changes the given fields; absent ones stay. Renaming and changing the e-mail are decided
    /// apart: a client token may do the first to its own client, never the second.
    pub async fn update(
        &self,
        id: Uuid,
        name: Option<&str>,
        email: Option<&str>,
    ) -> Result<Client> {
        if name.is_some() || email.is_none() {
            self.session.authorize(Action::RenameClient, Some(id))?;
        }
        if email.is_some() {
            self.session
                .authorize(Action::ChangeClientEmail, Some(id))?;
        }
        let name = name.map(ClientName::parse).transpose()?;
        let email = email.map(ClientEmail::parse).transpose()?;
        let services = self.session.services();
        Ok(clients::update(&services.db, &services.changes, id, name, email).await?)
    }

    /// Deletes a client and their list; `NOT_FOUND` when there is no such client.
    pub async fn delete(&self, id: Uuid) -> Result<Uuid> {
        self.session.authorize(Action::DeleteClient, Some(id))?;
        let services = self.session.services();
        clients::delete(&services.db, &services.changes, id).await?;
        Ok(id)
    }

    /// The client as it is now (after a change to it), or `NOT_FOUND`.
    pub(super) async fn current(&self, id: Uuid) -> Result<Client> {
        self.session
            .read()
            .client_now(id)
            .await?
            .ok_or_else(ServiceError::client_not_found)
    }
}
