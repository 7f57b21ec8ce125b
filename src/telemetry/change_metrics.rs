//! The change feed's numbers: the feed owns a copy and records them, the registry reads them.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Seconds from a change's write to this instance reading it from the log.
const DELAY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Clone, Debug)]
pub struct ChangeFeedMetrics {
    /// Rows read from the change log (each once per instance).
    pub read: Counter,
    /// Late commits: rows read after rows numbered above them.
    pub late: Counter,
    /// Times the feed had to say "changes may have been missed" (everything cached dropped).
    pub missed: Counter,
    /// Failed reads of the log (each retried from the same place).
    pub read_errors: Counter,
    pub delay: Histogram,
}

impl Default for ChangeFeedMetrics {
    fn default() -> Self {
        Self {
            read: Counter::default(),
            late: Counter::default(),
            missed: Counter::default(),
            read_errors: Counter::default(),
            delay: Histogram::new(DELAY_BUCKETS),
        }
    }
}

impl ChangeFeedMetrics {
    pub(super) fn register(&self, registry: &mut Registry) {
        let counters = [
            (
                "change_log_rows_read",
                "Change-log rows this instance read",
                &self.read,
            ),
            (
                "change_log_late_rows",
                "Change-log rows that committed after rows numbered above them",
                &self.late,
            ),
            (
                "change_log_missed",
                "Times changes may have been missed, so every cached answer was dropped",
                &self.missed,
            ),
            (
                "change_log_read_errors",
                "Failed reads of the change log, each retried from the same place",
                &self.read_errors,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "change_log_delay_seconds",
            "Time from a change's write (any instance's clock) to this instance reading it",
            self.delay.clone(),
        );
    }
}
