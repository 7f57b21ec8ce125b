//! Parsers for setting values: each reads the text an operator wrote and either returns a typed
//! value or says what is wrong, in words that never repeat the value (it may be a secret).

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use super::values::{CatalogSource, CorsOrigins, DatabaseUrl, LogFormat};

/// Reads a setting's text (`None`: nobody set it and it has no default).
pub trait Parse {
    type Output;
    fn parse(&self, text: Option<&str>) -> Result<Self::Output, String>;
}

/// A value that must be there (given, or by default).
pub struct Text<F>(F);

/// A value that may be absent; empty text counts as absent.
pub struct Optional<F>(F);

impl<T, F: Fn(&str) -> Result<T, String>> Parse for Text<F> {
    type Output = T;

    fn parse(&self, text: Option<&str>) -> Result<T, String> {
        (self.0)(text.ok_or_else(|| "is required but not set".to_owned())?)
    }
}

impl<T, F: Fn(&str) -> Result<T, String>> Parse for Optional<F> {
    type Output = Option<T>;

    fn parse(&self, text: Option<&str>) -> Result<Option<T>, String> {
        match text.map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => (self.0)(text).map(Some),
        }
    }
}

pub fn optional<T, F: Fn(&str) -> Result<T, String>>(Text(parse): Text<F>) -> Optional<F> {
    Optional(parse)
}

fn text<T>(parse: impl Fn(&str) -> Result<T, String>) -> Text<impl Fn(&str) -> Result<T, String>> {
    Text(parse)
}

/// A whole number within `range`.
pub fn number<N>(range: RangeInclusive<N>) -> Text<impl Fn(&str) -> Result<N, String>>
where
    N: FromStr + PartialOrd + Copy + std::fmt::Display,
{
    text(move |raw| {
        let value: N = raw.trim().parse().map_err(|_| {
            format!(
                "must be a whole number from {} to {}",
                range.start(),
                range.end()
            )
        })?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(format!("must be from {} to {}", range.start(), range.end()))
        }
    })
}

/// A duration written in `unit`s (the key's name says which: `_MS`, `_SECONDS`, `_MINUTES`).
fn duration(
    range: RangeInclusive<u64>,
    unit: fn(u64) -> Duration,
) -> Text<impl Fn(&str) -> Result<Duration, String>> {
    let Text(parse) = number(range);
    text(move |raw| parse(raw).map(unit))
}

pub fn millis(range: RangeInclusive<u64>) -> Text<impl Fn(&str) -> Result<Duration, String>> {
    duration(range, Duration::from_millis)
}

pub fn seconds(range: RangeInclusive<u64>) -> Text<impl Fn(&str) -> Result<Duration, String>> {
    duration(range, Duration::from_secs)
}

pub fn minutes(range: RangeInclusive<u64>) -> Text<impl Fn(&str) -> Result<Duration, String>> {
    duration(range, |minutes| Duration::from_secs(minutes * 60))
}

pub fn hours(range: RangeInclusive<u64>) -> Text<impl Fn(&str) -> Result<Duration, String>> {
    duration(range, |hours| Duration::from_secs(hours * 60 * 60))
}

pub fn days(range: RangeInclusive<u64>) -> Text<impl Fn(&str) -> Result<Duration, String>> {
    duration(range, |days| Duration::from_secs(days * 24 * 60 * 60))
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
pub fn flag() -> Text<impl Fn(&str) -> Result<bool, String>> {
    text(|raw| match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("must be true or false".to_owned()),
    })
}

/// Any text that is not blank, trimmed.
pub fn non_empty() -> Text<impl Fn(&str) -> Result<String, String>> {
    text(|raw| match raw.trim() {
        "" => Err("must not be empty".to_owned()),
        trimmed => Ok(trimmed.to_owned()),
    })
}

/// Letters, digits and underscores, at most `max` of them: safe to put in SQL and names.
pub fn identifier(max: usize) -> Text<impl Fn(&str) -> Result<String, String>> {
    text(move |raw| {
        let ok = !raw.is_empty()
            && raw.len() <= max
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(raw.to_owned())
        } else {
            Err(format!(
                "must be a plain identifier of at most {max} letters, digits and underscores"
            ))
        }
    })
}

