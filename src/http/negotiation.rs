//! Which media type a GraphQL answer goes out as, and with which status, as the
//! GraphQL-over-HTTP specification has it:
//! - `application/graphql-response+json` when the caller names it (and does not prefer JSON):
//!   a request that could not run at all (it does not parse, does not validate, its variables do
//!   not fit) is HTTP 400 without `data`; anything that ran is 200;
//! - `application/json` when that is what it accepts (also `*/*`, or no `Accept`): 200 for every
//!   GraphQL answer, as before;
//! - neither: 406.
//!
//! A mutation sent by GET is 405 with `Allow: POST` in either type: it is the method that is
//! wrong, not the request.
//!
//! Answers are per caller: `Cache-Control: no-store`, so no proxy or browser keeps one; and
//! `Vary: Accept`, since the same URL answers in either type (or, by GET, with GraphiQL).

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::encoding::{COMPRESS_ABOVE, Encoding};
use super::error::{error_response, status_of};
use crate::domain::ErrorCode;
use crate::graphql::{Answer, Outcome};

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    GraphqlResponseJson,
    Json,
}

/// What an `Accept` header asks for of `candidate` (`type/subtype`): its q-value, and whether it
/// names it outright (rather than through `*/*` or `type/*`).
fn quality(accept: &str, candidate: &str) -> Option<(f32, bool)> {
    let (kind, _) = candidate.split_once('/').unwrap_or((candidate, ""));
    let mut best: Option<(f32, bool, u8)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|parameter| parameter.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        // The most specific range that matches decides.
        let specificity = if media == candidate {
            3
        } else if media == format!("{kind}/*") {
            2
        } else if media == "*/*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(_, _, seen)| specificity > seen) {
            best = Some((q, specificity == 3, specificity));
        }
    }
    best.map(|(q, named, _)| (q, named))
}

/// The media type of the answer, or `None` when the caller accepts neither of ours.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .filter(|accept| !accept.trim().is_empty())
    else {
        return Some(MediaType::Json);
    };
    let graphql = quality(accept, GRAPHQL_RESPONSE_JSON).filter(|(q, _)| *q > 0.0);
    let json = quality(accept, JSON).filter(|(q, _)| *q > 0.0);
    match (graphql, json) {
        (Some((graphql_q, true)), json) if json.is_none_or(|(json_q, _)| graphql_q >= json_q) => {
            Some(MediaType::GraphqlResponseJson)
        }
        (_, Some(_)) => Some(MediaType::Json),
        (Some(_), None) => Some(MediaType::GraphqlResponseJson),
        (None, None) => None,
    }
}

/// Whether `Accept` prefers an HTML page (a browser) over our JSON: `text/html` named outright,
/// with a higher q than either JSON type.
pub fn prefers_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let Some((html, true)) = quality(accept, "text/html") else {
        return false;
    };
    let best_json = [GRAPHQL_RESPONSE_JSON, JSON]
        .iter()
        .filter_map(|media| quality(accept, media))
        .map(|(q, _)| q)
        .fold(0.0, f32::max);
    html > best_json
}

pub fn not_acceptable() -> Response {
    error_response(
        ErrorCode::NotAcceptable,
        "accept application/graphql-response+json or application/json",
    )
}

/// The HTTP answer for what became of the request's operations, in `media`. A kept answer
/// (`Outcome::Kept`) goes out as its bytes, compressed in `encoding` if it is worth it (its
/// compressed form is made once, then kept with it); any other answer is serialized here and
/// compressed, if at all, by the router's layer.
pub fn respond(answer: Answer, media: MediaType, encoding: Option<Encoding>) -> Response {
    let mut allow_post = false;
    let mut encoded = None;
    let (status, body) = match &answer {
        Answer::Single(Outcome::NotAQuery(response)) => {
            allow_post = true;
            let status = status_of(ErrorCode::MethodNotAllowed);
            (status, json(response))
        }
        Answer::Single(Outcome::Refused { code, response })
            if media == MediaType::GraphqlResponseJson =>
        {
            // No `data` at all: nothing ran.
            let errors = serde_json::json!({ "errors": response.errors });
            (status_of(*code), json(&errors))
        }
        Answer::Single(Outcome::Kept(kept)) => match encoding {
            Some(encoding) if kept.json_len() >= COMPRESS_ABOVE => {
                encoded = Some(encoding);
                let body = kept.form(encoding.name(), |json| {
                    encoding
                        .compress(json)
                        .unwrap_or_else(|| Bytes::copy_from_slice(json))
                });
                (StatusCode::OK, Some(body))
            }
            _ => (StatusCode::OK, Some(kept.json())),
        },
        Answer::Single(outcome) => (StatusCode::OK, body_of(outcome)),
        Answer::Batch(outcomes) => (StatusCode::OK, batch(outcomes)),
    };
    let Some(body) = body else {
        return error_response(ErrorCode::InternalServerError, "internal server error");
    };
    let content_type = match media {
        MediaType::GraphqlResponseJson => GRAPHQL_RESPONSE_JSON,
        MediaType::Json => JSON,
    };
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::VARY, HeaderValue::from_static("accept")),
        ],
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    if allow_post {
        headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    if let Some(encoding) = encoded {
        // Already compressed: the router's layer leaves an answer with an encoding alone.
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(encoding.name()),
        );
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

fn json(value: &impl serde::Serialize) -> Option<Bytes> {
    serde_json::to_vec(value).ok().map(Bytes::from)
}

/// One operation's answer, as JSON.
fn body_of(outcome: &Outcome) -> Option<Bytes> {
    match outcome {
        Outcome::Ran(response)
        | Outcome::Refused { response, .. }
        | Outcome::NotAQuery(response) => json(response),
        Outcome::Kept(kept) => Some(kept.json()),
    }
}

/// A batch's answers, as one JSON array (kept ones as they are).
fn batch(outcomes: &[Outcome]) -> Option<Bytes> {
    let mut body = Vec::from("[");
    for (n, outcome) in outcomes.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&body_of(outcome)?);
    }
    body.push(b']');
    Some(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_client_gets_what_it_accepts() {
        use MediaType::*;
        assert_eq!(negotiate(&HeaderMap::new()), Some(Json));
        assert_eq!(negotiate(&accept("*/*")), Some(Json));
        assert_eq!(negotiate(&accept("application/json")), Some(Json));
        assert_eq!(
            negotiate(&accept(GRAPHQL_RESPONSE_JSON)),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(Json)
        );
        assert_eq!(negotiate(&accept("text/html")), None);
        assert_eq!(negotiate(&accept("application/json;q=0")), None);
    }

    #[test]
    fn browsers_prefer_the_page() {
        assert!(prefers_html(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!prefers_html(&accept("*/*")));
        assert!(!prefers_html(&accept("application/json")));
        assert!(!prefers_html(&HeaderMap::new()));
    }
}
