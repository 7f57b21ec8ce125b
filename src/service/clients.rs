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
    /// been deleted since the token was issued.
    pub async fn viewer(&self) -> Result<Option<Client>> {
        self.session.authorize(Action::ReadViewer, None)?;
        match self.session.caller() {
            Caller::Client(own) => {
                self.session.reads().client(own.client_id);
                self.load(own.client_id).await
            }
            _ => Ok(None),
        }
    }

    /// One client, or `None` when there is no such client. Loads of one request are batched.
    pub async fn get(&self, id: Uuid) -> Result<Option<Client>> {
        self.session.authorize(Action::ReadClient, Some(id))?;
        self.session.reads().client(id);
        self.load(id).await
    }

    async fn load(&self, id: Uuid) -> Result<Option<Client>> {
        Ok(self.session.loaders().clients.load_one(id).await?)
    }

    /// By e-mail address, in any case.
    pub async fn by_email(&self, email: &str) -> Result<Option<Client>> {
        self.session.authorize(Action::FindClientByEmail, None)?;
        let email = ClientEmail::parse(email)?;
        self.session.reads().client_list();
        let client = clients::find_by_email(&self.session.services().db, &email).await?;
        if let Some(client) = &client {
            self.session.reads().client(client.id);
        }
        Ok(client)
    }

    /// A page of clients in creation order.
    pub async fn page(&self, direction: PageDirection<Uuid>, limit: u64) -> Result<Page<Client>> {
        self.session.authorize(Action::ListClients, None)?;
        self.session.reads().client_list();
        let page = clients::page(&self.session.services().db, direction, limit).await?;
        for client in &page.items {
            self.session.reads().client(client.id);
        }
        Ok(page)
    }

    pub async fn count(&self) -> Result<u64> {
        self.session.authorize(Action::ListClients, None)?;
        self.session.reads().client_list();
        Ok(clients::count(&self.session.services().db).await?)
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
        clients::find(&self.session.services().db, id)
            .await?
            .ok_or_else(ServiceError::client_not_found)
    }
}
