//! The `favorite_shares` table: a list's read-only share link, by the hash of its token.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "favorite_shares")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the token, in hex.
    pub token_hash: String,
    /// The list's owner: a client, or (`guest_id`) a guest.
    pub client_id: Option<Uuid>,
    pub guest_id: Option<Uuid>,
    pub include_notes: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
