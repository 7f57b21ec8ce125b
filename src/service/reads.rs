//! What an answer read, so that a copy of it can be dropped exactly when that changes: the
//! clients and guest lists it read, whether it read the list of clients, and until when the
//! product data it holds is fresh. Each session logs its reads as its use cases run; the response cache files
//! the answer under them, and `Services::watch_changes` says which to drop.

use std::collections::HashSet;
use std::sync::Mutex;

use uuid::Uuid;

use crate::db::changes::{Change, ChangeKind, FeedEvent};
use crate::sync::lock;

/// Something an answer may have read that a write can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// One client: its name, e-mail and list.
    Client(Uuid),
    /// One guest's list.
    Guest(Uuid),
    /// Which clients there are, and which e-mail is whose (pages, counts, look-ups by e-mail).
    ClientList,
}

/// What a committed change (here or on another instance) makes stale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stale {
    Tags(Vec<Tag>),
    /// Changes may have been missed (a lost connection, a subscriber fallen behind): anything.
    Everything,
}

impl Stale {
    pub fn of(change: &Change) -> Self {
        let client = Tag::Client(change.client_id);
        match change.kind {
            ChangeKind::FavoriteAdded
            | ChangeKind::FavoriteRemoved
            | ChangeKind::FavoriteNoteSet
            | ChangeKind::FavoritesMerged
            | ChangeKind::FavoritesShared
            | ChangeKind::FavoritesShareRevoked => Self::Tags(vec![client]),
            ChangeKind::GuestFavoriteAdded
            | ChangeKind::GuestFavoriteRemoved
            | ChangeKind::GuestFavoriteNoteSet
            | ChangeKind::GuestFavoritesShared
            | ChangeKind::GuestFavoritesShareRevoked
            | ChangeKind::GuestMerged
            | ChangeKind::GuestExpired => Self::Tags(vec![Tag::Guest(change.client_id)]),
            ChangeKind::ClientCreated
            | ChangeKind::ClientUpdated
            | ChangeKind::ClientDeleted
            | ChangeKind::Other => Self::Tags(vec![client, Tag::ClientList]),
        }
    }

    pub fn of_event(event: &FeedEvent) -> Self {
        match event {
            FeedEvent::Change(change) => Self::of(change),
            FeedEvent::Missed => Self::Everything,
        }
    }
}

/// What one answer read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    pub tags: HashSet<Tag>,
    /// The earliest time (unix ms) a piece of product data it holds stops being fresh.
    pub fresh_until_ms: Option<u64>,
}

/// A session's log of reads, written by its use cases (which may run in parallel).
#[derive(Default)]
pub(super) struct ReadLog(Mutex<Reads>);

impl ReadLog {
    pub fn client(&self, id: Uuid) {
        lock(&self.0).tags.insert(Tag::Client(id));
    }

    pub fn guest(&self, id: Uuid) {
        lock(&self.0).tags.insert(Tag::Guest(id));
    }

    pub fn client_list(&self) {
        lock(&self.0).tags.insert(Tag::ClientList);
    }

    pub fn product_data(&self, fresh_until_ms: u64) {
        let mut reads = lock(&self.0);
        reads.fresh_until_ms = Some(
            reads
                .fresh_until_ms
                .map_or(fresh_until_ms, |until| until.min(fresh_until_ms)),
        );
    }

    /// What was read so far, and a fresh start.
    pub fn take(&self) -> Reads {
        std::mem::take(&mut *lock(&self.0))
    }
}
