//! Read-only share links: at most one active share per list (a client's or a guest's), found by
//! the SHA-256 of its token (the token itself is never stored).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FavoriteShares {
    Table,
    Id,
    TokenHash,
    ClientId,
    GuestId,
    IncludeNotes,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Guests {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FavoriteShares::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(FavoriteShares::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(FavoriteShares::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    // Exactly one of the two owners; unique, so a list has one share at most.
                    .col(
                        ColumnDef::new(FavoriteShares::ClientId)
                            .uuid()
                            .null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(FavoriteShares::GuestId)
                            .uuid()
                            .null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(FavoriteShares::IncludeNotes)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(FavoriteShares::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .check(
                        Expr::col(FavoriteShares::ClientId)
                            .is_null()
                            .ne(Expr::col(FavoriteShares::GuestId).is_null()),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("favorite_shares_client_id_fkey")
                            .from(FavoriteShares::Table, FavoriteShares::ClientId)
                            .to(Clients::Table, Clients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("favorite_shares_guest_id_fkey")
                            .from(FavoriteShares::Table, FavoriteShares::GuestId)
                            .to(Guests::Table, Guests::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FavoriteShares::Table).to_owned())
            .await
    }
}
