//! The pipeline every GraphQL operation goes through, over HTTP and WebSocket alike: the
//! persisted-query look-up, the document guard (our parse, with the checks async-graphql lacks),
//! the response cache, execution, then, only for an authenticated caller whose operation
//! validated, keeping its persisted document and counting it under its own name. Done here,
//! once per operation, rather than in async-graphql extensions, which wrap every field.

use std::any::TypeId;
use std::sync::Arc;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use async_graphql::{BatchRequest, Data, Executor, Request, Response, ServerError};
use tokio::time::Instant;
use tracing::Instrument;

use super::super::{AppSchema, SchemaOptions};
use super::answer_shape::AnswerShape;
use super::documents::ParsedDocuments;
use super::error::{code_of, refusal};
use super::extensions::AnswerExtensions;
use super::operation;
use super::outcome::{Answer, Outcome};
use super::persisted_queries::{PersistedQueries, Registration};
use super::response_cache::{Key, ResponseCache};
use crate::domain::ErrorCode;
use crate::service::{Services, Session};
use crate::telemetry::{Metrics, OperationLabel, traces};

#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

struct Inner {
    schema: AppSchema,
    persisted: Option<PersistedQueries>,
    responses: Option<Arc<ResponseCache>>,
    metrics: Metrics,
    documents: ParsedDocuments,
    shape: AnswerShape,
}

/// In a request's data: it came by GET, so only a query may run.
#[derive(Clone, Copy, Debug)]
pub struct ReadOnly;

/// What the guard found out about a document before it runs.
struct Prepared {
    registration: Option<Registration>,
    name: Option<String>,
    is_query: bool,
}

impl Api {
    pub fn new(
        schema: AppSchema,
        options: SchemaOptions,
        metrics: Metrics,
        services: &Services,
    ) -> Self {
        let responses =
            ResponseCache::new(options.response_cache_max_bytes, metrics.response_cache())
                .map(Arc::new);
        if let Some(cache) = &responses {
            let cache = Arc::clone(cache);
            services.watch_changes(move |stale| cache.invalidate(&stale));
        }
        let shape = AnswerShape::new(&schema);
        Self {
            inner: Arc::new(Inner {
                schema,
                persisted: (options.persisted_queries_max_bytes > 0)
                    .then(|| PersistedQueries::new(options.persisted_queries_max_bytes)),
                responses,
                metrics,
                documents: ParsedDocuments::new(options.introspection),
                shape,
            }),
        }
    }

    /// Every operation of a request, one after the other (as async-graphql runs a batch).
    pub async fn answer(&self, request: BatchRequest) -> Answer {
        match request {
            BatchRequest::Single(request) => Answer::Single(self.outcome(request).await),
            BatchRequest::Batch(requests) => {
                let mut outcomes = Vec::with_capacity(requests.len());
                for request in requests {
                    outcomes.push(self.outcome(request).await);
                }
                Answer::Batch(outcomes)
            }
        }
    }

    async fn outcome(&self, request: Request) -> Outcome {
        if !traces::enabled() {
            return self.run(request, &tracing::Span::none()).await;
        }
        let span = self.operation_span(&request);
        self.run(request, &span).instrument(span.clone()).await
    }

    async fn run(&self, mut request: Request, span: &tracing::Span) -> Outcome {
        let started = Instant::now();
        // A log of reads of its own for this operation (a batch shares the caller's session).
        let session = session_of(&request.data).map(Session::for_operation);
        let authenticated = session.as_ref().is_some_and(is_authenticated);
        let prepared = match self.prepare(&mut request) {
            Ok(prepared) => prepared,
            Err(error) => {
                let response = Response::from_errors(vec![error.clone()]);
                self.count(OperationLabel::Invalid, started, &response);
                return Outcome::refused(error);
            }
        };
        describe(span, &prepared);
        if !prepared.is_query && request.data.contains_key(&TypeId::of::<ReadOnly>()) {
            let error = refusal(
                ErrorCode::MethodNotAllowed,
                "only queries may run over GET; POST mutations",
            );
            let response = Response::from_errors(vec![error]);
            self.count(OperationLabel::Invalid, started, &response);
            return Outcome::NotAQuery(response);
        }
        let cached = self.cache_key(&request, &prepared, session.as_ref());
        if let Some((cache, key)) = &cached
            && let Some(hit) = cache.get(key)
        {
            let label = label(authenticated, true, prepared.name.as_deref());
            self.count(label, started, &Response::default());
            return Outcome::Kept(hit);
        }
        let ticket = cached.as_ref().map(|(cache, _)| cache.ticket());
        let query = request.query.clone();
        let operation_name = request.operation_name.clone();
        if let Some(session) = &session {
            request.data.insert(session.clone());
        }
        let extensions = (!prepared.is_query).then(AnswerExtensions::default);
        if let Some(extensions) = &extensions {
            request.data.insert(extensions.clone());
        }
        let mut response = self.inner.schema.execute(request).await;
        if let Some(extensions) = extensions {
            extensions.move_into(&mut response);
        }
        let refused = self.inner.shape.finish(
            &mut response,
            || self.inner.documents.get(&query).ok(),
            operation_name.as_deref(),
        );
        let valid = !matches!(
            refused,
            Some(ErrorCode::GraphqlParseFailed | ErrorCode::GraphqlValidationFailed)
        );
        let label = label(authenticated, valid, prepared.name.as_deref());
        if let (OperationLabel::Named(_) | OperationLabel::Unnamed, Some(registration)) =
            (&label, prepared.registration)
            && let Some(persisted) = &self.inner.persisted
        {
            persisted.register(registration, &query);
        }
        let kept = match (cached, ticket, &session) {
            (Some((cache, key)), Some(ticket), Some(session)) => {
                cache.keep(key, ticket, &response, session.take_reads())
            }
            _ => None,
        };
        self.count(label, started, &response);
        if !response.errors.is_empty() {
            span.record("otel.status_code", "ERROR");
            span.record("graphql.errors", response.errors.len());
        }
        match (refused, kept) {
            (Some(code), _) => Outcome::Refused { code, response },
            (None, Some(kept)) => Outcome::Kept(kept),
            (None, None) => Outcome::Ran(response),
        }
    }

