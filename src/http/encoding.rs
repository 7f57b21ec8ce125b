//! Compressed forms of kept answers (the response cache's): made once per answer and encoding,
//! then served as they are to every hit. Other answers are compressed on the way out by
//! tower-http's layer (router.rs); this picks the encoding the way it does (the highest `q`,
//! zstd before Brotli before gzip among equals) and at the same level, so a client cannot tell
//! a kept answer from a fresh one but by the time it took.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};

/// Answers smaller than this go out as they are (the router's layer has the same threshold).
pub const COMPRESS_ABOVE: usize = 1024;

/// tower-http's `CompressionLevel::Precise(4)`, the router's: cheap, and about tenfold on our
/// answers.
const LEVEL: u32 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    Gzip,
    Brotli,
    Zstd,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
        }
    }

    /// The encoding `Accept-Encoding` prefers among ours, if it accepts one.
    pub fn preferred(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|item| {
                let mut parts = item.split(';');
                let encoding = match parts.next()?.trim().to_ascii_lowercase().as_str() {
                    "gzip" | "x-gzip" => Self::Gzip,
                    "br" => Self::Brotli,
                    "zstd" => Self::Zstd,
                    _ => return None,
                };
                let quality = parts.find_map(quality).unwrap_or(1000);
                (quality > 0).then_some((quality, encoding))
            })
            .max()
            .map(|(_, encoding)| encoding)
    }

    /// `body`, compressed; `None` if the encoder failed (then it goes out as it is).
    pub fn compress(self, body: &[u8]) -> Option<Bytes> {
        use std::io::Write;
        let compressed = match self {
            Self::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(body.len() / 8),
                    flate2::Compression::new(LEVEL),
                );
                encoder.write_all(body).ok()?;
                encoder.finish().ok()?
            }
            Self::Brotli => {
                let mut compressed = Vec::with_capacity(body.len() / 8);
                let params = brotli::enc::BrotliEncoderParams {
                    quality: LEVEL as i32,
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut &body[..], &mut compressed, &params).ok()?;
                compressed
            }
            Self::Zstd => zstd::bulk::compress(body, LEVEL as i32).ok()?,
        };
        Some(Bytes::from(compressed))
    }
}

/// A `q=0.5` parameter in thousandths; `None` for another parameter or a malformed value.
fn quality(parameter: &str) -> Option<u16> {
    let (name, value) = parameter.trim().split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("q") {
        return None;
    }
    let value: f32 = value.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accepting(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn the_highest_quality_wins_and_ties_go_to_zstd_then_brotli() {
        let preferred = |value| Encoding::preferred(&accepting(value));
        assert_eq!(preferred("gzip"), Some(Encoding::Gzip));
        assert_eq!(preferred("gzip, deflate, br"), Some(Encoding::Brotli));
        assert_eq!(preferred("gzip, br, zstd"), Some(Encoding::Zstd));
        assert_eq!(preferred("gzip;q=0.5, br"), Some(Encoding::Brotli));
        assert_eq!(preferred("br;q=0.2, gzip;q=0.9"), Some(Encoding::Gzip));
        assert_eq!(preferred("br;q=0, identity"), None);
        assert_eq!(preferred("identity"), None);
        assert_eq!(preferred("deflate, *"), None);
        assert_eq!(Encoding::preferred(&HeaderMap::new()), None);
    }

    #[test]
    fn each_encoding_round_trips() {
        use std::io::Read;
        let body = br#"{"data":{"clients":[{"name":"Ana"},{"name":"Bia"}]}}"#.repeat(50);
        let gzip = Encoding::Gzip.compress(&body).expect("gzip");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..])
            .read_to_end(&mut unzipped)
            .expect("gunzip");
        assert_eq!(unzipped, body);
        let brotli = Encoding::Brotli.compress(&body).expect("br");
        let mut unbrotlied = Vec::new();
        brotli::BrotliDecompress(&mut &brotli[..], &mut unbrotlied).expect("unbrotli");
        assert_eq!(unbrotlied, body);
        let zstd = Encoding::Zstd.compress(&body).expect("zstd");
        assert_eq!(
            zstd::bulk::decompress(&zstd, body.len()).expect("unzstd"),
            body
        );
        assert!(gzip.len() * 10 < body.len() && zstd.len() * 10 < body.len());
    }
}
