//! The `guests` table: a guest shopper with a list (written at its first favorite), or the
//! tombstone of one whose list went to a client.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "guests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub created_at: DateTimeUtc,
    /// The last write to the list: the expiry sweep counts from here.
    pub touched_at: DateTimeUtc,
    pub favorites_version: i64,
    /// The client the list was merged into; set, the guest's token acts on nothing.
    pub merged_into: Option<Uuid>,
    pub merged_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
