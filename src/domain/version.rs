//! A list's version: which change to a client's list was the last one, as the change log
//! numbers changes. Callers get it as an opaque string and hand it back to resume a feed.

use std::fmt;

use super::InvalidInput;

/// Versions of one list only grow, and two lists at the same version are the same list: each
/// change to a list takes the next number of the change log while it holds the client's row,
/// so later changes to one list get larger numbers. `0`: the list never changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FavoritesVersion(i64);

impl FavoritesVersion {
    pub fn new(seq: i64) -> Self {
        Self(seq)
    }

    pub fn seq(self) -> i64 {
        self.0
    }

    /// What `favoritesVersion` said earlier. Anything else is refused, not taken as "from the
    /// start": a storefront that sends garbage would otherwise be sent the list every time.
    pub fn parse(raw: &str, field: &'static str) -> Result<Self, InvalidInput> {
        raw.parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0 && raw.bytes().all(|byte| byte.is_ascii_digit()))
            .map(Self)
            .ok_or_else(|| InvalidInput::new(field, "is not a version this API gave out"))
    }
}

impl fmt::Display for FavoritesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_reads_back_what_it_printed_and_nothing_else() {
        let version = FavoritesVersion::new(42);
        assert_eq!(
            FavoritesVersion::parse(&version.to_string(), "after"),
            Ok(version)
        );
        for garbage in ["", "-1", "+1", " 1", "1.0", "abc", "99999999999999999999"] {
            assert!(
                FavoritesVersion::parse(garbage, "after").is_err(),
                "{garbage:?}"
            );
        }
    }
}
