//! Counters read from an instance's `GET /metrics`, as Prometheus would scrape them.

use crate::support::app::TestApp;

/// The value of the unlabelled series `name` (e.g. `catalog_stale_serves_total`), if `app`'s
/// `/metrics` shows it.
pub async fn try_metric(app: &TestApp, name: &str) -> Option<u64> {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    value(&text, name)
}

/// The value of the unlabelled series `name`; fails when `/metrics` does not show it.
pub async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    value(&text, name).unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// The response cache's hits so far (none until `response_cache_hits_total` shows up).
pub async fn response_cache_hits(app: &TestApp) -> u64 {
    try_metric(app, "response_cache_hits_total")
        .await
        .unwrap_or(0)
}

fn value(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
}
