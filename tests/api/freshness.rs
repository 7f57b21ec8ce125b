//! No field serves a stale answer from the response cache: each field that reads data is read
//! twice (the second read must be a hit), then what it read is changed, then read again, and
//! the answer must have changed. The fields come from the schema itself, as the authorization
//! matrix's do: a field added later that reads data and has no row here fails
//! `every_field_that_reads_has_a_row`.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::app::{Options, TestApp, each_backend_with};
use crate::support::metrics::response_cache_hits;

/// What a row changes between its reads.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// The subject client gets a new name.
    Rename,
    /// The subject client moves to the address `$moved`.
    NewAddress,
    /// Another client is created.
    CreateClient,
    /// The subject client adds product 5 to their list.
    AddFavorite,
    /// The guest the row reads as adds product 5 to its own list.
    GuestAddsFavorite,
    /// The catalog gives product `id` a new title (and the product cache lets go of it).
    Retitle(i64),
    /// The subject client adds product 5, and the counts of lists are let go of.
    AddFavoriteAndRecount,
}

/// Whose token a row reads with.
#[derive(Clone, Copy, Debug)]
enum Caller {
    Admin,
    /// The subject client's own token.
    Subject,
    /// A guest's token, whose list holds product 3.
    Guest,
    /// No token: a share link of the subject's list is all it reads (`$share`).
    Anonymous,
}

/// One row: a field that reads data, a document that reads it (variables `$id`, `$email` and
/// `$moved` are the subject client's id, address and new address, `$share` the token of a share
/// link of the subject's list), and the change it must see.
struct Row {
    field: &'static str,
    document: &'static str,
    caller: Caller,
    change: Change,
}

const ROWS: &[Row] = &[
    Row {
        field: "Query.viewer",
        document: "{ viewer { name } }",
        caller: Caller::Subject,
        change: Change::Rename,
    },
    Row {
        field: "Query.client",
        document: "query($id: UUID!) { client(id: $id) { name updatedAt } }",
        caller: Caller::Admin,
        change: Change::Rename,
    },
    Row {
        field: "Query.clientByEmail",
        document: "query($email: String!) { clientByEmail(email: $email) { name } }",
        caller: Caller::Admin,
        change: Change::Rename,
    },
    Row {
        // Who has an address is the list's business: nobody had it before the move.
        field: "Query.clientByEmail",
        document: "query($moved: String!) { clientByEmail(email: $moved) { id } }",
        caller: Caller::Admin,
        change: Change::NewAddress,
    },
    Row {
        field: "Query.clients",
        document: "{ clients(last: 2) { edges { cursor node { email } } pageInfo { hasNextPage hasPreviousPage } } }",
        caller: Caller::Admin,
        change: Change::CreateClient,
    },
    Row {
        field: "Query.clients",
        document: "{ clients(first: 100) { nodes { name } } }",
        caller: Caller::Admin,
        change: Change::Rename,
    },
    Row {
        field: "ClientConnection.totalCount",
        document: "{ clients { totalCount } }",
        caller: Caller::Admin,
        change: Change::CreateClient,
    },
    Row {
        field: "Client.favorites",
        document: "query($id: UUID!) { client(id: $id) { favorites { totalCount edges { cursor node { productId addedAt } } } } }",
        caller: Caller::Admin,
        change: Change::AddFavorite,
    },
    Row {
        // The lists of a page of clients are loaded ahead with the page: another path.
        field: "Client.favorites",
        document: "{ clients(first: 20) { nodes { favorites(first: 5) { nodes { productId } } } } }",
        caller: Caller::Admin,
        change: Change::AddFavorite,
    },
    Row {
        field: "Query.myFavorites",
        document: "{ myFavorites { totalCount nodes { productId } } }",
        caller: Caller::Subject,
        change: Change::AddFavorite,
    },
    Row {
        field: "Query.myFavorites",
        document: "{ myFavorites { totalCount nodes { productId } } }",
        caller: Caller::Guest,
        change: Change::GuestAddsFavorite,
    },
    Row {
        field: "Query.product",
        document: "{ product(id: 2) { title rating { rate } } }",
        caller: Caller::Admin,
        change: Change::Retitle(2),
    },
    Row {
        field: "Query.products",
        document: "{ products { id title } }",
        caller: Caller::Admin,
        change: Change::Retitle(1),
    },
    Row {
        field: "Product.favoritesCount",
        document: "{ product(id: 5) { favoritesCount } }",
        caller: Caller::Subject,
        change: Change::AddFavoriteAndRecount,
    },
    Row {
        field: "Query.popularProducts",
        document: "{ popularProducts(first: 100) { productId favoritesCount } }",
        caller: Caller::Admin,
        change: Change::AddFavoriteAndRecount,
    },
    Row {
        field: "PopularProduct.product",
        document: "{ popularProducts(first: 100) { product { title } } }",
        caller: Caller::Admin,
        // Product 5 is in the lists of the rows above (3 is retitled by the next row).
        change: Change::Retitle(5),
    },
    Row {
        field: "Query.sharedFavorites",
        document: "query($share: String!) { sharedFavorites(token: $share) { ownerName } }",
        caller: Caller::Anonymous,
        change: Change::Rename,
    },
    Row {
        field: "SharedFavorites.favorites",
        document: "query($share: String!) { sharedFavorites(token: $share) { favorites { totalCount nodes { productId } } } }",
        caller: Caller::Anonymous,
        change: Change::AddFavorite,
    },
    Row {
        field: "Favorite.product",
        document: "{ viewer { favorites { nodes { product { title } } } } }",
        caller: Caller::Subject,
        change: Change::Retitle(3),
    },
];

