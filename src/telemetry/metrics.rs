//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format.
//!
//! One registry per application rather than a process-wide recorder: several apps in one
//! process (the test suite) each count only their own traffic.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::catalog_metrics::CatalogMetrics;
use super::change_metrics::ChangeFeedMetrics;
use crate::domain::ErrorCode;

/// Operation names come from callers (authenticated ones only): past this many distinct names,
/// new ones count as `other`, so a caller cannot grow the label set without bound.
const MAX_OPERATION_NAMES: usize = 200;
const MAX_OPERATION_NAME_LEN: usize = 64;

/// Seconds; from well under a millisecond (a cached read) to the request timeout.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What an operation is counted as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationLabel<'a> {
    /// An authenticated caller's valid operation, by the name it chose.
    Named(&'a str),
    /// An authenticated caller's valid operation without a name.
    Unnamed,
    /// A caller without a valid token (whatever name it chose).
    Unauthenticated,
    /// A document that did not parse or validate.
    Invalid,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// The response cache's counters; the cache owns a copy, the registry reads them.
#[derive(Clone, Debug, Default)]
pub struct ResponseCacheMetrics {
    pub hits: Counter,
    pub misses: Counter,
    /// Answers dropped because what they read changed (not for room or age).
    pub invalidations: Counter,
}

#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    response_cache: ResponseCacheMetrics,
    graphql_requests: Family<OperationLabels, Counter>,
    graphql_duration: Family<OperationLabels, Histogram>,
    graphql_errors: Family<CodeLabels, Counter>,
    http_responses: Family<StatusLabels, Counter>,
    db_pool_connections: Family<PoolLabels, Gauge>,
    breaker_open: Gauge,
    requests_working: Gauge,
    requests_parked: Gauge,
    requests_in_flight: Gauge,
    operation_names: Mutex<HashSet<String>>,
}

/// Numbers read when scraped rather than counted as they happen.
pub struct Snapshot {
    pub pool_in_use: i64,
    pub pool_idle: i64,
    pub breaker_open: bool,
    /// Admission control: API requests holding a slot for work, under way and waiting for
    /// one, and admitted in all.
    pub requests_working: usize,
    pub requests_parked: usize,
    pub requests_in_flight: usize,
}

