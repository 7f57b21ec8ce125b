//! The three tables of the service. Foreign keys are declared inside `create_table` because
//! SQLite cannot add them to an existing table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    Name,
    Email,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProductsRef {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ClientFavoriteProducts {
    Table,
    ClientId,
    ProductId,
    AddedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Clients::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Clients::Name).string_len(100).not_null())
                    .col(ColumnDef::new(Clients::Email).string_len(254).not_null())
                    .col(
                        ColumnDef::new(Clients::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Clients::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // The index name is what the repository recognises as "e-mail already taken".
        manager
            .create_index(
                Index::create()
                    .name(crate::CLIENTS_EMAIL_INDEX)
                    .table(Clients::Table)
                    .col(Clients::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("clients_name_idx")
                    .table(Clients::Table)
                    .col(Clients::Name)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductsRef::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ProductsRef::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ClientFavoriteProducts::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ClientFavoriteProducts::ClientId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ClientFavoriteProducts::ProductId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ClientFavoriteProducts::AddedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("client_favorite_products_pkey")
                            .col(ClientFavoriteProducts::ClientId)
                            .col(ClientFavoriteProducts::ProductId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("client_favorite_products_client_id_fkey")
                            .from(
                                ClientFavoriteProducts::Table,
                                ClientFavoriteProducts::ClientId,
                            )
                            .to(Clients::Table, Clients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("client_favorite_products_product_id_fkey")
                            .from(
                                ClientFavoriteProducts::Table,
                                ClientFavoriteProducts::ProductId,
                            )
                            .to(ProductsRef::Table, ProductsRef::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("client_favorite_products_product_id_idx")
                    .table(ClientFavoriteProducts::Table)
                    .col(ClientFavoriteProducts::ProductId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ClientFavoriteProducts::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ProductsRef::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Clients::Table).to_owned())
            .await?;
        Ok(())
    }
}
