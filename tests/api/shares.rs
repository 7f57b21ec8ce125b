//! Read-only share links: made by the list's owner (or the admin), opened with no token at all,
//! showing the owner's name and the favorites and nothing else; notes only when asked; revoked
//! or replaced at once (cached answers included); forged and malformed tokens answer null; a
//! guest's list too; reads limited per network.

use serde_json::{Value, json};

use crate::support::app::{Options, TestApp, each_backend, each_backend_with, error_codes};
use crate::support::metrics::response_cache_hits;

const OPEN: &str = "query($token: String!) { sharedFavorites(token: $token) { ownerName favorites { totalCount nodes { productId note product { title } } } } }";
const SHARE_MINE: &str = "mutation($notes: Boolean) { shareMyFavorites(includeNotes: $notes) { token createdAt includeNotes } }";

/// Runs `document` as `token` (none: anonymously), failing on any error.
async fn data_as(app: &TestApp, token: Option<&str>, document: &str, variables: Value) -> Value {
    let body = app.graphql_as(token, document, variables).await;
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body["data"].clone()
}

async fn open(app: &TestApp, token: &str) -> Value {
    data_as(app, None, OPEN, json!({ "token": token })).await["sharedFavorites"].clone()
}

/// A client (Ana) with products 1 (noted "gift for Ann") and 3, and her token.
async fn ana(app: &TestApp) -> (String, String) {
    let client = app.create_client("Ana", "ana@example.com").await;
    app.data(
        "mutation($id: UUID!) { addFavorite(clientId: $id, productId: 1, note: \"gift for Ann\") { id } }",
        json!({ "id": client }),
    )
    .await;
    app.add_favorite(&client, 3).await;
    let token = app.client_token(&client).await;
    (client, token)
}

