//! A product in a client's list, as every layer sees it (the database's own entities stay in
//! `db`), and the rules for a shopper's note on it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::InvalidInput;

/// Whose list: a client's, or a guest shopper's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOwner {
    Client(Uuid),
    Guest(Uuid),
}

impl ListOwner {
    pub fn id(self) -> Uuid {
        match self {
            Self::Client(id) | Self::Guest(id) => id,
        }
    }
}

/// A product in a client's (or a guest's) list.
#[derive(Clone, Debug, PartialEq)]
pub struct Favorite {
    /// The list's owner: a client, or a guest for a guest's list.
    pub client_id: Uuid,
    pub product_id: i32,
    pub added_at: DateTime<Utc>,
    pub note: Option<String>,
    /// The catalog's price when the product was added; `None` for favorites saved before
    /// prices were kept.
    pub price_when_added: Option<f64>,
}

impl Favorite {
    /// Its place in the list: by time added, then product id.
    pub fn position(&self) -> (DateTime<Utc>, i32) {
        (self.added_at, self.product_id)
    }

    /// How much cheaper the product is at `price_now` than when it was added, to the cent;
    /// `None` when it is not cheaper, or either price is not known.
    pub fn price_drop(&self, price_now: Option<f64>) -> Option<f64> {
        let drop = self.price_when_added? - price_now?;
        let cents = (drop * 100.0).round();
        (cents >= 1.0).then_some(cents / 100.0)
    }
}

/// A product going into a list, as an add writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewFavorite {
    pub product_id: i32,
    /// The note to set (`Some(None)` clears one); `None` leaves a note already there as it is.
    pub note: Option<Option<Note>>,
    /// The catalog's price now: kept as `price_when_added` when the product is new to the list
    /// (adding it again keeps the first price, as it keeps `added_at`).
    pub price: Option<f64>,
}

impl NewFavorite {
    /// Just the product: no note, no price known (seeding a list outside the API).
    pub fn product(product_id: i32) -> Self {
        Self {
            product_id,
            note: None,
            price: None,
        }
    }

    /// The note the favorite ends with, given the one it has (`None` for a new favorite).
    pub fn note_after(&self, before: Option<&str>) -> Option<String> {
        match &self.note {
            Some(note) => note.as_ref().map(|note| note.as_str().to_owned()),
            None => before.map(str::to_owned),
        }
    }
}

/// A note on a favorite, checked: trimmed, 1 to `Note::MAX_CHARS` characters, no control
/// characters (a line break included: a note is one line on a product card).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note(String);

impl Note {
    pub const MAX_CHARS: usize = 500;

    /// The note to keep for `raw`: `None` when it is empty once trimmed (which clears a note).
    pub fn parse(raw: &str) -> Result<Option<Self>, InvalidInput> {
        let trimmed = raw.trim();
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "note",
                "must not hold control characters (line breaks included)",
            ));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(InvalidInput::new(
                "note",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok((!trimmed.is_empty()).then(|| Self(trimmed.to_owned())))
    }

    /// The note to set from an argument that may be null: null, like one that is empty once
    /// trimmed, clears it.
    pub fn parse_nullable(raw: Option<&str>) -> Result<Option<Self>, InvalidInput> {
        Ok(raw.map(Self::parse).transpose()?.flatten())
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_and_an_empty_one_clears() {
        assert_eq!(
            Note::parse("  gift for Ann ")
                .unwrap()
                .map(Note::into_inner),
            Some("gift for Ann".to_owned())
        );
        assert_eq!(Note::parse("   ").unwrap(), None);
    }

    #[test]
    fn a_note_is_refused_when_too_long_or_with_control_characters() {
        assert!(Note::parse(&"é".repeat(500)).unwrap().is_some());
        let refused = |raw: &str| Note::parse(raw).unwrap_err().reason;
        assert!(refused(&"é".repeat(501)).contains("at most 500"));
        assert!(refused("two\nlines").contains("control"));
        assert!(refused("bell\u{7}").contains("control"));
    }

    #[test]
    fn a_price_drop_is_only_a_drop_and_to_the_cent() {
        let favorite = |price| Favorite {
            client_id: Uuid::nil(),
            product_id: 1,
            added_at: DateTime::from_timestamp(0, 0).unwrap(),
            note: None,
            price_when_added: price,
        };
        assert_eq!(favorite(Some(109.95)).price_drop(Some(99.95)), Some(10.0));
        assert_eq!(favorite(Some(10.0)).price_drop(Some(10.0)), None);
        assert_eq!(favorite(Some(10.0)).price_drop(Some(12.0)), None);
        assert_eq!(favorite(Some(10.0)).price_drop(Some(9.999)), None);
        assert_eq!(favorite(None).price_drop(Some(9.0)), None);
        assert_eq!(favorite(Some(10.0)).price_drop(None), None);
    }
}
