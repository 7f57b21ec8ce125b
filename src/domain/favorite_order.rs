//! The orders a list can be read in, and a favorite's place in one (what a cursor holds): by
//! time added either way, by price either way, by title. Products the catalog cannot price (or
//! name) sort last in every order; ties break by product id, so every order is total and a
//! page boundary is never ambiguous.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::{Favorite, Product};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FavoriteOrder {
    /// Oldest first: the list's own order.
    #[default]
    AddedAtAsc,
    AddedAtDesc,
    PriceAsc,
    PriceDesc,
    TitleAsc,
}

/// What a favorite is ordered by, in one order.
#[derive(Clone, Debug, PartialEq)]
pub enum SortKey {
    AddedAt(DateTime<Utc>),
    /// `None`: the catalog cannot price it (gone, or not reachable).
    Price(Option<f64>),
    /// `None`: the catalog cannot name it.
    Title(Option<String>),
}

/// A favorite's place in an order.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    pub key: SortKey,
    pub product_id: i32,
}

impl FavoriteOrder {
    pub const ALL: [Self; 5] = [
        Self::AddedAtAsc,
        Self::AddedAtDesc,
        Self::PriceAsc,
        Self::PriceDesc,
        Self::TitleAsc,
    ];

    /// Whether placing a favorite in this order needs its product.
    pub fn needs_product(self) -> bool {
        matches!(self, Self::PriceAsc | Self::PriceDesc | Self::TitleAsc)
    }

    /// The favorite's place; `product` is the catalog's (`None` when it cannot say).
    pub fn place(self, favorite: &Favorite, product: Option<&Product>) -> Place {
        let key = match self {
            Self::AddedAtAsc | Self::AddedAtDesc => SortKey::AddedAt(favorite.added_at),
            Self::PriceAsc | Self::PriceDesc => SortKey::Price(product.map(|p| p.price)),
            Self::TitleAsc => SortKey::Title(product.map(|p| p.title.clone())),
        };
        Place {
            key,
            product_id: favorite.product_id,
        }
    }

    /// How two places compare in this order. Places of another order compare by product id.
    pub fn compare(self, a: &Place, b: &Place) -> Ordering {
        let by_key = match (&a.key, &b.key) {
            (SortKey::AddedAt(a), SortKey::AddedAt(b)) => match self {
                Self::AddedAtDesc => b.cmp(a),
                _ => a.cmp(b),
            },
            (SortKey::Price(a), SortKey::Price(b)) => unknown_last(*a, *b, |a, b| match self {
                Self::PriceDesc => b.total_cmp(&a),
                _ => a.total_cmp(&b),
            }),
            (SortKey::Title(a), SortKey::Title(b)) => {
                unknown_last(a.as_deref(), b.as_deref(), |a, b| {
                    a.to_lowercase()
                        .cmp(&b.to_lowercase())
                        .then_with(|| a.cmp(b))
                })
            }
            _ => Ordering::Equal,
        };
        by_key.then_with(|| a.product_id.cmp(&b.product_id))
    }
}

fn unknown_last<T>(a: Option<T>, b: Option<T>, known: impl Fn(T, T) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => known(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(price: Option<f64>, product_id: i32) -> Place {
        Place {
            key: SortKey::Price(price),
            product_id,
        }
    }

    #[test]
    fn unpriced_products_sort_last_both_ways_and_ties_break_by_id() {
        let mut places = vec![
            price(None, 1),
            price(Some(5.0), 4),
            price(Some(2.5), 3),
            price(Some(5.0), 2),
        ];
        let ids = |places: &[Place]| places.iter().map(|p| p.product_id).collect::<Vec<_>>();
        places.sort_by(|a, b| FavoriteOrder::PriceAsc.compare(a, b));
        assert_eq!(ids(&places), [3, 2, 4, 1]);
        places.sort_by(|a, b| FavoriteOrder::PriceDesc.compare(a, b));
        assert_eq!(ids(&places), [2, 4, 3, 1]);
    }

    #[test]
    fn titles_sort_without_regard_to_case() {
        let title = |title: &str, product_id| Place {
            key: SortKey::Title(Some(title.to_owned())),
            product_id,
        };
        let mut places = [title("b", 1), title("A", 2), title("a", 3)];
        places.sort_by(|a, b| FavoriteOrder::TitleAsc.compare(a, b));
        let ids: Vec<_> = places.iter().map(|p| p.product_id).collect();
        assert_eq!(ids, [2, 3, 1]);
    }
}
