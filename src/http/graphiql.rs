//! The GraphiQL page. Its scripts come from a CDN by default; with `GRAPHIQL_ASSETS_DIR` (filled
//! by `scripts/graphiql-assets`) we serve them ourselves, so that the page works on a closed
//! network and no request leaves the machine. Either way the page is ours: it opens the headers
//! editor with an `Authorization` line ready for the token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::services::ServeDir;

/// The files `scripts/graphiql-assets` installs, in the order the page loads them.
pub const ASSET_FILES: [&str; 4] = [
    "graphiql.min.css",
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
];

/// The same files on a CDN, pinned to the versions `scripts/graphiql-assets.d` installs (the
/// page's integrity hashes hold for both). GraphiQL 4 is the last with a bundle that needs no
/// build step, and React 18 the last with one.
const CDN_URLS: [&str; 4] = [
    "https://cdn.jsdelivr.net/npm/graphiql@4.1.2/graphiql.min.css",
    "https://cdn.jsdelivr.net/npm/react@18.3.1/umd/react.production.min.js",
    "https://cdn.jsdelivr.net/npm/react-dom@18.3.1/umd/react-dom.production.min.js",
    "https://cdn.jsdelivr.net/npm/graphiql@4.1.2/graphiql.min.js",
];
const CDN_ORIGIN: &str = "https://cdn.jsdelivr.net";

const PAGE: &str = include_str!("graphiql/page.html");
const APP_JS: &str = include_str!("graphiql/app.js");
const PLACEHOLDERS: [&str; 4] = [
    "{{GRAPHIQL_CSS}}",
    "{{REACT_JS}}",
    "{{REACT_DOM_JS}}",
    "{{GRAPHIQL_JS}}",
];
const ASSETS_ROUTE: &str = "/graphiql/assets";

#[derive(Debug, thiserror::Error)]
#[error(
    "GRAPHIQL_ASSETS_DIR {dir} lacks {missing}: run `scripts/graphiql-assets {dir}` to install GraphiQL's files there"
)]
pub struct MissingAssets {
    dir: String,
    missing: &'static str,
}

/// The page, rendered once, with the policy that lets it load only what it needs.
#[derive(Clone)]
pub struct GraphiqlPage {
    html: Arc<str>,
    content_security_policy: HeaderValue,
    assets_dir: Option<PathBuf>,
}

impl GraphiqlPage {
    pub fn new(assets_dir: Option<&Path>) -> Result<Self, MissingAssets> {
        if let Some(dir) = assets_dir
            && let Some(missing) = ASSET_FILES.iter().find(|file| !dir.join(file).is_file())
        {
            return Err(MissingAssets {
                dir: dir.display().to_string(),
                missing,
            });
        }
        let urls: Vec<String> = match assets_dir {
            Some(_) => ASSET_FILES
                .iter()
                .map(|file| format!("{ASSETS_ROUTE}/{file}"))
                .collect(),
            None => CDN_URLS.iter().map(|url| (*url).to_owned()).collect(),
        };
        let html = PLACEHOLDERS
            .iter()
            .zip(&urls)
            .fold(PAGE.to_owned(), |html, (placeholder, url)| {
                html.replace(placeholder, url)
            });
        let remote = if assets_dir.is_some() { "" } else { CDN_ORIGIN };
        // GraphiQL's dialogs add a <style> element, hence `style-src-elem 'unsafe-inline'`;
        // its stylesheet embeds its fonts and images. Scripts and connections stay locked down.
        let policy = format!(
            "default-src 'none'; script-src 'self' {remote}; style-src 'self' {remote}; \
             style-src-elem 'self' 'unsafe-inline' {remote}; img-src data:; font-src data:; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        );
        Ok(Self {
            html: Arc::from(html),
            content_security_policy: HeaderValue::from_str(&policy)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'")),
            assets_dir: assets_dir.map(Path::to_path_buf),
        })
    }

    /// `/graphiql/app.js`, and `/graphiql/assets/*` when the assets are local.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let router = Router::new().route("/graphiql/app.js", get(app_js));
        match &self.assets_dir {
            Some(dir) => router.nest_service(ASSETS_ROUTE, ServeDir::new(dir)),
            None => router,
        }
    }
}

pub async fn page(State(page): State<GraphiqlPage>) -> Response {
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                page.content_security_policy.clone(),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Html(page.html.to_string()),
    )
        .into_response()
}

async fn app_js() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        APP_JS,
    )
        .into_response()
}