/// Fields of an object type that only hand on what the field above them read (a page, an edge,
/// a product's rating): they read nothing of their own.
const PARTS: &[&str] = &[
    "ClientConnection.edges",
    "ClientConnection.nodes",
    "ClientConnection.pageInfo",
    "ClientEdge.node",
    "FavoriteConnection.edges",
    "FavoriteConnection.nodes",
    "FavoriteConnection.pageInfo",
    "FavoriteEdge.node",
    "Product.rating",
];

/// Leaves that load something of their own (a count query) rather than show what their
/// object holds; the schema cannot say which, so they are named here.
const LOADING_LEAVES: &[&str] = &["ClientConnection.totalCount", "Product.favoritesCount"];

/// Every query field that reads data: root fields, fields with arguments, fields of an object
/// type, and the loading leaves.
async fn fields_that_read(app: &TestApp) -> BTreeSet<String> {
    let schema = app
        .data(
            "{ __schema { queryType { name } types { name kind fields { name args { name } type { ...named } } } } }
             fragment named on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }",
            json!({}),
        )
        .await;
    let types = schema["__schema"]["types"]
        .as_array()
        .expect("types")
        .clone();
    let fields_of = |name: &str| -> Vec<Value> {
        types
            .iter()
            .find(|kind| kind["name"] == name)
            .and_then(|kind| kind["fields"].as_array().cloned())
            .unwrap_or_default()
    };
    let named = |mut kind: &Value| -> (String, String) {
        while kind["name"].is_null() {
            kind = &kind["ofType"];
        }
        (
            kind["kind"].as_str().unwrap_or_default().to_owned(),
            kind["name"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let root = schema["__schema"]["queryType"]["name"]
        .as_str()
        .expect("a query type")
        .to_owned();
    let (mut reading, mut seen, mut todo) = (BTreeSet::new(), BTreeSet::new(), vec![root.clone()]);
    while let Some(parent) = todo.pop() {
        if !seen.insert(parent.clone()) {
            continue;
        }
        for field in fields_of(&parent) {
            let name = format!("{parent}.{}", field["name"].as_str().unwrap_or_default());
            let (kind, of) = named(&field["type"]);
            let has_arguments = !field["args"].as_array().is_none_or(Vec::is_empty);
            if kind == "OBJECT" {
                todo.push(of);
            }
            if parent == root
                || has_arguments
                || kind == "OBJECT"
                || LOADING_LEAVES.contains(&name.as_str())
            {
                reading.insert(name);
            }
        }
    }
    reading
}

#[tokio::test]
async fn every_field_that_reads_has_a_row() {
    each_backend_with(Options::default(), |app| async move {
        let reading = fields_that_read(&app).await;
        let covered: BTreeSet<String> = ROWS
            .iter()
            .map(|row| row.field)
            .chain(PARTS.iter().copied())
            .map(str::to_owned)
            .collect();
        let missing: Vec<_> = reading.difference(&covered).collect();
        assert!(
            missing.is_empty(),
            "fields that read data without a freshness row (or a place in PARTS): {missing:?}"
        );
        let stale: Vec<_> = covered.difference(&reading).collect();
        assert!(
            stale.is_empty(),
            "rows for fields the schema no longer has: {stale:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn no_field_serves_a_stale_answer_after_its_data_changed() {
    // Products and counts are fresh for a second, so that a change shows within the test.
    let options = Options::default()
        .with("PRODUCT_CACHE_TTL_SECONDS", 1)
        .with("FAVORITES_COUNT_TTL_SECONDS", 1);
    each_backend_with(options, |app| async move {
        for (number, row) in ROWS.iter().enumerate() {
            check(&app, number, row).await;
        }
    })
    .await;
}

async fn check(app: &TestApp, number: usize, row: &Row) {
    let email = format!("subject-{number}@example.com");
    let moved = format!("moved-{number}@example.com");
    let id = app
        .create_client(&format!("Subject {number}"), &email)
        .await;
    app.add_favorite(&id, 3).await;
    let share = app
        .data(
            "mutation($id: UUID!) { shareFavorites(clientId: $id) { token } }",
            json!({ "id": id }),
        )
        .await["shareFavorites"]["token"]
        .clone();
    let token = match row.caller {
        Caller::Admin | Caller::Anonymous => app.token.clone(),
        Caller::Subject => app.client_token(&id).await,
        Caller::Guest => {
            let session = app
                .graphql_as(
                    None,
                    "mutation { startGuestSession { accessToken } }",
                    json!({}),
                )
                .await;
            let token = session["data"]["startGuestSession"]["accessToken"]
                .as_str()
                .unwrap_or_else(|| panic!("a guest token: {session}"))
                .to_owned();
            add_my_favorite(app, &token, 3).await;
            token
        }
    };
    let variables = json!({ "id": id, "email": email, "moved": moved, "share": share });
    let read = || async {
        let caller = match row.caller {
            Caller::Anonymous => None,
            _ => Some(token.as_str()),
        };
        let body = app
            .graphql_as(caller, row.document, variables.clone())
            .await;
        assert!(body["errors"].is_null(), "{}: {body}", row.field);
        body["data"].clone()
    };

    let first = read().await;
    let hits = response_cache_hits(app).await;
    assert_eq!(read().await, first, "{}: the same answer", row.field);
    assert_eq!(
        response_cache_hits(app).await,
        hits + 1,
        "{} ({:?}): the second read was a hit, so the test proves something",
        row.field,
        row.change
    );

    match row.change {
        Change::Rename => {
            app.data(
                "mutation($id: UUID!) { updateClient(id: $id, input: { name: \"Renamed\" }) { id } }",
                json!({ "id": id }),
            )
            .await;
        }
        Change::NewAddress => {
            app.data(
                "mutation($id: UUID!, $moved: String!) { updateClient(id: $id, input: { email: $moved }) { id } }",
                json!({ "id": id, "moved": moved }),
            )
            .await;
        }
        Change::CreateClient => {
            app.create_client("Newcomer", &format!("newcomer-{number}@example.com"))
                .await;
        }
        Change::AddFavorite => {
            app.add_favorite(&id, 5).await;
        }
        Change::GuestAddsFavorite => add_my_favorite(app, &token, 5).await,
        Change::AddFavoriteAndRecount => {
            app.add_favorite(&id, 5).await;
            tokio::time::sleep(Duration::from_millis(1_100)).await;
        }
        Change::Retitle(product) => {
            app.catalog.retitle(product, "Retitled").await;
            tokio::time::sleep(Duration::from_millis(1_100)).await;
        }
    }

    let after = read().await;
    assert_ne!(
        after, first,
        "{} ({:?}): a stale answer after the change",
        row.field, row.change
    );
}

async fn add_my_favorite(app: &TestApp, token: &str, product: i64) {
    let body = app
        .graphql_as(
            Some(token),
            "mutation($p: Int!) { addMyFavorite(productId: $p) { totalCount } }",
            json!({ "p": product }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
}
