//! The use cases and their rules, free of GraphQL and HTTP: who may do it (one decision per
//! operation, by `policy`), what must exist, the catalog check before a favorite is written.
//! Resolvers and the REST door only translate their arguments, call here, and map the result.
//!
//! `Services` is built once at start-up; a request opens a `Session` from it (`open_session`:
//! the caller its token speaks for, counted against its allowance) holding the caller, their
//! address, and the request's batching loaders. Every use case is a method of the session, so a
//! resolver cannot reach the data without going through the rules, and every read an answer is
//! made of goes through the session's `Reader`, which files it for the response cache.

mod access;
mod batch;
mod clients;
pub mod error;
mod favorites;
mod list_view;
mod loaders;
mod my_favorites;
pub mod policy;
mod products;
mod rate_limit;
mod reader;
pub mod reads;
mod shares;
mod tokens;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

pub use crate::auth::AccessToken;
pub use clients::Clients;
pub use error::ServiceError;
pub use favorites::Favorites;
pub use list_view::{Arranged, ListView};
pub use my_favorites::{MergeReport, MyFavorites};
pub use products::Products;
pub use shares::{NewShare, SharedList, Shares};
pub use tokens::Tokens;

use crate::auth::{AdminLogin, Caller, IdentityProvider, LoginThrottle, TokenIssuer};
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::db::changes::{ChangeFeed, FeedEvent};
use crate::domain::{NewFavorite, Note};
use loaders::{CountCache, Loaders};
use rate_limit::RequestLimiter;
use reader::{Prefetched, Reader};
use reads::{ReadLog, Reads, Stale};
use tokio::sync::broadcast::error::RecvError;

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Rules an operator sets.
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    /// Lifetime of a client token when `issueClientToken` names none.
    pub client_token_lifetime: Duration,
    /// Whether a verified identity-provider token for an unknown e-mail creates its client.
    pub create_clients_from_identity_provider: bool,
    pub client_requests_per_minute: u32,
    /// The most products one client's (or guest's) list may hold.
    pub max_favorites_per_client: u32,
    /// Lifetime of a guest token (`startGuestSession`).
    pub guest_token_lifetime: Duration,
    /// Guest sessions one network may start per minute.
    pub guest_sessions_per_minute: u32,
    /// How long a product's count of lists stands before it is counted again.
    pub favorites_count_ttl: Duration,
    /// Shared lists one network may open per minute.
    pub shared_reads_per_minute: u32,
}

impl ServiceOptions {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            client_token_lifetime: settings.client_token_lifetime,
            create_clients_from_identity_provider: settings.auth_create_clients,
            client_requests_per_minute: settings.client_requests_per_minute,
            max_favorites_per_client: settings.max_favorites_per_client,
            guest_token_lifetime: settings.guest_token_lifetime,
            guest_sessions_per_minute: settings.guest_sessions_per_minute,
            favorites_count_ttl: settings.favorites_count_ttl,
            shared_reads_per_minute: settings.shared_reads_per_minute,
        }
    }
}

/// Everything the use cases need, built once.
#[derive(Clone)]
pub struct Services {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    catalog: Catalog,
    changes: ChangeFeed,
    login: AdminLogin,
    tokens: TokenIssuer,
    identity_provider: Option<IdentityProvider>,
    limiter: RequestLimiter,
    /// Guest sessions started per network: the login throttle's window, counting every start.
    guest_sessions: LoginThrottle,
    /// Shared lists opened per network: the login throttle's window, counting every read.
    shared_reads: LoginThrottle,
    /// How many lists hold each product, as this instance last counted.
    favorite_counts: Arc<CountCache>,
    options: ServiceOptions,
}

pub struct Parts {
    pub db: DatabaseConnection,
    pub catalog: Catalog,
    pub changes: ChangeFeed,
    pub login: AdminLogin,
    pub tokens: TokenIssuer,
    pub identity_provider: Option<IdentityProvider>,
    pub options: ServiceOptions,
}

impl Services {
    pub fn new(parts: Parts) -> Self {
        Self {
            inner: Arc::new(Inner {
                limiter: RequestLimiter::new(parts.options.client_requests_per_minute),
                guest_sessions: LoginThrottle::new(parts.options.guest_sessions_per_minute),
                shared_reads: LoginThrottle::new(parts.options.shared_reads_per_minute),
                db: parts.db,
                catalog: parts.catalog,
                changes: parts.changes,
                login: parts.login,
                tokens: parts.tokens,
                identity_provider: parts.identity_provider,
                favorite_counts: Arc::new(CountCache::new(parts.options.favorites_count_ttl)),
                options: parts.options,
            }),
        }
    }

    /// The session of one request (or one WebSocket connection) that brought `authorization`
    /// (`None`: no credentials at all; `Some(None)`: some that are not text), from `address`,
    /// for `operations` operations: the caller its token speaks for, counted against that
    /// caller's allowance. Only a database that cannot say whose a provider's e-mail is, and
    /// a spent allowance, are errors; a bad token is a session of `Caller::Rejected`.
    pub async fn open_session(
        &self,
        authorization: Option<Option<&str>>,
        address: IpAddr,
        operations: u32,
    ) -> Result<Session> {
        let caller = match authorization {
            None => Caller::Anonymous,
            Some(value) => self.authenticate(value).await?,
        };
        self.admit(&caller, operations)?;
        Ok(self.session(caller, address))
    }

