//! Pages of a list: the connection type, the orders a list reads in, and paging an arranged
//! list in memory (every list is bounded, so it is read whole).

use std::cmp::Ordering;

use async_graphql::{Enum, Object, SimpleObject};

use super::favorites::Favorite;
use super::paging::{PageInfo, decode_favorite_cursor, encode_favorite_cursor, page_size};
use crate::domain::{self, Place};
use crate::service::{Arranged, ListView, Session};

/// A favorite and its cursor.
#[derive(Clone, Debug, SimpleObject)]
pub struct FavoriteEdge {
    /// Opaque cursor for `after`.
    pub cursor: String,
    /// The favorite.
    pub node: Favorite,
}

/// A page of a list. Cursors are made only for the fields that show them (`edges`,
/// `pageInfo`): most queries ask for `nodes` alone.
pub struct FavoriteConnection {
    page: Vec<Favorite>,
    /// The places of the page's favorites in `order`, for their cursors.
    places: Vec<Place>,
    order: domain::FavoriteOrder,
    has_previous: bool,
    has_next: bool,
    total_count: u64,
}

/// A page of a list, in the order asked for (oldest first by default).
#[Object]
impl FavoriteConnection {
    /// The favorites of this page with their cursors.
    async fn edges(&self) -> Vec<FavoriteEdge> {
        self.page
            .iter()
            .zip(&self.places)
            .map(|(favorite, place)| FavoriteEdge {
                cursor: encode_favorite_cursor(self.order, place),
                node: favorite.clone(),
            })
            .collect()
    }

    /// The favorites of this page.
    async fn nodes(&self) -> &[Favorite] {
        &self.page
    }

    /// Paging information.
    async fn page_info(&self) -> PageInfo {
        self.info()
    }

    /// Number of favorites in the whole list (with `category`, in the category).
    async fn total_count(&self) -> u64 {
        self.total_count
    }
}

impl FavoriteConnection {
    fn info(&self) -> PageInfo {
        let cursor = |place: &Place| encode_favorite_cursor(self.order, place);
        PageInfo::new(
            self.places.first().map(cursor),
            self.places.last().map(cursor),
            self.has_previous,
            self.has_next,
        )
    }
}

/// The orders a list can be read in. Products the catalog cannot price (or name) come last in
/// every order; ties break by product id.
#[derive(Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[graphql(name = "FavoriteOrder", remote = "domain::FavoriteOrder")]
pub enum FavoriteOrderBy {
    /// Oldest first (the list's own order).
    #[default]
    AddedAtAsc,
    /// Newest first.
    AddedAtDesc,
    /// Cheapest first, at the catalog's price now.
    PriceAsc,
    /// Dearest first, at the catalog's price now.
    PriceDesc,
    /// By title, A to Z, without regard to case.
    TitleAsc,
}

/// The arguments of every paged read of a list.
pub struct ListPageArguments {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub order_by: FavoriteOrderBy,
    pub category: Option<String>,
}

impl ListPageArguments {
    /// A page of `list` as these arguments ask: `BAD_USER_INPUT` for a page size out of
    /// range, or a cursor that is malformed or from another order.
    pub async fn page_of(
        self,
        session: &Session,
        list: Vec<domain::Favorite>,
        through_share: bool,
    ) -> async_graphql::Result<FavoriteConnection> {
        let limit = page_size(self.first, "first")?;
        let order = domain::FavoriteOrder::from(self.order_by);
        let after = self
            .after
            .as_deref()
            .map(|cursor| decode_favorite_cursor(order, cursor))
            .transpose()?;
        let view = ListView {
            order,
            category: self.category,
        };
        let arranged = session.arrange(list, &view).await?;
        Ok(favorite_page(arranged, order, after, limit, through_share))
    }
}

/// The first page of a list in its own order (what writes and feeds answer with).
pub fn first_page(list: Vec<domain::Favorite>, limit: u64) -> FavoriteConnection {
    let order = domain::FavoriteOrder::AddedAtAsc;
    let arranged = list
        .into_iter()
        .map(|favorite| Arranged {
            place: order.place(&favorite, None),
            favorite,
        })
        .collect();
    favorite_page(arranged, order, None, limit, false)
}

/// Pages an arranged list in memory: a list is bounded (`MAX_FAVORITES_PER_CLIENT`), and
/// having it whole gives `totalCount` without another statement.
fn favorite_page(
    list: Vec<Arranged>,
    order: domain::FavoriteOrder,
    after: Option<Place>,
    limit: u64,
    through_share: bool,
) -> FavoriteConnection {
    let start = match &after {
        Some(after) => {
            list.partition_point(|item| order.compare(&item.place, after) != Ordering::Greater)
        }
        None => 0,
    };
    let total = list.len();
    let end = start.saturating_add(limit as usize).min(total);
    let (page, places) = list
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(|item| {
            let favorite = Favorite {
                favorite: item.favorite,
                through_share,
            };
            (favorite, item.place)
        })
        .unzip();
    FavoriteConnection {
        page,
        places,
        order,
        has_previous: start > 0,
        has_next: end < total,
        total_count: total as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use uuid::Uuid;

    fn list(n: i32) -> Vec<domain::Favorite> {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        (1..=n)
            .map(|product_id| domain::Favorite {
                client_id: Uuid::nil(),
                product_id,
                added_at: at,
                note: None,
                price_when_added: None,
            })
            .collect()
    }

    #[test]
    fn pages_walk_the_whole_list() {
        let order = domain::FavoriteOrder::AddedAtAsc;
        let first = first_page(list(5), 2);
        assert_eq!(first.total_count, 5);
        assert_eq!(
            first
                .page
                .iter()
                .map(|f| f.favorite.product_id)
                .collect::<Vec<_>>(),
            [1, 2]
        );
        let info = first.info();
        assert!(info.has_next_page && !info.has_previous_page);
        let after = decode_favorite_cursor(order, info.end_cursor.as_deref().unwrap()).unwrap();
        let arranged = list(5)
            .into_iter()
            .map(|favorite| Arranged {
                place: order.place(&favorite, None),
                favorite,
            })
            .collect();
        let second = favorite_page(arranged, order, Some(after), 10, false);
        assert_eq!(
            second
                .page
                .iter()
                .map(|f| f.favorite.product_id)
                .collect::<Vec<_>>(),
            [3, 4, 5]
        );
        let info = second.info();
        assert!(!info.has_next_page && info.has_previous_page);
    }
}
