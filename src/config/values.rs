//! Setting values with a shape of their own: a database URL that never prints its password, and
//! the CORS origins, parsed once.

use secrecy::{ExposeSecret, SecretString};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// `DATABASE_URL`. It may hold a password, so it only ever shows itself redacted
/// (`postgres://user:***@host/db`); `expose` is for the driver alone.
#[derive(Clone)]
pub struct DatabaseUrl {
    url: SecretString,
    kind: DatabaseKind,
    redacted: String,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let kind = if raw.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            DatabaseKind::Postgres
        } else {
            return Err("must start with sqlite:, postgres:// or postgresql://".to_owned());
        };
        let redacted = redact_url(raw);
        // The driver parses it as a URL too, and quotes it whole when that fails: refuse it here,
        // where nothing is quoted.
        if kind == DatabaseKind::Postgres && reqwest::Url::parse(raw).is_err() {
            return Err(format!(
                "cannot be read as a URL ({redacted}); percent-encode special characters of the \
                 user name and password (`/` is `%2F`, `@` is `%40`)"
            ));
        }
        Ok(Self {
            url: SecretString::from(raw.to_owned()),
            kind,
            redacted,
        })
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    pub fn is_sqlite(&self) -> bool {
        self.kind == DatabaseKind::Sqlite
    }

    /// The whole URL, password included: only for handing to the driver.
    pub fn expose(&self) -> &str {
        self.url.expose_secret()
    }

    /// Replaces the URL and its password wherever they appear in `text` (a driver's error may
    /// quote either).
    pub fn scrub(&self, text: &str) -> String {
        let mut scrubbed = text.replace(self.expose(), &self.redacted);
        if let Some(password) = password_of(self.expose())
            && password.len() >= 3
        {
            scrubbed = scrubbed.replace(password, "***");
        }
        scrubbed
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted)
    }
}

/// The text between `scheme://user:` and the last `@` of the authority, if any.
fn password_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    // The authority ends at the last `@` before the path; a password may hold `/` or `@`.
    let at = rest.rfind('@')?;
    let credentials = &rest[..at];
    let (_, password) = credentials.split_once(':')?;
    Some(password)
}

/// `scheme://user:***@rest`, whatever the password holds (also when it breaks URL syntax).
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let (credentials, host) = (&rest[..at], &rest[at + 1..]);
    let user = credentials
        .split_once(':')
        .map_or(credentials, |(user, _)| user);
    format!("{scheme}://{user}:***@{host}")
}

/// `CATALOG_SOURCE`: which catalog API products come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogSource {
    /// FakeStoreAPI, at `FAKESTOREAPI_URL`.
    FakeStore,
}

impl CatalogSource {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "fakestore" => Ok(Self::FakeStore),
            _ => Err("must be one of: fakestore".to_owned()),
        }
    }
}

/// `LOG_FORMAT`: how log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: one readable line an event.
    Text,
    /// For log shippers: one JSON object a line.
    Json,
}

impl LogFormat {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("must be one of: text, json".to_owned()),
        }
    }
}

/// `CORS_ALLOWED_ORIGINS`: origins as browsers send them in `Origin` (`scheme://host[:port]`),
/// or any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers at all: browsers keep other origins out.
    #[default]
    None,
    Any,
    List(Vec<String>),
}

impl CorsOrigins {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut origins = Vec::new();
        for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            if origin == "*" {
                return Ok(Self::Any);
            }
            let invalid =
                || format!("holds {origin:?}, which is not an origin like https://app.example.com");
            let url = reqwest::Url::parse(origin).map_err(|_| invalid())?;
            let bare = matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.path() == "/"
                && url.query().is_none()
                && url.fragment().is_none()
                && url.username().is_empty();
            if !bare || origin.ends_with('/') {
                return Err(invalid());
            }
            origins.push(url.origin().ascii_serialization());
        }
        Ok(if origins.is_empty() {
            Self::None
        } else {
            Self::List(origins)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_never_shows_its_password() {
        let url = DatabaseUrl::parse("postgres://app:s3cr3t@db.internal:5432/favorites").unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://app:***@db.internal:5432/favorites"
        );
        assert!(!format!("{url:?}").contains("s3cr3t"));
        assert_eq!(
            url.scrub("error: connecting to postgres://app:s3cr3t@db.internal:5432/favorites"),
            "error: connecting to postgres://app:***@db.internal:5432/favorites"
        );
    }

    #[test]
    fn an_unreadable_url_is_refused_without_its_password() {
        let error = DatabaseUrl::parse("postgres://app:ab/c+d==@db/favorites").unwrap_err();
        assert!(!error.contains("ab/c"), "{error}");
        assert!(error.contains("postgres://app:***@db/favorites"), "{error}");
    }

    #[test]
    fn cors_origins_are_bare_origins() {
        assert_eq!(CorsOrigins::parse("").unwrap(), CorsOrigins::None);
        assert_eq!(CorsOrigins::parse(" * ").unwrap(), CorsOrigins::Any);
        assert_eq!(
            CorsOrigins::parse("https://shop.example.com, http://localhost:5173").unwrap(),
            CorsOrigins::List(vec![
                "https://shop.example.com".to_owned(),
                "http://localhost:5173".to_owned()
            ])
        );
        for bad in [
            "shop.example.com",
            "https://shop.example.com/",
            "https://a.b/path",
        ] {
            assert!(CorsOrigins::parse(bad).is_err(), "{bad}");
        }
    }
}