/// One word (no spaces or control characters) of at most `max` bytes.
pub fn word(max: usize) -> Text<impl Fn(&str) -> Result<String, String>> {
    text(move |raw| {
        let ok = !raw.is_empty()
            && raw.len() <= max
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(raw.to_owned())
        } else {
            Err(format!(
                "must be non-empty, at most {max} bytes, without spaces"
            ))
        }
    })
}

/// An `http://` or `https://` URL.
pub fn http_url() -> Text<impl Fn(&str) -> Result<reqwest::Url, String>> {
    text(|raw| match reqwest::Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(url),
        _ => Err("must be an http(s) URL".to_owned()),
    })
}

pub fn socket_address() -> Text<impl Fn(&str) -> Result<SocketAddr, String>> {
    text(|raw| {
        raw.trim()
            .parse()
            .map_err(|_| "must be an address and port, like 127.0.0.1:8000".to_owned())
    })
}

pub fn path() -> Text<impl Fn(&str) -> Result<PathBuf, String>> {
    text(|raw| Ok(PathBuf::from(raw.trim())))
}

/// A secret of at least `min_bytes` bytes, kept as it is (spaces included).
pub fn secret(min_bytes: usize) -> Text<impl Fn(&str) -> Result<SecretString, String>> {
    text(move |raw| {
        if raw.len() < min_bytes {
            Err(format!("must be at least {min_bytes} bytes long"))
        } else {
            Ok(SecretString::from(raw.to_owned()))
        }
    })
}

pub fn bcrypt_hash() -> Text<impl Fn(&str) -> Result<SecretString, String>> {
    text(|raw| match raw.trim().parse::<bcrypt::HashParts>() {
        Ok(_) => Ok(SecretString::from(raw.trim().to_owned())),
        Err(_) => {
            Err("is not a bcrypt hash (make one with `favorites-api hash-password`)".to_owned())
        }
    })
}

pub fn database_url() -> Text<impl Fn(&str) -> Result<DatabaseUrl, String>> {
    text(|raw| DatabaseUrl::parse(raw.trim()))
}

/// A `redis://` or `rediss://` URL; it may carry a password, so it is kept secret.
pub fn redis_url() -> Text<impl Fn(&str) -> Result<SecretString, String>> {
    text(|raw| match reqwest::Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "redis" | "rediss") => {
            Ok(SecretString::from(raw.trim().to_owned()))
        }
        _ => Err("must be a redis:// or rediss:// URL".to_owned()),
    })
}

pub fn cors_origins() -> Text<impl Fn(&str) -> Result<CorsOrigins, String>> {
    text(CorsOrigins::parse)
}

pub fn catalog_source() -> Text<impl Fn(&str) -> Result<CatalogSource, String>> {
    text(CatalogSource::parse)
}

pub fn log_format() -> Text<impl Fn(&str) -> Result<LogFormat, String>> {
    text(LogFormat::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_bounded_and_named_without_their_value() {
        let parse = millis(1..=1_000);
        assert_eq!(
            parse.parse(Some("250")).unwrap(),
            Duration::from_millis(250)
        );
        assert!(
            parse
                .parse(Some("0"))
                .unwrap_err()
                .contains("from 1 to 1000")
        );
        assert!(parse.parse(Some("1001")).is_err());
        let error = parse.parse(Some("99999999999999999999999")).unwrap_err();
        assert!(!error.contains("9999"), "{error}");
        assert!(parse.parse(None).unwrap_err().contains("required"));
    }

    #[test]
    fn optional_values_may_be_absent_or_empty() {
        let parse = optional(http_url());
        assert_eq!(parse.parse(None).unwrap(), None);
        assert_eq!(parse.parse(Some("  ")).unwrap(), None);
        assert!(parse.parse(Some("ftp://x")).is_err());
        assert!(
            parse
                .parse(Some("https://idp.example.com/jwks"))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn flags_read_the_usual_words() {
        for (raw, value) in [
            ("true", true),
            ("FALSE", false),
            ("1", true),
            ("off", false),
        ] {
            assert_eq!(flag().parse(Some(raw)).unwrap(), value, "{raw}");
        }
        assert!(flag().parse(Some("maybe")).is_err());
    }
}
