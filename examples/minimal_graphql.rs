//! Baseline for `bench/run`: the smallest async-graphql server worth comparing the real one
//! with. One `Query` with `__typename` and `items` (5 items x 4 scalar fields, built per request),
//! no extensions, no middleware, no authentication, no data loaders: axum with
//! async-graphql-axum's `GraphQLRequest` and a JSON answer on `POST /graphql`, on the same
//! tokio runtime flavour and the same global allocator (mimalloc) as `src/main.rs`.
//!
//!   cargo run --release --example minimal_graphql -- 127.0.0.1:0
//!
//! The address comes from the first argument, else `LISTEN_ADDR`, else `127.0.0.1:0` (a free
//! port). Prints `listening <port>` once bound.

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
use async_graphql_axum::GraphQLRequest;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One catalog-like item: four scalar fields.
#[derive(SimpleObject)]
struct Item {
    id: i32,
    title: String,
    price: f64,
    image: String,
}

struct Query;

#[Object]
impl Query {
    /// Five items, made anew for every request (as a resolver that reads them would).
    async fn items(&self) -> Vec<Item> {
        (1..=5)
            .map(|id| Item {
                id,
                title: format!("Item {id}"),
                price: 9.5 * f64::from(id),
                image: format!("https://example.com/items/{id}.jpg"),
            })
            .collect()
    }
}

type MinimalSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Answered as `application/json`, as the real server answers a client that names no type
/// (async-graphql-axum's `GraphQLResponse` would say `application/graphql-response+json`).
async fn graphql(
    State(schema): State<MinimalSchema>,
    request: GraphQLRequest,
) -> Json<async_graphql::Response> {
    Json(schema.execute(request.into_inner()).await)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("LISTEN_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening {}", listener.local_addr()?.port());
    let app = Router::new()
        .route("/graphql", post(graphql))
        .with_state(schema);
    axum::serve(listener, app).await
}
