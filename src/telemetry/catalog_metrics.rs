//! The catalog's counters: the catalog owns a copy and bumps them, the registry reads them.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum UpstreamOutcome {
    Found,
    NotFound,
    Failed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    outcome: UpstreamOutcome,
}

/// The catalog's counters; the catalog owns a copy and bumps them, the registry reads them.
#[derive(Clone, Debug, Default)]
pub struct CatalogMetrics {
    upstream_calls: Family<UpstreamLabels, Counter>,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub stale_serves: Counter,
    /// The shared cache (Redis): fresh copies found there, look-ups that found none (and so
    /// went on to the upstream, or waited for another instance's call), failed commands, and
    /// waits on another instance's call.
    pub shared_cache_hits: Counter,
    pub shared_cache_misses: Counter,
    pub shared_cache_errors: Counter,
    pub shared_lock_waits: Counter,
}

impl CatalogMetrics {
    /// Registers the counters, each under its name and help text.
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "catalog_upstream_calls",
            "Calls to the product catalog, by outcome",
            self.upstream_calls.clone(),
        );
        let counters = [
            (
                "catalog_cache_hits",
                "Product look-ups answered by the cache",
                &self.cache_hits,
            ),
            (
                "catalog_cache_misses",
                "Product look-ups the cache could not answer",
                &self.cache_misses,
            ),
            (
                "catalog_stale_serves",
                "Times a failing catalog was covered by an expired copy",
                &self.stale_serves,
            ),
            (
                "catalog_shared_cache_hits",
                "Fresh product copies found in the shared cache (Redis)",
                &self.shared_cache_hits,
            ),
            (
                "catalog_shared_cache_misses",
                "Look-ups the shared cache (Redis) had no fresh copy for",
                &self.shared_cache_misses,
            ),
            (
                "catalog_shared_cache_errors",
                "Shared cache (Redis) commands that failed or timed out",
                &self.shared_cache_errors,
            ),
            (
                "catalog_shared_lock_waits",
                "Times an instance waited for another instance's catalog call",
                &self.shared_lock_waits,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
    }

    pub fn upstream_call(&self, outcome: UpstreamOutcome) {
        self.upstream_calls
            .get_or_create(&UpstreamLabels { outcome })
            .inc();
    }
}
