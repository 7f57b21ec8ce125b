//! The GraphiQL page. Its scripts come from a CDN by default; with `GRAPHIQL_ASSETS_DIR` (filled
//! by `scripts/graphiql-assets`) we serve them ourselves, so that the page works on a closed
//! network and no request leaves the machine: exactly the four files, read once at start (a
//! regular file each, not a link), and nothing else from that folder. Either way the page is
//! ours: it opens the headers editor with an `Authorization` line ready for the token, offers the
//! demo login only while the demo password is in use, and keeps nothing in the browser's storage.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::config::Settings;

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
const DEMO_LOGIN_PLACEHOLDER: &str = "{{DEMO_LOGIN}}";
const ASSETS_ROUTE: &str = "/graphiql/assets";

#[derive(Debug, thiserror::Error)]
#[error(
    "GRAPHIQL_ASSETS_DIR {dir}: {file} {problem}; run `scripts/graphiql-assets {dir}` to install GraphiQL's files there"
)]
pub struct MissingAssets {
    dir: String,
    file: &'static str,
    problem: String,
}

/// The page, rendered once, with the policy that lets it load only what it needs, and the
/// local assets if any.
#[derive(Clone)]
pub struct GraphiqlPage {
    html: Arc<str>,
    content_security_policy: HeaderValue,
    assets: Option<Arc<[Bytes; 4]>>,
}

impl GraphiqlPage {
    /// `GRAPHIQL_ASSETS_DIR`, and the demo login while the demo password is the admin's.
    pub fn from_settings(settings: &Settings) -> Result<Self, MissingAssets> {
        Self::new(
            settings.graphiql_assets_dir.as_deref(),
            settings.uses_demo_password(),
        )
    }

    /// `demo_login`: open on `issueToken` with the demo credentials filled in (only while the
    /// demo password is the admin's).
    pub fn new(assets_dir: Option<&Path>, demo_login: bool) -> Result<Self, MissingAssets> {
        let assets = assets_dir.map(read_assets).transpose()?;
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
            })
            .replace(
                DEMO_LOGIN_PLACEHOLDER,
                if demo_login { "true" } else { "false" },
            );
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
            assets: assets.map(Arc::new),
        })
    }

    /// `/graphiql/app.js`, and each of the four assets when they are local.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let mut router = Router::new().route("/graphiql/app.js", get(app_js));
        if let Some(assets) = &self.assets {
            for (index, file) in ASSET_FILES.iter().enumerate() {
                let assets = Arc::clone(assets);
                router = router.route(
                    &format!("{ASSETS_ROUTE}/{file}"),
                    get(move || async move { asset(file, assets[index].clone()) }),
                );
            }
        }
        router
    }
}

/// The four files, each a regular file (a link could point anywhere).
fn read_assets(dir: &Path) -> Result<[Bytes; 4], MissingAssets> {
    let read = |file: &'static str| {
        let problem = |problem: String| MissingAssets {
            dir: dir.display().to_string(),
            file,
            problem,
        };
        let path = dir.join(file);
        let metadata =
            std::fs::symlink_metadata(&path).map_err(|_| problem("is missing".into()))?;
        if !metadata.file_type().is_file() {
            return Err(problem(
                "is not a regular file (a link, or a folder)".into(),
            ));
        }
        std::fs::read(&path)
            .map(Bytes::from)
            .map_err(|error| problem(format!("cannot be read: {error}")))
    };
    Ok([
        read(ASSET_FILES[0])?,
        read(ASSET_FILES[1])?,
        read(ASSET_FILES[2])?,
        read(ASSET_FILES[3])?,
    ])
}

fn asset(file: &str, bytes: Bytes) -> Response {
    let content_type = if file.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // The versions are pinned; a day is plenty, and an upgrade shows within it.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        bytes,
    )
        .into_response()
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
