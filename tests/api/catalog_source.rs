//! A second catalog source is one type implementing `ProductSource`: here a tiny one, in the
//! test's own code, that knows three products and counts the calls it gets. Everything above it
//! (the in-process cache, single flight, the breaker, stale-if-error, the loaders) is the same
//! stack FakeStoreAPI gets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use favorites_api::catalog::{CatalogError, Product, ProductSource};
use serde_json::json;

use crate::support::app::{Options, each_backend_with, error_codes};

#[derive(Default)]
struct ThreeBooks {
    calls: AtomicUsize,
    down: std::sync::atomic::AtomicBool,
}

fn book(id: i32) -> Product {
    Product {
        id,
        title: format!("Book {id}"),
        price: 10.0 * f64::from(id),
        description: "A book.".to_owned(),
        category: "books".to_owned(),
        image: format!("https://books.example/{id}.png"),
        rating: None,
    }
}

#[async_trait]
impl ProductSource for ThreeBooks {
    async fn product(&self, id: i32) -> Result<Option<Product>, CatalogError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(CatalogError::Status(503));
        }
        Ok((1..=3).contains(&id).then(|| book(id)))
    }

    async fn catalog(&self) -> Result<Vec<Product>, CatalogError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(CatalogError::Status(503));
        }
        Ok((1..=3).map(book).collect())
    }
}

#[tokio::test]
async fn another_source_serves_through_the_same_stack() {
    let books = Arc::new(ThreeBooks::default());
    let options = Options::default()
        .with("PRODUCT_CACHE_TTL_SECONDS", 1)
        .with_source(Arc::clone(&books) as Arc<dyn ProductSource>);
    each_backend_with(options, |app| {
        let books = Arc::clone(&books);
        async move {
            books.down.store(false, Ordering::SeqCst);
            let before = books.calls.load(Ordering::SeqCst);
            let all = app.data("{ products { id title } }", json!({})).await;
            assert_eq!(all["products"].as_array().map(Vec::len), Some(3));
            let ana = app.create_client("Ana", "ana@example.com").await;
            app.add_favorite(&ana, 2).await;
            let unknown = app.add_favorite(&ana, 9).await;
            assert_eq!(error_codes(&unknown), ["PRODUCT_NOT_FOUND"]);
            let list = app
                .data(
                    "query($c: UUID!) { client(id: $c) { favorites { nodes { product { title price } } } } }",
                    json!({ "c": ana }),
                )
                .await;
            assert_eq!(list["client"]["favorites"]["nodes"][0]["product"]["title"], "Book 2");
            // The catalog and product 2 were asked once: the in-process tier answered the rest.
            assert_eq!(books.calls.load(Ordering::SeqCst) - before, 2, "one catalog, one unknown id");

            // Past the TTL and with the source down, the stale copy stands in.
            tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
            books.down.store(true, Ordering::SeqCst);
            let stale = app.data("{ product(id: 2) { title } }", json!({})).await;
            assert_eq!(stale["product"]["title"], "Book 2");
        }
    })
    .await;
}