    /// The operation's span, named after what the document asks for (a span's name is fixed
    /// once it starts); never its variables. A persisted query's hash alone is named later,
    /// by its attributes only.
    fn operation_span(&self, request: &Request) -> tracing::Span {
        let described = self
            .inner
            .documents
            .get(&request.query)
            .ok()
            .map(|document| {
                let kind = if operation::is_query(request, &document) {
                    "query"
                } else {
                    "mutation"
                };
                (kind, operation::name(request, &document))
            });
        let name = match &described {
            Some((kind, Some(name))) => format!("{kind} {name}"),
            Some((kind, None)) => (*kind).to_owned(),
            None => "graphql".to_owned(),
        };
        tracing::info_span!(
            "graphql",
            otel.name = name,
            graphql.operation.type = tracing::field::Empty,
            graphql.operation.name = tracing::field::Empty,
            graphql.errors = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    }

    /// Fills in a persisted query, checks and parses the document (handing the parse to
    /// async-graphql).
    fn prepare(&self, request: &mut Request) -> Result<Prepared, ServerError> {
        let registration = match &self.inner.persisted {
            Some(persisted) => persisted.resolve(request)?,
            None => None,
        };
        let document = self.inner.documents.get(&request.query)?;
        operation::check_variables(request, &document)?;
        let name = operation::name(request, &document);
        let is_query = operation::is_query(request, &document);
        request.set_parsed_query(document);
        Ok(Prepared {
            registration,
            name,
            is_query,
        })
    }

    /// Where a query's answer is kept, if it may be: the cache is on, the caller has a token.
    fn cache_key(
        &self,
        request: &Request,
        prepared: &Prepared,
        session: Option<&Session>,
    ) -> Option<(Arc<ResponseCache>, Key)> {
        let cache = self.inner.responses.as_ref()?;
        if !prepared.is_query {
            return None;
        }
        let key = ResponseCache::key(
            &request.query,
            request.operation_name.as_deref(),
            &request.variables,
            session?.caller(),
        )?;
        Some((Arc::clone(cache), key))
    }

    fn count(&self, label: OperationLabel<'_>, started: Instant, response: &Response) {
        self.inner.metrics.graphql_operation(
            label,
            started.elapsed(),
            response.errors.iter().filter_map(code_of),
        );
    }
}

/// For the WebSocket transport, which async-graphql drives.
impl Executor for Api {
    async fn execute(&self, request: Request) -> Response {
        self.outcome(request).await.into_response()
    }

    /// Subscriptions: the same guard, counted once when they start.
    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let started = Instant::now();
        let document = match self.inner.documents.get(&request.query) {
            Ok(document) => document,
            Err(error) => {
                let response = Response::from_errors(vec![error]);
                self.count(OperationLabel::Invalid, started, &response);
                return stream::once(async move { response }).boxed();
            }
        };
        if let Err(error) = operation::check_variables(&request, &document) {
            let response = Response::from_errors(vec![error]);
            self.count(OperationLabel::Invalid, started, &response);
            return stream::once(async move { response }).boxed();
        }
        let name = operation::name(&request, &document);
        let operation_name = request.operation_name.clone();
        // Each event is shaped as an answer is; the document is the subscription's for its life.
        let kept = document.clone();
        request.set_parsed_query(document);
        let authenticated = session_data
            .as_deref()
            .and_then(session_of)
            .is_some_and(is_authenticated);
        self.count(
            label(authenticated, true, name.as_deref()),
            started,
            &Response::default(),
        );
        let inner = Arc::clone(&self.inner);
        self.inner
            .schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .map(move |mut response| {
                inner.shape.finish(
                    &mut response,
                    || Some(kept.clone()),
                    operation_name.as_deref(),
                );
                response
            })
            .boxed()
    }
}

/// Describes the operation in its span's attributes.
fn describe(span: &tracing::Span, prepared: &Prepared) {
    if span.is_disabled() {
        return;
    }
    let kind = if prepared.is_query {
        "query"
    } else {
        "mutation"
    };
    span.record("graphql.operation.type", kind);
    if let Some(name) = &prepared.name {
        span.record("graphql.operation.name", name.as_str());
    }
}

fn session_of(data: &Data) -> Option<&Session> {
    data.get(&TypeId::of::<Session>())
        .and_then(|session| session.downcast_ref::<Session>())
}

/// Whether the session belongs to a caller with a valid token.
fn is_authenticated(session: &Session) -> bool {
    session.caller().token_expires_at().is_some()
}

/// Only an authenticated caller's valid operation is counted under the name it chose: anyone
/// else could fill the label set with names of their own.
fn label(authenticated: bool, valid: bool, name: Option<&str>) -> OperationLabel<'_> {
    match (authenticated, valid, name) {
        (false, _, _) => OperationLabel::Unauthenticated,
        (true, false, _) => OperationLabel::Invalid,
        (true, true, Some(name)) => OperationLabel::Named(name),
        (true, true, None) => OperationLabel::Unnamed,
    }
}
