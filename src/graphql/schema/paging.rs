//! Relay-style paging: the arguments, opaque cursors, and where a page sits in its list.

use async_graphql::SimpleObject;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{FavoriteOrder, PageDirection, Place, SortKey};
use crate::service::ServiceError;

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

/// `first`/`last` must lie in 1..=100; absent means 20.
pub fn page_size(value: Option<i32>, argument: &str) -> Result<u64, ServiceError> {
    match value {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n as u64),
        Some(n) => Err(ServiceError::BadUserInput(format!(
            "`{argument}` must be between 1 and {MAX_PAGE_SIZE}, got {n}"
        ))),
    }
}

/// Reads `first`/`after` or `last`/`before` (not a mix of the two) into a direction and a size.
pub fn page_request<K>(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    decode: impl Fn(&str) -> Result<K, ServiceError>,
) -> Result<(PageDirection<K>, u64), ServiceError> {
    let forward = first.is_some() || after.is_some();
    let backward = last.is_some() || before.is_some();
    if forward && backward {
        return Err(ServiceError::BadUserInput(
            "page with `first`/`after` or with `last`/`before`, not both".to_owned(),
        ));
    }
    if backward {
        let size = page_size(last, "last")?;
        let before = before.as_deref().map(&decode).transpose()?;
        Ok((PageDirection::Backward { before }, size))
    } else {
        let size = page_size(first, "first")?;
        let after = after.as_deref().map(&decode).transpose()?;
        Ok((PageDirection::Forward { after }, size))
    }
}

/// Where a page sits in its list (Relay cursor connections).
#[derive(Clone, Debug, SimpleObject)]
pub struct PageInfo {
    /// Whether there are items after this page.
    pub has_next_page: bool,
    /// Whether there are items before this page.
    pub has_previous_page: bool,
    /// Cursor of the first item of the page, if any.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of the page, if any.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// For a page whose first and last items have these cursors (none for an empty page).
    pub fn new(
        start_cursor: Option<String>,
        end_cursor: Option<String>,
        has_previous_page: bool,
        has_next_page: bool,
    ) -> Self {
        Self {
            has_next_page,
            has_previous_page,
            start_cursor,
            end_cursor,
        }
    }
}

const CLIENT_PREFIX: &str = "client:";
const FAVORITE_PREFIX: &str = "favorite:";

fn invalid_cursor() -> ServiceError {
    ServiceError::BadUserInput("malformed cursor".to_owned())
}

fn decode_text(cursor: &str) -> Result<String, ServiceError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid_cursor())?;
    String::from_utf8(bytes).map_err(|_| invalid_cursor())
}

pub fn encode_client_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CLIENT_PREFIX}{id}"))
}

pub fn decode_client_cursor(cursor: &str) -> Result<Uuid, ServiceError> {
    let text = decode_text(cursor)?;
    let id = text
        .strip_prefix(CLIENT_PREFIX)
        .ok_or_else(invalid_cursor)?;
    Uuid::parse_str(id).map_err(|_| invalid_cursor())
}

/// A favorite's cursor: its place in the order its page was read in. The oldest-first order
/// keeps the format it always had (`favorite:<micros>:<id>`); the others name their order
/// (`favorite.<order>:<id>:<value>`), so that a cursor is refused in another order rather than
/// read as a place it is not.
pub fn encode_favorite_cursor(order: FavoriteOrder, place: &Place) -> String {
    let text = match (order, &place.key) {
        (FavoriteOrder::AddedAtAsc, SortKey::AddedAt(at)) => {
            format!(
                "{FAVORITE_PREFIX}{}:{}",
                at.timestamp_micros(),
                place.product_id
            )
        }
        (_, key) => {
            let value = match key {
                SortKey::AddedAt(at) => at.timestamp_micros().to_string(),
                SortKey::Price(price) => known(price.map(|price| price.to_string())),
                SortKey::Title(title) => known(title.clone()),
            };
            format!("favorite.{}:{}:{value}", order_tag(order), place.product_id)
        }
    };
    URL_SAFE_NO_PAD.encode(text)
}