impl Metrics {
    /// `statements` counts the requests' SQL statements, `background` those of the change feed
    /// and upkeep; `catalog` and `changes` are the catalog's and the change feed's numbers.
    pub fn new(
        statements: Counter,
        background: Counter,
        catalog: &CatalogMetrics,
        changes: &ChangeFeedMetrics,
    ) -> Self {
        let mut registry = Registry::default();
        let graphql_requests = Family::<OperationLabels, Counter>::default();
        let graphql_duration =
            Family::<OperationLabels, Histogram>::new_with_constructor(new_latency_histogram as _);
        let graphql_errors = Family::<CodeLabels, Counter>::default();
        let http_responses = Family::<StatusLabels, Counter>::default();
        let db_pool_connections = Family::<PoolLabels, Gauge>::default();
        let breaker_open = Gauge::default();
        let requests_working = Gauge::default();
        let requests_parked = Gauge::default();
        let requests_in_flight = Gauge::default();
        registry.register(
            "graphql_requests",
            "GraphQL operations executed, by operation name (batch items count one each)",
            graphql_requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "Time to answer a GraphQL operation, by operation name",
            graphql_duration.clone(),
        );
        registry.register(
            "graphql_errors",
            "Errors in GraphQL answers, by extensions.code",
            graphql_errors.clone(),
        );
        registry.register(
            "http_responses",
            "HTTP responses by status, refusals before GraphQL included",
            http_responses.clone(),
        );
        registry.register(
            "db_statements",
            "SQL statements sent to the database",
            statements,
        );
        registry.register(
            "db_background_statements",
            "SQL statements of the change feed and upkeep (not of requests)",
            background,
        );
        registry.register(
            "db_pool_connections",
            "Database connections by state (in_use, idle)",
            db_pool_connections.clone(),
        );
        catalog.register(&mut registry);
        changes.register(&mut registry);
        let response_cache = ResponseCacheMetrics::default();
        registry.register(
            "response_cache_hits",
            "Queries answered from the response cache",
            response_cache.hits.clone(),
        );
        registry.register(
            "response_cache_misses",
            "Cacheable queries the response cache had no answer for",
            response_cache.misses.clone(),
        );
        registry.register(
            "response_cache_invalidations",
            "Cached answers dropped because what they read changed",
            response_cache.invalidations.clone(),
        );
        registry.register(
            "catalog_breaker_open",
            "1 while the catalog's circuit breaker keeps calls away, else 0",
            breaker_open.clone(),
        );
        registry.register(
            "http_requests_working",
            "API requests holding a slot for work: running or ready to run (at most MAX_CONCURRENT_REQUESTS)",
            requests_working.clone(),
        );
        registry.register(
            "http_requests_parked",
            "API requests under way, ready to run again, waiting for a slot for work",
            requests_parked.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "API requests admitted and not yet answered, those waiting on the network included (bound: MAX_IN_FLIGHT_REQUESTS)",
            requests_in_flight.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                response_cache,
                graphql_requests,
                graphql_duration,
                graphql_errors,
                http_responses,
                db_pool_connections,
                breaker_open,
                requests_working,
                requests_parked,
                requests_in_flight,
                operation_names: Mutex::new(HashSet::new()),
            }),
        }
    }

    pub fn response_cache(&self) -> ResponseCacheMetrics {
        self.inner.response_cache.clone()
    }

    /// Records one answered GraphQL operation and the codes of its errors.
    pub fn graphql_operation(
        &self,
        operation: OperationLabel<'_>,
        elapsed: Duration,
        error_codes: impl Iterator<Item = ErrorCode>,
    ) {
        let labels = OperationLabels {
            operation: self.operation_label(operation),
        };
        self.inner.graphql_requests.get_or_create(&labels).inc();
        self.inner
            .graphql_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        for code in error_codes {
            self.graphql_error(code);
        }
    }

    /// An error code, also for refusals made before GraphQL ran.
    pub fn graphql_error(&self, code: ErrorCode) {
        self.inner
            .graphql_errors
            .get_or_create(&CodeLabels {
                code: code.as_str(),
            })
            .inc();
    }

    pub fn http_response(&self, status: u16) {
        self.inner
            .http_responses
            .get_or_create(&StatusLabels { status })
            .inc();
    }

    /// The OpenMetrics text, with the read-on-scrape numbers brought up to date.
    pub fn render(&self, snapshot: Snapshot) -> String {
        let pool = &self.inner.db_pool_connections;
        pool.get_or_create(&PoolLabels { state: "in_use" })
            .set(snapshot.pool_in_use);
        pool.get_or_create(&PoolLabels { state: "idle" })
            .set(snapshot.pool_idle);
        self.inner
            .breaker_open
            .set(i64::from(snapshot.breaker_open));
        self.inner
            .requests_working
            .set(i64::try_from(snapshot.requests_working).unwrap_or(i64::MAX));
        self.inner
            .requests_parked
            .set(i64::try_from(snapshot.requests_parked).unwrap_or(i64::MAX));
        self.inner
            .requests_in_flight
            .set(i64::try_from(snapshot.requests_in_flight).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.inner.registry);
        text
    }

    fn operation_label(&self, operation: OperationLabel<'_>) -> String {
        let name = match operation {
            OperationLabel::Named(name) => name,
            OperationLabel::Unnamed => return "anonymous".to_owned(),
            OperationLabel::Unauthenticated => return "unauthenticated".to_owned(),
            OperationLabel::Invalid => return "invalid".to_owned(),
        };
        if name.len() > MAX_OPERATION_NAME_LEN {
            return "other".to_owned();
        }
        let mut names = crate::sync::lock(&self.inner.operation_names);
        if names.contains(name) {
            return name.to_owned();
        }
        if names.len() < MAX_OPERATION_NAMES {
            names.insert(name.to_owned());
            return name.to_owned();
        }
        "other".to_owned()
    }
}

fn new_latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded() {
        let metrics = Metrics::new(
            Counter::default(),
            Counter::default(),
            &CatalogMetrics::default(),
            &ChangeFeedMetrics::default(),
        );
        for index in 0..MAX_OPERATION_NAMES + 10 {
            metrics.graphql_operation(
                OperationLabel::Named(&format!("Op{index}")),
                Duration::from_millis(1),
                std::iter::empty(),
            );
        }
        metrics.graphql_operation(
            OperationLabel::Named("Op0"),
            Duration::from_millis(1),
            std::iter::empty(),
        );
        let text = metrics.render(Snapshot {
            pool_in_use: 0,
            pool_idle: 1,
            breaker_open: false,
            requests_working: 0,
            requests_parked: 0,
            requests_in_flight: 0,
        });
        assert!(
            text.contains("graphql_requests_total{operation=\"Op0\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("graphql_requests_total{operation=\"other\"} 10"),
            "{text}"
        );
    }
}
