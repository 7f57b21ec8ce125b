//! The change log (one row per committed change, in a global order) and each client's list
//! version, which names the last change to their list.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChangeLog {
    Table,
    Seq,
    ClientId,
    Kind,
    ProductId,
    ChangedAt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    FavoritesVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No foreign key to `clients`: the log outlives the clients it speaks of (a deletion is
        // a change too). `seq`'s sequence keeps PostgreSQL's default cache of 1: numbers are then
        // handed out in time order across sessions, which the readers' hole rule relies on.
        manager
            .create_table(
                Table::create()
                    .table(ChangeLog::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ChangeLog::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ChangeLog::ClientId).uuid().not_null())
                    .col(ColumnDef::new(ChangeLog::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(ChangeLog::ProductId).integer().null())
                    .col(
                        ColumnDef::new(ChangeLog::ChangedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column(
                        ColumnDef::new(Clients::FavoritesVersion)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(Clients::FavoritesVersion)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ChangeLog::Table).to_owned())
            .await?;
        Ok(())
    }
}
