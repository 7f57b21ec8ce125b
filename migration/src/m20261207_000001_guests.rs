//! Guest shoppers' lists: a guest (a row only from its first favorite on, and a tombstone once
//! its list has been merged into a client's) and the products in its list.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Guests {
    Table,
    Id,
    CreatedAt,
    TouchedAt,
    FavoritesVersion,
    MergedInto,
    MergedAt,
}

#[derive(DeriveIden)]
enum GuestFavoriteProducts {
    Table,
    GuestId,
    ProductId,
    AddedAt,
}

#[derive(DeriveIden)]
enum ProductsRef {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No foreign key from `merged_into` to `clients`: the tombstone only has to say that the
        // guest's list is gone, and a client deleted later must not take it back to life.
        manager
            .create_table(
                Table::create()
                    .table(Guests::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Guests::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(Guests::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Guests::TouchedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Guests::FavoritesVersion)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Guests::MergedInto).uuid().null())
                    .col(
                        ColumnDef::new(Guests::MergedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // The expiry sweep takes the guests untouched the longest first.
        manager
            .create_index(
                Index::create()
                    .name("guests_touched_at_idx")
                    .table(Guests::Table)
                    .col(Guests::TouchedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(GuestFavoriteProducts::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(GuestFavoriteProducts::GuestId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(GuestFavoriteProducts::ProductId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(GuestFavoriteProducts::AddedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("guest_favorite_products_pkey")
                            .col(GuestFavoriteProducts::GuestId)
                            .col(GuestFavoriteProducts::ProductId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("guest_favorite_products_guest_id_fkey")
                            .from(GuestFavoriteProducts::Table, GuestFavoriteProducts::GuestId)
                            .to(Guests::Table, Guests::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("guest_favorite_products_product_id_fkey")
                            .from(
                                GuestFavoriteProducts::Table,
                                GuestFavoriteProducts::ProductId,
                            )
                            .to(ProductsRef::Table, ProductsRef::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // The prune of `products_ref` asks whether any guest list holds an id.
        manager
            .create_index(
                Index::create()
                    .name("guest_favorite_products_product_id_idx")
                    .table(GuestFavoriteProducts::Table)
                    .col(GuestFavoriteProducts::ProductId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(GuestFavoriteProducts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Guests::Table).to_owned())
            .await?;
        Ok(())
    }
}
