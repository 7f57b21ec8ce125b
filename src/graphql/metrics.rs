//! Counts each GraphQL operation, its latency and its errors' codes for `/metrics`.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::{Request, Response, ServerResult, Variables};
use tokio::time::Instant;

use crate::telemetry::Metrics;

/// Registered first, so that it wraps the others and sees errors with their final codes.
pub struct OperationMetrics(pub Metrics);

impl ExtensionFactory for OperationMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationMetricsExtension {
            metrics: self.0.clone(),
            operation: Mutex::new(None),
        })
    }
}

struct OperationMetricsExtension {
    metrics: Metrics,
    /// The name the caller chose, or the document's only operation's name.
    operation: Mutex<Option<String>>,
}

impl OperationMetricsExtension {
    fn operation(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.operation
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[async_trait::async_trait]
impl Extension for OperationMetricsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let operation = self.operation().take();
        self.metrics.graphql_operation(
            operation.as_deref(),
            started.elapsed(),
            response.errors.iter().filter_map(|error| {
                match error.extensions.as_ref()?.get("code")? {
                    async_graphql::Value::String(code) => Some(code.as_str()),
                    _ => None,
                }
            }),
        );
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.operation().clone_from(&request.operation_name);
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let DocumentOperations::Multiple(operations) = &document.operations
            && operations.len() == 1
        {
            let mut operation = self.operation();
            if operation.is_none() {
                *operation = operations.keys().next().map(|name| name.to_string());
            }
        }
        Ok(document)
    }
}