pub fn decode_favorite_cursor(order: FavoriteOrder, cursor: &str) -> Result<Place, ServiceError> {
    let text = decode_text(cursor)?;
    if let Some(rest) = text.strip_prefix(FAVORITE_PREFIX) {
        if order != FavoriteOrder::AddedAtAsc {
            return Err(cursor_of_another_order());
        }
        let (micros, product_id) = rest.split_once(':').ok_or_else(invalid_cursor)?;
        return Ok(Place {
            key: SortKey::AddedAt(micros_to_time(micros)?),
            product_id: product_id.parse().map_err(|_| invalid_cursor())?,
        });
    }
    let (tag, rest) = text
        .strip_prefix("favorite.")
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(invalid_cursor)?;
    if FavoriteOrder::ALL
        .iter()
        .all(|known| order_tag(*known) != tag)
    {
        return Err(invalid_cursor());
    }
    if tag != order_tag(order) {
        return Err(cursor_of_another_order());
    }
    let (product_id, value) = rest.split_once(':').ok_or_else(invalid_cursor)?;
    let key = match order {
        FavoriteOrder::AddedAtAsc | FavoriteOrder::AddedAtDesc => {
            SortKey::AddedAt(micros_to_time(value)?)
        }
        FavoriteOrder::PriceAsc | FavoriteOrder::PriceDesc => SortKey::Price(
            unknown_or(value)?
                .map(|price| price.parse::<f64>().map_err(|_| invalid_cursor()))
                .transpose()?,
        ),
        FavoriteOrder::TitleAsc => SortKey::Title(unknown_or(value)?.map(str::to_owned)),
    };
    Ok(Place {
        key,
        product_id: product_id.parse().map_err(|_| invalid_cursor())?,
    })
}

fn order_tag(order: FavoriteOrder) -> &'static str {
    match order {
        FavoriteOrder::AddedAtAsc => "added-asc",
        FavoriteOrder::AddedAtDesc => "added-desc",
        FavoriteOrder::PriceAsc => "price-asc",
        FavoriteOrder::PriceDesc => "price-desc",
        FavoriteOrder::TitleAsc => "title-asc",
    }
}

/// `=value` for a known value, `-` for none.
fn known(value: Option<String>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("={value}"))
}

fn unknown_or(value: &str) -> Result<Option<&str>, ServiceError> {
    match value {
        "-" => Ok(None),
        _ => value.strip_prefix('=').map(Some).ok_or_else(invalid_cursor),
    }
}

fn micros_to_time(micros: &str) -> Result<DateTime<Utc>, ServiceError> {
    let micros: i64 = micros.parse().map_err(|_| invalid_cursor())?;
    DateTime::from_timestamp_micros(micros).ok_or_else(invalid_cursor)
}

fn cursor_of_another_order() -> ServiceError {
    ServiceError::BadUserInput(
        "this cursor was made for another `orderBy`; page with the order it came from".to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let id = Uuid::now_v7();
        assert_eq!(decode_client_cursor(&encode_client_cursor(id)).unwrap(), id);
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let places = [
            (FavoriteOrder::AddedAtAsc, SortKey::AddedAt(at)),
            (FavoriteOrder::AddedAtDesc, SortKey::AddedAt(at)),
            (FavoriteOrder::PriceAsc, SortKey::Price(Some(109.95))),
            (FavoriteOrder::PriceDesc, SortKey::Price(None)),
            (
                FavoriteOrder::TitleAsc,
                SortKey::Title(Some("a: b ".to_owned())),
            ),
            (FavoriteOrder::TitleAsc, SortKey::Title(None)),
        ];
        for (order, key) in places {
            let place = Place { key, product_id: 7 };
            let cursor = encode_favorite_cursor(order, &place);
            assert_eq!(decode_favorite_cursor(order, &cursor).unwrap(), place);
            // Refused in every other order.
            for other in FavoriteOrder::ALL
                .into_iter()
                .filter(|other| *other != order)
            {
                assert!(decode_favorite_cursor(other, &cursor).is_err());
            }
        }
        // The oldest-first cursor is the one this API always gave out.
        assert_eq!(
            decode_text(&encode_favorite_cursor(
                FavoriteOrder::AddedAtAsc,
                &Place {
                    key: SortKey::AddedAt(at),
                    product_id: 7
                }
            ))
            .unwrap(),
            "favorite:1700000000123456:7"
        );
    }

    #[test]
    fn foreign_cursors_are_refused() {
        let client = encode_client_cursor(Uuid::now_v7());
        assert!(decode_favorite_cursor(FavoriteOrder::AddedAtAsc, &client).is_err());
        assert!(decode_client_cursor("not base64!").is_err());
        assert!(decode_client_cursor(&URL_SAFE_NO_PAD.encode("client:nope")).is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(None, "first").unwrap(), 20);
        assert_eq!(page_size(Some(100), "first").unwrap(), 100);
        assert!(page_size(Some(0), "first").is_err());
        assert!(page_size(Some(-1), "first").is_err());
        assert!(page_size(Some(101), "first").is_err());
    }
}
