//! The codes a caller finds in an error's `extensions.code` (and in the REST door's `code`),
//! declared once. Each layer says which of its own outcomes is which code; `http` gives each
//! code its status (`http::error::status_of`); the README's table and the TypeScript SDK's list
//! are generated from here (`favorites-api print-error-codes`), and tests keep them in step.

/// Declares the codes: the enum, the text callers see, and the README's "when" for each.
macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $text:literal, )*) => {
        /// Every code a caller can see, in the README's order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[doc = $doc])+ $variant, )*
        }

        impl ErrorCode {
            pub const ALL: &[Self] = &[$(Self::$variant),*];

            /// The text in `extensions.code`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }

            /// When a caller meets it, in the README's words.
            pub fn when(self) -> &'static str {
                match self {
                    $(Self::$variant => concat!($($doc, " "),+),)*
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// no token, a bad or expired token, or wrong credentials
    Unauthenticated = "UNAUTHENTICATED",
    /// the token is good but may not do this (a client token outside its own client); never
    /// says whether the target exists
    Forbidden = "FORBIDDEN",
    /// an argument, input field or variable that fails validation (bad e-mail, empty name,
    /// `first: -1`, a malformed cursor, a `UUID` variable that does not parse)
    BadUserInput = "BAD_USER_INPUT",
    /// a mutation on a client that does not exist; over HTTP, a route that does not exist
    /// (404)
    NotFound = "NOT_FOUND",
    /// another client has that e-mail (also when two requests race for it)
    EmailTaken = "EMAIL_TAKEN",
    /// `addFavorite` with a product the catalog does not have (`extensions.productId`);
    /// nothing is written
    ProductNotFound = "PRODUCT_NOT_FOUND",
    /// `addFavorite` on a list that holds `MAX_FAVORITES_PER_CLIENT` products already
    /// (`extensions.limit`); nothing is written
    FavoritesLimitReached = "FAVORITES_LIMIT_REACHED",
    /// the catalog cannot be reached (and the data is not cached); for a favorite's
    /// `product`, the rest of the answer still comes
    UpstreamUnavailable = "UPSTREAM_UNAVAILABLE",
    /// the database cannot be reached; retry later
    DatabaseUnavailable = "DATABASE_UNAVAILABLE",
    /// too many failed logins from your address, or too many requests from one client;
    /// `extensions.retryAfterSeconds` says how long to wait (HTTP 429 + `Retry-After` when it
    /// stops the whole request)
    RateLimited = "RATE_LIMITED",
    /// the document does not parse (HTTP 400 when you accept
    /// `application/graphql-response+json`, see "Calling it")
    GraphqlParseFailed = "GRAPHQL_PARSE_FAILED",
    /// the document asks for fields that do not exist, or goes past a limit (HTTP 400 as
    /// above)
    GraphqlValidationFailed = "GRAPHQL_VALIDATION_FAILED",
    /// the HTTP body is not a GraphQL request at all (HTTP 400), a persisted query's hash is
    /// not its document's, or `operationName` picks no operation of the document
    BadRequest = "BAD_REQUEST",
    /// an unknown persisted-query hash (resend with the query)
    PersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND",
    /// a persisted-query version other than 1
    PersistedQueryNotSupported = "PERSISTED_QUERY_NOT_SUPPORTED",
    /// a JSON array batch of more than `MAX_BATCH_SIZE` operations (HTTP 400; nothing runs)
    BatchTooLarge = "BATCH_TOO_LARGE",
    /// a body over `MAX_BODY_BYTES` (HTTP 413)
    PayloadTooLarge = "PAYLOAD_TOO_LARGE",
    /// a POST that is not `application/json` (HTTP 415)
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE",
    /// the server takes no more of this now (HTTP 503 with `Retry-After`); retry shortly
    Overloaded = "OVERLOADED",
    /// the work took longer than `REQUEST_TIMEOUT_MS` (HTTP 503)
    RequestTimeout = "REQUEST_TIMEOUT",
    /// the body took longer than `REQUEST_TIMEOUT_MS` to arrive (HTTP 408)
    BodyTimeout = "BODY_TIMEOUT",
    /// not a method the route takes (HTTP 405), also a mutation sent by GET (405 with
    /// `Allow: POST`; nothing runs)
    MethodNotAllowed = "METHOD_NOT_ALLOWED",
    /// `Accept` takes neither `application/graphql-response+json` nor `application/json`
    /// (HTTP 406)
    NotAcceptable = "NOT_ACCEPTABLE",
    /// a bug; the details are in the server log, never in the answer
    InternalServerError = "INTERNAL_SERVER_ERROR",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The README's table of codes (`favorites-api print-error-codes`).
pub fn markdown_table() -> String {
    let mut table = String::from("| code | when |\n|---|---|\n");
    for code in ErrorCode::ALL {
        let when = code.when().split_whitespace().collect::<Vec<_>>().join(" ");
        table.push_str(&format!("| `{code}` | {when} |\n"));
    }
    table
}

/// The TypeScript SDK's list of codes (`sdk/typescript/src/error-codes.ts`).
pub fn typescript_list() -> String {
    let mut text = String::from(
        "// Generated by `favorites-api print-error-codes --typescript` from src/domain/code.rs.\n\
         // Do not edit: a test fails when it drifts.\n\n\
         /**\n * Every `extensions.code` the server sends (README \"Errors\"). Kept as a runtime \
         list so an\n * unrecognised code can be told apart from a known one.\n */\n\
         export const ERROR_CODES = [\n",
    );
    for code in ErrorCode::ALL {
        text.push_str(&format!("  '{code}',\n"));
    }
    text.push_str("] as const;\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_itself_and_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert!(seen.insert(code.as_str()), "{code} twice");
        }
        assert_eq!(ErrorCode::parse("NO_SUCH_CODE"), None);
    }

    /// The README's table is generated; print it with `cargo run -- print-error-codes`.
    #[test]
    fn the_readme_lists_every_code() {
        let readme = include_str!("../../README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's table of error codes is out of date; replace it with the output of \
             `cargo run -- print-error-codes`:\n{table}"
        );
    }

    /// The SDK's list is generated; write it with
    /// `cargo run -- print-error-codes --typescript > sdk/typescript/src/error-codes.ts`.
    #[test]
    fn the_sdk_lists_every_code() {
        let committed = include_str!("../../sdk/typescript/src/error-codes.ts");
        assert_eq!(
            committed,
            typescript_list(),
            "sdk/typescript/src/error-codes.ts is out of date; regenerate it with \
             `cargo run -- print-error-codes --typescript > sdk/typescript/src/error-codes.ts`"
        );
    }
}