    fn session(&self, caller: Caller, address: IpAddr) -> Session {
        Session {
            inner: Arc::new(SessionInner {
                loaders: Arc::new(Loaders::new(
                    &self.inner.db,
                    &self.inner.catalog,
                    &self.inner.favorite_counts,
                )),
                services: self.clone(),
                caller,
                address,
                reads: ReadLog::default(),
                prefetched: Prefetched::default(),
            }),
        }
    }

    /// Whether the database answers, for readiness checks.
    pub async fn database_ready(&self) -> std::result::Result<(), sea_orm::DbErr> {
        self.inner.db.ping().await
    }

    /// Connections of the database pool: (in use, idle).
    pub fn pool_usage(&self) -> (u32, u32) {
        crate::db::pool_usage(&self.inner.db)
    }

    pub fn catalog_breaker_open(&self) -> bool {
        self.inner.catalog.breaker_open()
    }

    /// Calls `stale` with what each committed change makes stale, once per change: changes
    /// made through this instance before their write answers, the others as the change log
    /// brings them.
    pub fn watch_changes(&self, stale: impl Fn(Stale) + Send + Sync + 'static) {
        let stale = Arc::new(stale);
        let applied = Arc::new(AppliedOnCommit::default());
        self.inner.changes.on_commit({
            let (stale, applied) = (Arc::clone(&stale), Arc::clone(&applied));
            move |change| {
                applied.insert(change.seq);
                stale(Stale::of(change));
            }
        });
        let mut changes = self.inner.changes.subscribe();
        tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(FeedEvent::Change(change)) if applied.take(change.seq) => {}
                    Ok(event) => stale(Stale::of_event(&event)),
                    Err(RecvError::Lagged(_)) => stale(Stale::Everything),
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }
}

/// The numbers of this instance's changes, applied when they committed, until the log brings
/// them back. Bounded: should the log stop bringing them, forgetting only costs a second drop.
#[derive(Default)]
struct AppliedOnCommit(std::sync::Mutex<std::collections::HashSet<i64>>);

impl AppliedOnCommit {
    const MAX: usize = 10_000;

    fn insert(&self, seq: i64) {
        let mut applied = crate::sync::lock(&self.0);
        if applied.len() >= Self::MAX {
            applied.clear();
        }
        applied.insert(seq);
    }

    fn take(&self, seq: i64) -> bool {
        crate::sync::lock(&self.0).remove(&seq)
    }
}

/// One request's view of the service: the caller, and what the request batches.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    services: Services,
    caller: Caller,
    address: IpAddr,
    loaders: Arc<Loaders>,
    reads: ReadLog,
    prefetched: Prefetched,
}

impl Session {
    pub fn caller(&self) -> &Caller {
        &self.inner.caller
    }

    /// The same caller and batching, with a log of reads of its own: one per operation, so that
    /// what each operation of a batch read is told apart (and nothing loaded ahead for one
    /// operation is served to the next, which may come after a write).
    pub fn for_operation(&self) -> Session {
        let inner = &self.inner;
        Session {
            inner: Arc::new(SessionInner {
                services: inner.services.clone(),
                caller: inner.caller.clone(),
                address: inner.address,
                loaders: Arc::clone(&inner.loaders),
                reads: ReadLog::default(),
                prefetched: Prefetched::default(),
            }),
        }
    }

    pub fn clients(&self) -> Clients<'_> {
        Clients::new(self)
    }

    pub fn favorites(&self) -> Favorites<'_> {
        Favorites::new(self)
    }

    /// The caller's own list: a guest's, or a client token's.
    pub fn my_favorites(&self) -> MyFavorites<'_> {
        MyFavorites::new(self)
    }

    pub fn products(&self) -> Products<'_> {
        Products::new(self)
    }

    pub fn shares(&self) -> Shares<'_> {
        Shares::new(self)
    }

    pub fn tokens(&self) -> Tokens<'_> {
        Tokens::new(self)
    }

    /// What the session's use cases have read so far (and a fresh start): what an answer
    /// built from them depends on.
    pub fn take_reads(&self) -> Reads {
        self.inner.reads.take()
    }

    /// A fresh start with the catalog, for work that outlives one request: each event a
    /// subscription sends is entitled to its own attempt.
    pub fn renew_catalog_budget(&self) {
        self.inner.loaders.catalog_budget.renew();
    }

    fn services(&self) -> &Inner {
        &self.inner.services.inner
    }

    fn loaders(&self) -> &Loaders {
        &self.inner.loaders
    }

    /// Where the use cases read what an answer is made of.
    fn read(&self) -> Reader<'_> {
        let services = self.services();
        Reader {
            loaders: &self.inner.loaders,
            log: &self.inner.reads,
            prefetched: &self.inner.prefetched,
            db: &services.db,
            catalog: &services.catalog,
            counts: &services.favorite_counts,
        }
    }

    fn authorize(&self, action: policy::Action, client: Option<uuid::Uuid>) -> Result<()> {
        policy::authorize(&self.inner.caller, action, client)
    }

    /// The check before a product is written to a list, and what the add keeps of it:
    /// `PRODUCT_NOT_FOUND` when the catalog does not have it, `UPSTREAM_UNAVAILABLE` when it
    /// cannot be asked; `BAD_USER_INPUT` for a note that breaks its rules (`domain::Note`).
    async fn new_favorite(&self, product_id: i32, note: Option<&str>) -> Result<NewFavorite> {
        let note = note.map(Note::parse).transpose()?;
        let product = self
            .services()
            .catalog
            .product(product_id, &self.loaders().catalog_budget)
            .await?
            .value
            .ok_or(ServiceError::ProductNotFound(product_id))?;
        Ok(NewFavorite {
            product_id,
            note,
            price: Some(product.price),
        })
    }
}
