use serde_json::{Value, json};

use crate::support::app::{TestApp, each_backend, error_codes};

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
  clients(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
    nodes { email }
  }
}";

async fn seed(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            app.create_client(&format!("Client {i}"), &format!("c{i}@example.com"))
                .await,
        );
    }
    ids
}

fn ids_of(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn clients_page_forward_and_backward_in_creation_order() {
    each_backend(|app| async move {
        let ids = seed(&app, 25).await;

        let first = app.data(PAGE, json!({})).await["clients"].clone();
        assert_eq!(first["totalCount"], 25);
        assert_eq!(
            ids_of(&first),
            ids[..20],
            "default page size is 20, in creation order"
        );
        assert_eq!(first["nodes"][0]["email"], "c0@example.com");
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
        assert_eq!(
            first["pageInfo"]["startCursor"],
            first["edges"][0]["cursor"]
        );

        let second = app
            .data(
                PAGE,
                json!({ "first": 10, "after": first["pageInfo"]["endCursor"] }),
            )
            .await["clients"]
            .clone();
        assert_eq!(ids_of(&second), ids[20..]);
        assert_eq!(second["pageInfo"]["hasNextPage"], false);
        assert_eq!(second["pageInfo"]["hasPreviousPage"], true);

        let last = app.data(PAGE, json!({ "last": 5 })).await["clients"].clone();
        assert_eq!(ids_of(&last), ids[20..]);
        assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
        assert_eq!(last["pageInfo"]["hasNextPage"], false);

        let before = app
            .data(
                PAGE,
                json!({ "last": 3, "before": last["pageInfo"]["startCursor"] }),
            )
            .await["clients"]
            .clone();
        assert_eq!(ids_of(&before), ids[17..20]);
        assert_eq!(before["pageInfo"]["hasNextPage"], true);
        assert_eq!(before["pageInfo"]["hasPreviousPage"], true);
    })
    .await;
}

#[tokio::test]
async fn page_arguments_are_validated() {
    each_backend(|app| async move {
        seed(&app, 2).await;
        for variables in [
            json!({ "first": 0 }),
            json!({ "first": -1 }),
            json!({ "first": 101 }),
            json!({ "last": 0 }),
            json!({ "last": 101 }),
            json!({ "after": "garbage" }),
            json!({ "before": "Y2xpZW50Om5vcGU" }),
            json!({ "first": 5, "last": 5 }),
        ] {
            let body = app.graphql(PAGE, variables.clone()).await;
            assert_eq!(
                error_codes(&body),
                ["BAD_USER_INPUT"],
                "{variables}: {body}"
            );
        }
        let literal = app
            .graphql("{ clients(first: -1) { totalCount } }", json!({}))
            .await;
        assert_eq!(error_codes(&literal), ["BAD_USER_INPUT"]);
        let max = app.data(PAGE, json!({ "first": 100 })).await;
        assert_eq!(max["clients"]["edges"].as_array().unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn favorites_page_in_the_order_they_were_added() {
    each_backend(|app| async move {
        let id = seed(&app, 1).await.remove(0);
        for product in [5, 3, 9, 1] {
            app.add_favorite(&id, product).await;
        }
        let query = "query($id: UUID!, $first: Int, $after: String) { client(id: $id) { favorites(first: $first, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } nodes { productId addedAt } } } }";
        let first = app.data(query, json!({ "id": id, "first": 3 })).await["client"]["favorites"].clone();
        assert_eq!(first["totalCount"], 4);
        let products: Vec<i64> = first["nodes"].as_array().unwrap().iter().map(|n| n["productId"].as_i64().unwrap()).collect();
        assert_eq!(products, [5, 3, 9]);
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        let rest = app
            .data(query, json!({ "id": id, "first": 3, "after": first["pageInfo"]["endCursor"] }))
            .await["client"]["favorites"]
            .clone();
        assert_eq!(rest["nodes"][0]["productId"], 1);
        assert_eq!(rest["pageInfo"]["hasNextPage"], false);
        assert_eq!(rest["pageInfo"]["hasPreviousPage"], true);

        for variables in [json!({ "id": id, "first": 0 }), json!({ "id": id, "after": "bad" })] {
            let body = app.graphql(query, variables).await;
            assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        }
    })
    .await;
}
