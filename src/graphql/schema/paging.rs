//! Relay-style paging: the arguments, opaque cursors, and where a page sits in its list.

use async_graphql::SimpleObject;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::PageDirection;
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

/// A favorite's position in its list: ordered by `added_at`, then product id.
pub type FavoriteKey = (DateTime<Utc>, i32);

pub fn encode_favorite_cursor((added_at, product_id): FavoriteKey) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{FAVORITE_PREFIX}{}:{product_id}",
        added_at.timestamp_micros()
    ))
}

pub fn decode_favorite_cursor(cursor: &str) -> Result<FavoriteKey, ServiceError> {
    let text = decode_text(cursor)?;
    let rest = text
        .strip_prefix(FAVORITE_PREFIX)
        .ok_or_else(invalid_cursor)?;
    let (micros, product_id) = rest.split_once(':').ok_or_else(invalid_cursor)?;
    let micros: i64 = micros.parse().map_err(|_| invalid_cursor())?;
    let product_id: i32 = product_id.parse().map_err(|_| invalid_cursor())?;
    let added_at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid_cursor)?;
    Ok((added_at, product_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let id = Uuid::now_v7();
        assert_eq!(decode_client_cursor(&encode_client_cursor(id)).unwrap(), id);
        let key = (
            DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            7,
        );
        assert_eq!(
            decode_favorite_cursor(&encode_favorite_cursor(key)).unwrap(),
            key
        );
    }

    #[test]
    fn foreign_cursors_are_refused() {
        let client = encode_client_cursor(Uuid::now_v7());
        assert!(decode_favorite_cursor(&client).is_err());
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