async fn share(app: &TestApp, token: &str, notes: bool) -> String {
    let made = data_as(app, Some(token), SHARE_MINE, json!({ "notes": notes })).await;
    let share = &made["shareMyFavorites"];
    assert_eq!(share["includeNotes"], notes);
    let token = share["token"].as_str().expect("a token").to_owned();
    assert_eq!(token.len(), 43, "256 bits, URL-safe base64");
    assert!(
        token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    token
}

#[tokio::test]
async fn a_shared_list_opens_without_a_token_and_shows_only_what_it_should() {
    each_backend(|app| async move {
        let (_, ana_token) = ana(&app).await;
        let link = share(&app, &ana_token, false).await;
        let shared = open(&app, &link).await;
        assert_eq!(shared["ownerName"], "Ana");
        assert_eq!(shared["favorites"]["totalCount"], 2);
        let nodes = &shared["favorites"]["nodes"];
        assert_eq!(nodes[0]["productId"], 1);
        assert_eq!(
            nodes[0]["note"],
            Value::Null,
            "notes only with includeNotes"
        );
        assert!(nodes[0]["product"]["title"].is_string());

        // The type has nothing else to ask for: no e-mail, no ids of the owner.
        let fields = app
            .data(
                "{ __type(name: \"SharedFavorites\") { fields { name } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            fields["__type"]["fields"],
            json!([{ "name": "ownerName" }, { "name": "favorites" }])
        );
        let body = app
            .graphql_as(
                None,
                "query($token: String!) { sharedFavorites(token: $token) { email } }",
                json!({ "token": link }),
            )
            .await;
        assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"], "{body}");

        // With notes: a new link, and the old one stops working.
        let with_notes = share(&app, &ana_token, true).await;
        assert_eq!(open(&app, &link).await, Value::Null, "replaced");
        assert_eq!(
            open(&app, &with_notes).await["favorites"]["nodes"][0]["note"],
            "gift for Ann"
        );
    })
    .await;
}

#[tokio::test]
async fn revoked_forged_and_malformed_tokens_all_answer_null() {
    each_backend(|app| async move {
        let (_, ana_token) = ana(&app).await;
        let link = share(&app, &ana_token, false).await;
        let mut altered = link.clone().into_bytes();
        altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("ASCII");
        for forged in [
            "",
            "x",
            "not a token at all!",
            altered.as_str(),
            &"A".repeat(43),
            &"é".repeat(2_000),
        ] {
            assert_eq!(open(&app, forged).await, Value::Null, "{forged:?}");
        }

        let revoke = "mutation { revokeMyFavoritesShare }";
        assert_eq!(
            data_as(&app, Some(&ana_token), revoke, json!({})).await["revokeMyFavoritesShare"],
            true
        );
        assert_eq!(open(&app, &link).await, Value::Null);
        assert_eq!(
            data_as(&app, Some(&ana_token), revoke, json!({})).await["revokeMyFavoritesShare"],
            false,
            "nothing left to revoke"
        );
    })
    .await;
}

#[tokio::test]
async fn a_cached_shared_answer_follows_the_list_and_the_revoke() {
    each_backend(|app| async move {
        let (client, ana_token) = ana(&app).await;
        let link = share(&app, &ana_token, false).await;
        let first = open(&app, &link).await;
        let hits = response_cache_hits(&app).await;
        assert_eq!(open(&app, &link).await, first);
        assert_eq!(response_cache_hits(&app).await, hits + 1, "kept, per share");

        app.add_favorite(&client, 5).await;
        assert_eq!(open(&app, &link).await["favorites"]["totalCount"], 3);

        app.data(
            "mutation($id: UUID!) { revokeFavoritesShare(clientId: $id) }",
            json!({ "id": client }),
        )
        .await;
        assert_eq!(open(&app, &link).await, Value::Null, "revoked at once");
    })
    .await;
}

#[tokio::test]
async fn a_guest_shares_too_and_its_link_ends_with_the_merge() {
    each_backend(|app| async move {
        let guest = data_as(
            &app,
            None,
            "mutation { startGuestSession { accessToken } }",
            json!({}),
        )
        .await["startGuestSession"]["accessToken"]
            .as_str()
            .expect("a guest token")
            .to_owned();
        // A guest without a list yet may share it: the link shows the list as it grows.
        let link = share(&app, &guest, false).await;
        assert_eq!(open(&app, &link).await["favorites"]["totalCount"], 0);
        data_as(
            &app,
            Some(&guest),
            "mutation { addMyFavorite(productId: 4) { totalCount } }",
            json!({}),
        )
        .await;
        let shared = open(&app, &link).await;
        assert_eq!(shared["ownerName"], Value::Null, "a guest has no name");
        assert_eq!(shared["favorites"]["nodes"][0]["productId"], 4);

        let (_, ana_token) = ana(&app).await;
        data_as(
            &app,
            Some(&ana_token),
            "mutation($g: String!) { mergeGuestFavorites(guestToken: $g) { totalCount } }",
            json!({ "g": guest }),
        )
        .await;
        assert_eq!(open(&app, &link).await, Value::Null, "the list is gone");
    })
    .await;
}

#[tokio::test]
async fn the_admin_shares_a_client_list_and_an_unknown_client_is_not_found() {
    each_backend(|app| async move {
        let (client, _) = ana(&app).await;
        let made = app
            .data(
                "mutation($id: UUID!) { shareFavorites(clientId: $id) { token } }",
                json!({ "id": client }),
            )
            .await;
        let link = made["shareFavorites"]["token"].as_str().expect("a token");
        assert_eq!(open(&app, link).await["ownerName"], "Ana");
        let body = app
            .graphql(
                "mutation($id: UUID!) { shareFavorites(clientId: $id) { token } }",
                json!({ "id": uuid::Uuid::now_v7() }),
            )
            .await;
        assert_eq!(error_codes(&body), ["NOT_FOUND"], "{body}");
    })
    .await;
}

#[tokio::test]
async fn shared_reads_are_limited_per_network() {
    let options = Options::default().with("SHARED_READS_PER_MINUTE", 3);
    each_backend_with(options, |app| async move {
        // Unknown tokens: answers that are never kept, so each is a read.
        for token in ["a", "b", "c"] {
            assert_eq!(open(&app, token).await, Value::Null);
        }
        let body = app.graphql_as(None, OPEN, json!({ "token": "d" })).await;
        assert_eq!(error_codes(&body), ["RATE_LIMITED"], "{body}");
    })
    .await;
}
