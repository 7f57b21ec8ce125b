//! What a favorite keeps besides its product: the shopper's note, and the catalog's price when
//! it was added (for "cheaper since you saved it"), in clients' and guests' lists alike.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ClientFavoriteProducts {
    Table,
}

#[derive(DeriveIden)]
enum GuestFavoriteProducts {
    Table,
}

#[derive(DeriveIden)]
enum Details {
    Note,
    PriceWhenAdded,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time. Favorites saved before this have
        // no price on record (null: not known), and no note.
        for table in [
            ClientFavoriteProducts::Table.into_iden(),
            GuestFavoriteProducts::Table.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.clone())
                        .add_column(ColumnDef::new(Details::Note).text().null())
                        .to_owned(),
                )
                .await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(ColumnDef::new(Details::PriceWhenAdded).double().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ClientFavoriteProducts::Table.into_iden(),
            GuestFavoriteProducts::Table.into_iden(),
        ] {
            for column in [Details::Note, Details::PriceWhenAdded] {
                manager
                    .alter_table(
                        Table::alter()
                            .table(table.clone())
                            .drop_column(column)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}
