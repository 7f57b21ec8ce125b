//! A client's list is bounded (`MAX_FAVORITES_PER_CLIENT`): one more is refused and writes
//! nothing, a favorite already there stays idempotent, and concurrent adds cannot overshoot.

use futures::future::join_all;
use serde_json::json;

use crate::helpers::{Options, each_backend_with, error_codes};

fn limit_of(limit: u32) -> Options {
    Options::default().with("MAX_FAVORITES_PER_CLIENT", limit)
}

#[tokio::test]
async fn a_full_list_refuses_one_more_and_stays_idempotent() {
    each_backend_with(limit_of(3), |app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        for product in 1..=3 {
            assert!(
                app.add_favorite(&ana, product)
                    .await
                    .get("errors")
                    .is_none()
            );
        }
        let rows = app.favorite_rows().await;
        let refs = app.product_refs().await;
        let full = app.add_favorite(&ana, 4).await;
        assert_eq!(error_codes(&full), ["FAVORITES_LIMIT_REACHED"], "{full}");
        assert_eq!(full["errors"][0]["extensions"]["limit"], 3);
        assert_eq!(app.favorite_rows().await, rows, "nothing written");
        assert_eq!(app.product_refs().await, refs, "nothing written");
        let again = app.add_favorite(&ana, 2).await;
        assert!(again.get("errors").is_none(), "one already there: {again}");
        app.remove_favorite(&ana, 1).await;
        let added = app.add_favorite(&ana, 4).await;
        assert_eq!(
            added["data"]["addFavorite"]["favorites"]["totalCount"], 3,
            "{added}"
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_adds_to_an_almost_full_list_add_one() {
    each_backend_with(limit_of(3), |app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        app.add_favorite(&ana, 1).await;
        app.add_favorite(&ana, 2).await;
        let adds = (3..=8).map(|product| {
            let (app, ana) = (app.clone(), ana.clone());
            async move { app.add_favorite(&ana, product).await }
        });
        let answers = join_all(adds).await;
        let added = answers
            .iter()
            .filter(|body| body.get("errors").is_none())
            .count();
        assert_eq!(added, 1, "{answers:?}");
        for body in answers.iter().filter(|body| body.get("errors").is_some()) {
            assert_eq!(error_codes(body), ["FAVORITES_LIMIT_REACHED"], "{body}");
        }
        let count = app
            .data(
                "query($c: UUID!) { client(id: $c) { favorites { totalCount } } }",
                json!({ "c": ana }),
            )
            .await;
        assert_eq!(count["client"]["favorites"]["totalCount"], 3);
    })
    .await;
}
