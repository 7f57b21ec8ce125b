//! Every read that an answer is made of, in one place: batched with the request's other loads
//! (`loaders`), and filed in the operation's log of reads under what it read (`reads`), so that
//! a kept copy of the answer is dropped exactly when that changes. The use cases get their data
//! from here and nowhere else, so no read can forget to say what it read. (Checks made before a
//! write, and the write itself, ask the repositories: a mutation's answer is never kept.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::loaders::{CountCache, Loaders};
use super::reads::ReadLog;
use super::{Result, ServiceError};
use crate::catalog::Catalog;
use crate::db::repositories::shares::Share;
use crate::db::repositories::{clients, favorites, guests, popularity, shares};
use crate::domain::{Client, ClientEmail, Favorite, ListOwner, Page, PageDirection, Product};
use crate::sync::lock;

/// Lists loaded ahead for one operation (with its page of clients), each taken once.
pub(super) type Prefetched = Mutex<HashMap<Uuid, Vec<Favorite>>>;

pub struct Reader<'a> {
    pub(super) loaders: &'a Loaders,
    pub(super) log: &'a ReadLog,
    pub(super) prefetched: &'a Prefetched,
    pub(super) db: &'a DatabaseConnection,
    pub(super) catalog: &'a Catalog,
    pub(super) counts: &'a CountCache,
}

impl Reader<'_> {
    /// One client, or `None`; loads of one request are batched.
    pub async fn client(&self, id: Uuid) -> Result<Option<Client>> {
        self.log.client(id);
        Ok(self.loaders.clients.load_one(id).await?)
    }

    /// One client, or `None`, with its list loaded ahead in the same statement, for
    /// `favorites` to hand out: for a query that goes on to the client's favorites.
    pub async fn client_and_favorites(&self, id: Uuid) -> Result<Option<Client>> {
        self.log.client(id);
        let Some((client, list)) = self.loaders.clients_with_favorites.load_one(id).await? else {
            return Ok(None);
        };
        lock(self.prefetched).insert(id, list);
        Ok(Some(client))
    }

    /// The client as it is now, straight from the database: after a write, or for an event of
    /// the change feed (a batch may have been read before the change).
    pub async fn client_now(&self, id: Uuid) -> Result<Option<Client>> {
        self.log.client(id);
        Ok(clients::find(self.db, id).await?)
    }

    /// A client's whole list, oldest first: loaded ahead with its page, or with the other
    /// lists of its level of the answer, in one statement either way.
    pub async fn favorites(&self, client_id: Uuid) -> Result<Vec<Favorite>> {
        self.log.client(client_id);
        if let Some(list) = lock(self.prefetched).remove(&client_id) {
            return Ok(list);
        }
        Ok(self
            .loaders
            .favorites
            .load_one(client_id)
            .await?
            .unwrap_or_default())
    }

    /// A guest's whole list, oldest first (empty before its first favorite);
    /// `UNAUTHENTICATED` once it has been merged into a client's.
    pub async fn guest_favorites(&self, guest_id: Uuid) -> Result<Vec<Favorite>> {
        self.log.guest(guest_id);
        Ok(guests::list(self.db, guest_id).await?)
    }

    /// Which client has an e-mail address: the list of clients decides, and the client found.
    pub async fn client_by_email(&self, email: &ClientEmail) -> Result<Option<Client>> {
        self.log.client_list();
        let client = clients::find_by_email(self.db, email).await?;
        if let Some(client) = &client {
            self.log.client(client.id);
        }
        Ok(client)
    }

    /// A page of clients in creation order: the list, and each client on the page. With
    /// `their_favorites`, the lists of the page are loaded at once, with one statement, for
    /// `favorites` to hand out: the batch would come to the same statement, by way of a load
    /// per client, which cost about 7 % of the CPU of a page of 100 (bench case 4).
    pub async fn client_page(
        &self,
        direction: PageDirection<Uuid>,
        limit: u64,
        their_favorites: bool,
    ) -> Result<Page<Client>> {
        self.log.client_list();
        let page = clients::page(self.db, direction, limit).await?;
        for client in &page.items {
            self.log.client(client.id);
        }
        if their_favorites && !page.items.is_empty() {
            let ids: Vec<Uuid> = page.items.iter().map(|client| client.id).collect();
            let mut lists = favorites::for_clients(self.db, &ids).await?;
            let mut prefetched = lock(self.prefetched);
            for id in ids {
                prefetched.insert(id, lists.remove(&id).unwrap_or_default());
            }
        }
        Ok(page)
    }

    pub async fn client_count(&self) -> Result<u64> {
        self.log.client_list();
        Ok(clients::count(self.db).await?)
    }

    /// One product, or `None` when the catalog has no such product; the products of one level
    /// of an answer are one catalog look-up.
    pub async fn product(&self, id: i32) -> Result<Option<Arc<Product>>> {
        let loaded = self
            .loaders
            .products
            .load_one(id)
            .await
            .map_err(ServiceError::from)?;
        match loaded.transpose().map_err(ServiceError::from)? {
            Some(fresh) => {
                self.log.product_data(fresh.until_ms);
                Ok(Some(fresh.value))
            }
            None => {
                // The catalog's "no such product" is believed for a short while only, and the
                // batch does not say how long: an answer holding it is not kept.
                self.log.product_data(0);
                Ok(None)
            }
        }
    }

    /// How many lists hold a product (clients' and guests'), as this instance counted it within
    /// `FAVORITES_COUNT_TTL_SECONDS`; the products of one level of an answer are one statement.
    pub async fn favorites_count(&self, product_id: i32) -> Result<u64> {
        let counted = self
            .loaders
            .favorite_counts
            .load_one(product_id)
            .await?
            .unwrap_or_default();
        self.log.product_data(counted.until_ms);
        Ok(counted.holders)
    }

    /// The `limit` products most lists hold (among `only`), most held first. Counted now; an
    /// answer holding it is kept no longer than a count stands.
    pub async fn most_held(&self, only: Option<&[i32]>, limit: u64) -> Result<Vec<(i32, u64)>> {
        self.log.product_data(self.counts.stands_until_ms());
        Ok(popularity::most_held(self.db, only, limit).await?)
    }

    /// The share a token's hash finds. A found one is filed under its list's owner (a new link
    /// or a revoke is a change of the owner's); an answer that found none is not kept.
    pub async fn share(&self, token_hash: &str) -> Result<Option<Share>> {
        let share = shares::find(self.db, token_hash).await?;
        match share.as_ref().map(|share| share.owner) {
            Some(ListOwner::Client(id)) => self.log.client(id),
            Some(ListOwner::Guest(id)) => self.log.guest(id),
            None => self.log.product_data(0),
        }
        Ok(share)
    }

    /// The whole catalog, in the catalog's order.
    pub async fn catalog(&self) -> Result<Arc<Vec<Product>>> {
        let fresh = self
            .catalog
            .all_products(&self.loaders.catalog_budget)
            .await?;
        self.log.product_data(fresh.until_ms);
        Ok(fresh.value)
    }
}
