//! A client as every layer sees it, and what callers send about one, parsed once at the edge:
//! a name and an e-mail address.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{FavoritesVersion, InvalidInput};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The last change to the list.
    pub favorites_version: FavoritesVersion,
}

/// A client's display name: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientName(String);

impl ClientName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(InvalidInput::new("name", "must not be empty"));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(InvalidInput::new(
                "name",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A client's e-mail address: trimmed, lower-cased, at most 254 characters, and shaped like
/// `local@domain.tld`. Lower-casing makes the unique index case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEmail(String);

impl ClientEmail {
    pub const MAX_CHARS: usize = 254;
    const MAX_LOCAL_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let email = raw.trim().to_lowercase();
        let invalid = |reason: &str| Err(InvalidInput::new("email", reason));
        if email.is_empty() {
            return invalid("must not be empty");
        }
        if email.chars().count() > Self::MAX_CHARS {
            return invalid("must be at most 254 characters");
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return invalid("must be an e-mail address like name@example.com");
        };
        if local.is_empty()
            || local.chars().count() > Self::MAX_LOCAL_CHARS
            || !local.chars().all(is_local_char)
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return invalid("must be an e-mail address like name@example.com");
        }
        if !is_domain(domain) {
            return invalid("must be an e-mail address like name@example.com");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The characters RFC 5322 allows unquoted in a local part (plus non-ASCII letters, RFC 6531).
fn is_local_char(c: char) -> bool {
    c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c)
}

fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ClientName::parse("  Ana  ").unwrap().as_str(), "Ana");
        assert!(ClientName::parse("   ").is_err());
        assert!(ClientName::parse(&"x".repeat(100)).is_ok());
        assert!(ClientName::parse(&"x".repeat(101)).is_err());
        assert!(ClientName::parse(&"é".repeat(100)).is_ok());
        assert!(ClientName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn emails_are_normalised() {
        let email = ClientEmail::parse("  Ana.Silva+x@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ana.silva+x@example.com");
    }

    #[test]
    fn bad_emails_are_refused() {
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "ana@@example.com",
            "ana silva@example.com",
            "ana@exa mple.com",
            ".ana@example.com",
            "ana..silva@example.com",
            "ana@-example.com",
            "ana@example..com",
        ] {
            assert!(ClientEmail::parse(bad).is_err(), "accepted {bad:?}");
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(186));
        assert_eq!(long.len(), 255);
        assert!(ClientEmail::parse(&long).is_err());
    }
}
