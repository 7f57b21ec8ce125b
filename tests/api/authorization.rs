//! The authorization matrix: every root field of the schema, called by every kind of caller,
//! against the outcome the policy promises. The rows come from the schema itself: a root field
//! added later without a row here fails `every_root_field_has_a_row`.
//!
//! A refused call must leave the database as it was; each refusal is checked against the rows.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use favorites_api::db::entities::{
    client, client_favorite_product, favorite_share, guest, guest_favorite_product,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

use crate::support::app::{
    ADMIN, PASSWORD, SECRET_KEY, TestApp, each_backend, each_backend_with, error_codes,
};
use crate::support::identity_provider::{FakeIdentityProvider, SigningKey, claims};
use crate::support::websocket::{connect, receive, send};

/// What a caller may expect of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Forbidden,
    Unauthenticated,
}

/// The policy's rule for a kind of token, as the README states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// No token needed at all (a login, a guest session).
    Public,
    Allowed,
    OwnClientOnly,
    Denied,
}

/// One row: a root field, a document that calls it on the subject client, and the rules for
/// the admin's token, a client token and a guest token.
struct Row {
    field: &'static str,
    document: &'static str,
    rule: (Rule, Rule, Rule),
}

/// The rules of most rows: the admin may, a client token as given, a guest token may not.
const fn client(rule: Rule) -> (Rule, Rule, Rule) {
    (Rule::Allowed, rule, Rule::Denied)
}

/// The rules of the caller's own list: a client's or a guest's, and the admin has none.
const MINE: (Rule, Rule, Rule) = (Rule::Denied, Rule::Allowed, Rule::Allowed);
const PUBLIC: (Rule, Rule, Rule) = (Rule::Public, Rule::Public, Rule::Public);

const ROWS: &[Row] = &[
    Row {
        field: "Query.viewer",
        document: "{ viewer { id } }",
        rule: (Rule::Allowed, Rule::Allowed, Rule::Allowed),
    },
    Row {
        field: "Query.client",
        document: "query($id: UUID!) { client(id: $id) { id favorites { totalCount } } }",
        rule: client(Rule::OwnClientOnly),
    },
    Row {
        field: "Query.clientByEmail",
        document: "query($email: String!) { clientByEmail(email: $email) { id } }",
        rule: client(Rule::Denied),
    },
    Row {
        field: "Query.clients",
        document: "{ clients { totalCount nodes { id } } }",
        rule: client(Rule::Denied),
    },
    Row {
        field: "Query.product",
        document: "{ product(id: 1) { id title } }",
        rule: (Rule::Allowed, Rule::Allowed, Rule::Allowed),
    },
    Row {
        field: "Query.products",
        document: "{ products { id favoritesCount } }",
        rule: (Rule::Allowed, Rule::Allowed, Rule::Allowed),
    },
    Row {
        field: "Query.popularProducts",
        document: "{ popularProducts { productId favoritesCount } }",
        rule: client(Rule::Denied),
    },
    Row {
        field: "Mutation.issueToken",
        document: "mutation($u: String!, $p: String!) { issueToken(username: $u, password: $p) { accessToken } }",
        rule: PUBLIC,
    },
    Row {
        field: "Mutation.issueClientToken",
        document: "mutation($id: UUID!) { issueClientToken(clientId: $id) { accessToken } }",
        rule: client(Rule::Denied),
    },
    Row {
        field: "Mutation.createClient",
        document: "mutation($new: String!) { createClient(input: { name: \"New\", email: $new }) { id } }",
        rule: client(Rule::Denied),
    },
    Row {
        field: "Mutation.updateClient",
        document: "mutation($id: UUID!) { updateClient(id: $id, input: { name: \"Renamed\" }) { id name } }",
        rule: client(Rule::OwnClientOnly),
    },
    Row {
        field: "Mutation.updateClient",
        document: "mutation($id: UUID!, $new: String!) { updateClient(id: $id, input: { email: $new }) { id } }",
        rule: client(Rule::Denied),
    },
    Row {
        field: "Mutation.deleteClient",
        document: "mutation($id: UUID!) { deleteClient(id: $id) }",
        rule: client(Rule::Denied),
    },
    Row {
        field: "Mutation.addFavorite",
        document: "mutation($id: UUID!) { addFavorite(clientId: $id, productId: 2) { id } }",
        rule: client(Rule::OwnClientOnly),
    },
    Row {
        field: "Mutation.removeFavorite",
        document: "mutation($id: UUID!) { removeFavorite(clientId: $id, productId: 1) { id } }",
        rule: client(Rule::OwnClientOnly),
    },
    Row {
        field: "Mutation.setFavoriteNote",
        document: "mutation($id: UUID!) { setFavoriteNote(clientId: $id, productId: 1, note: \"gift\") { id } }",
        rule: client(Rule::OwnClientOnly),
    },
    Row {
        field: "Subscription.favoritesChanged",
        document: "subscription($id: UUID!) { favoritesChanged(clientId: $id) { id } }",
        rule: client(Rule::OwnClientOnly),
    },
    Row {
        field: "Query.myFavorites",
        document: "{ myFavorites { totalCount nodes { productId } } }",
        rule: MINE,
    },
    Row {
        field: "Mutation.startGuestSession",
        document: "mutation { startGuestSession { accessToken expiresAt } }",
        rule: PUBLIC,
    },
    Row {
        field: "Mutation.addMyFavorite",
        document: "mutation { addMyFavorite(productId: 2) { totalCount } }",
        rule: MINE,
    },
    Row {
        field: "Mutation.removeMyFavorite",
        document: "mutation { removeMyFavorite(productId: 1) { totalCount } }",
        rule: MINE,
    },
    Row {
        field: "Mutation.setMyFavoriteNote",
        document: "mutation { setMyFavoriteNote(productId: 1, note: \"gift\") { totalCount } }",
        rule: MINE,
    },
    Row {
        field: "Mutation.shareMyFavorites",
        document: "mutation { shareMyFavorites { createdAt } }",
        rule: MINE,
    },
    Row {
        field: "Mutation.revokeMyFavoritesShare",
        document: "mutation { revokeMyFavoritesShare }",
        rule: MINE,
    },
    Row {
        field: "Mutation.shareFavorites",
        document: "mutation($id: UUID!) { shareFavorites(clientId: $id, includeNotes: true) { createdAt } }",
        rule: client(Rule::OwnClientOnly),
    },
    Row {
        field: "Mutation.revokeFavoritesShare",
        document: "mutation($id: UUID!) { revokeFavoritesShare(clientId: $id) }",
        rule: client(Rule::OwnClientOnly),
    },
    Row {
        field: "Query.sharedFavorites",
        document: "query($share: String!) { sharedFavorites(token: $share) { ownerName favorites { totalCount nodes { productId product { id } } } } }",
        rule: PUBLIC,
    },
    Row {
        field: "Mutation.mergeGuestFavorites",
        document: "mutation($id: UUID!, $guest: String!) { mergeGuestFavorites(guestToken: $guest, clientId: $id) { totalCount } }",
        rule: (Rule::Allowed, Rule::OwnClientOnly, Rule::Denied),
    },
    Row {
        field: "Subscription.myFavoritesChanged",
        document: "subscription { myFavoritesChanged { totalCount } }",
        rule: MINE,
    },
];

/// Every kind of caller the matrix tries, in the order it tries them (the admin last: its
/// writes are the ones that change the subject).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    OwnClientToken,
    OtherClientToken,
    ExpiredClientToken,
    ProviderToken,
    ProviderTokenForUnknownEmail,
    ProviderTokenWrongIssuer,
    ProviderTokenWrongAudience,
    ProviderTokenExpired,
    ProviderTokenAlgNone,
    ProviderTokenHs256WithPublicKey,
    ProviderTokenUnknownKid,
    ProviderTokenEmailUnverified,
    GuestToken,
    ExpiredGuestToken,
    Admin,
}

const CALLERS: [Caller; 16] = [
    Caller::Anonymous,
    Caller::OwnClientToken,
    Caller::OtherClientToken,
    Caller::ExpiredClientToken,
    Caller::ProviderToken,
    Caller::ProviderTokenForUnknownEmail,
    Caller::ProviderTokenWrongIssuer,
    Caller::ProviderTokenWrongAudience,
    Caller::ProviderTokenExpired,
    Caller::ProviderTokenAlgNone,
    Caller::ProviderTokenHs256WithPublicKey,
    Caller::ProviderTokenUnknownKid,
    Caller::ProviderTokenEmailUnverified,
    Caller::GuestToken,
    Caller::ExpiredGuestToken,
    Caller::Admin,
];

fn expected(caller: Caller, (admin, client, guest): (Rule, Rule, Rule)) -> Outcome {
    let allowed_if = |allowed: bool| {
        if allowed {
            Outcome::Allowed
        } else {
            Outcome::Forbidden
        }
    };
    match caller {
        _ if client == Rule::Public => Outcome::Allowed,
        Caller::Admin => allowed_if(admin == Rule::Allowed),
        Caller::OwnClientToken | Caller::ProviderToken => {
            allowed_if(matches!(client, Rule::Allowed | Rule::OwnClientOnly))
        }
        Caller::OtherClientToken => allowed_if(client == Rule::Allowed),
        Caller::GuestToken => allowed_if(guest == Rule::Allowed),
        _ => Outcome::Unauthenticated,
    }
}

/// The tokens of every caller, made for one subject client (and one other client).
struct Tokens {
    subject: String,
    subject_email: String,
    /// A guest with a list, for `mergeGuestFavorites`.
    guest_to_merge: String,
    /// The token of a share link of the subject's list, for `sharedFavorites`.
    share: String,
    by_caller: Vec<(Caller, Option<String>)>,
}

async fn tokens_for(app: &TestApp, provider_key: &SigningKey, row: usize) -> Tokens {
    let subject_email = format!("subject{row}@example.com");
    let subject = app.create_client("Subject", &subject_email).await;
    let other = app
        .create_client("Other", &format!("other{row}@example.com"))
        .await;
    app.add_favorite(&subject, 1).await;
    // The other client's list holds it too: a "my" operation on product 1 finds it in the
    // caller's own list, whoever the caller is.
    app.add_favorite(&other, 1).await;
    let own = app.client_token(&subject).await;
    let other_token = app.client_token(&other).await;
    let now = chrono::Utc::now().timestamp();
    let expired = forge_token("client", &subject, now - 3_600);
    let provider = |overrides: Value| provider_key.sign(&claims(&subject_email, overrides));
    let public_key_as_secret = {
        let public = provider_key.jwk.to_string();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(provider_key.kid.clone());
        jsonwebtoken::encode(
            &header,
            &claims(&subject_email, json!({})),
            &EncodingKey::from_secret(public.as_bytes()),
        )
        .expect("a token")
    };
    let alg_none = {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(format!(
            r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
            provider_key.kid
        ));
        let payload = engine.encode(claims(&subject_email, json!({})).to_string());
        format!("{header}.{payload}.")
    };
    let by_caller: Vec<(Caller, Option<String>)> = CALLERS
        .iter()
        .map(|caller| {
            let token = match caller {
                Caller::Anonymous => None,
                Caller::Admin => Some(app.token.clone()),
                Caller::OwnClientToken => Some(own.clone()),
                Caller::OtherClientToken => Some(other_token.clone()),
                Caller::ExpiredClientToken => Some(expired.clone()),
                Caller::ProviderToken => Some(provider(json!({}))),
                Caller::ProviderTokenForUnknownEmail => {
                    Some(provider_key.sign(&claims(&format!("nobody{row}@example.com"), json!({}))))
                }
                Caller::ProviderTokenWrongIssuer => {
                    Some(provider(json!({ "iss": "https://evil.example.test/" })))
                }
                Caller::ProviderTokenWrongAudience => {
                    Some(provider(json!({ "aud": "someone-else" })))
                }
                Caller::ProviderTokenExpired => Some(provider(json!({ "exp": now - 3_600 }))),
                Caller::ProviderTokenAlgNone => Some(alg_none.clone()),
                Caller::ProviderTokenHs256WithPublicKey => Some(public_key_as_secret.clone()),
                Caller::ProviderTokenUnknownKid => {
                    Some(SigningKey::ec("never-published").sign(&claims(&subject_email, json!({}))))
                }
                Caller::ProviderTokenEmailUnverified => {
                    Some(provider(json!({ "email_verified": false })))
                }
                Caller::GuestToken => Some(forge_token(
                    "guest",
                    &uuid::Uuid::now_v7().to_string(),
                    now + 3_600,
                )),
                Caller::ExpiredGuestToken => Some(forge_token(
                    "guest",
                    &uuid::Uuid::now_v7().to_string(),
                    now - 3_600,
                )),
            };
            (*caller, token)
        })
        .collect();
    // The guest caller's list holds product 1, as the subject's does.
    let guest = by_caller
        .iter()
        .find_map(|(caller, token)| (*caller == Caller::GuestToken).then_some(token.as_deref()))
        .flatten();
    app.graphql_as(
        guest,
        "mutation { addMyFavorite(productId: 1) { totalCount } }",
        json!({}),
    )
    .await;
    let guest_to_merge = app
        .data("mutation { startGuestSession { accessToken } }", json!({}))
        .await["startGuestSession"]["accessToken"]
        .as_str()
        .expect("a guest token")
        .to_owned();
    app.graphql_as(
        Some(&guest_to_merge),
        "mutation { addMyFavorite(productId: 5) { totalCount } }",
        json!({}),
    )
    .await;
    let share = app
        .data(
            "mutation($id: UUID!) { shareFavorites(clientId: $id) { token } }",
            json!({ "id": subject }),
        )
        .await["shareFavorites"]["token"]
        .as_str()
        .expect("a share token")
        .to_owned();
    Tokens {
        subject,
        subject_email,
        guest_to_merge,
        share,
        by_caller,
    }
}

/// A token of `role` for `subject`, signed with the service's own key as `issueClientToken` and
/// `startGuestSession` make them, but expiring at `exp` (unix seconds).
fn forge_token(role: &str, subject: &str, exp: i64) -> String {
    let claims = json!({
        "sub": subject, "role": role, "iat": exp - 60, "exp": exp,
        "iss": "favorites-api", "aud": "favorites-api",
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET_KEY.as_bytes()),
    )
    .expect("a token")
}

/// Everything a refused call could have changed.
async fn rows(
    app: &TestApp,
) -> (
    Vec<client::Model>,
    Vec<client_favorite_product::Model>,
    Vec<guest::Model>,
    Vec<guest_favorite_product::Model>,
    Vec<favorite_share::Model>,
) {
    let clients = client::Entity::find()
        .order_by_asc(client::Column::Id)
        .all(&app.db)
        .await
        .expect("read clients");
    let favorites = client_favorite_product::Entity::find()
        .order_by_asc(client_favorite_product::Column::ClientId)
        .order_by_asc(client_favorite_product::Column::ProductId)
        .all(&app.db)
        .await
        .expect("read favorites");
    let guests = guest::Entity::find()
        .order_by_asc(guest::Column::Id)
        .all(&app.db)
        .await
        .expect("read guests");
    let guest_favorites = guest_favorite_product::Entity::find()
        .order_by_asc(guest_favorite_product::Column::GuestId)
        .order_by_asc(guest_favorite_product::Column::ProductId)
        .all(&app.db)
        .await
        .expect("read guest favorites");
    let shares = favorite_share::Entity::find()
        .order_by_asc(favorite_share::Column::Id)
        .all(&app.db)
        .await
        .expect("read shares");
    (clients, favorites, guests, guest_favorites, shares)
}

fn outcome_of(body: &Value, field: &str) -> Result<Outcome, String> {
    match error_codes(body).as_slice() {
        [] => {
            let name = field.split('.').nth(1).unwrap_or_default();
            match &body["data"][name] {
                // `viewer` is null for the admin: allowed all the same.
                Value::Null if name != "viewer" => Err(format!("no data: {body}")),
                _ => Ok(Outcome::Allowed),
            }
        }
        [code] if code == "FORBIDDEN" => Ok(Outcome::Forbidden),
        [code] if code == "UNAUTHENTICATED" => Ok(Outcome::Unauthenticated),
        _ => Err(format!("unexpected answer: {body}")),
    }
}

async fn call_over_http(
    app: &TestApp,
    row: &Row,
    tokens: &Tokens,
    token: Option<&str>,
    index: usize,
) -> Value {
    let variables = json!({
        "id": tokens.subject,
        "email": tokens.subject_email,
        "new": format!("new{index}-{}@example.com", uuid::Uuid::new_v4().simple()),
        "u": ADMIN,
        "p": PASSWORD,
        "guest": tokens.guest_to_merge,
        "share": tokens.share,
    });
    // Only the variables a document declares may be sent.
    let declared: serde_json::Map<String, Value> = variables
        .as_object()
        .expect("an object")
        .iter()
        .filter(|(name, _)| row.document.contains(&format!("${name}:")))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    app.graphql_as(token, row.document, Value::Object(declared))
        .await
}

/// Subscribes over WebSocket; allowed means a change made by the admin arrives.
async fn call_over_websocket(
    app: &TestApp,
    row: &Row,
    tokens: &Tokens,
    token: Option<&str>,
) -> Outcome {
    let mut socket = connect(&app.address, "graphql-transport-ws").await;
    let payload = match token {
        Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
        None => json!({}),
    };
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    match receive(&mut socket).await {
        Ok(ack) if ack["type"] == "connection_ack" => {}
        Err(Some(code)) if u16::from(code) == 4403 => return Outcome::Unauthenticated,
        other => panic!("unexpected answer to connection_init: {other:?}"),
    }
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": row.document, "variables": { "id": tokens.subject } } }),
    )
    .await;
    // Changes until one arrives: the subscription is in place once the server has read it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut product = 3;
    // `favoritesChanged` watches the subject, which the admin changes; `myFavoritesChanged`
    // watches the caller's own list, which the caller changes (the admin's attempt is refused).
    let field = row.field.trim_start_matches("Subscription.");
    let mine = field == "myFavoritesChanged";
    loop {
        assert!(Instant::now() < deadline, "no event and no error");
        if mine {
            app.graphql_as(
                token,
                "mutation($p: Int!) { addMyFavorite(productId: $p) { totalCount } }",
                json!({ "p": product }),
            )
            .await;
        } else {
            app.add_favorite(&tokens.subject, product).await;
        }
        product += 1;
        let answer = tokio::time::timeout(Duration::from_millis(300), receive(&mut socket)).await;
        match answer {
            // A refusal comes as the subscription's one result, with the error in it.
            Ok(Ok(message)) if message["type"] == "next" => {
                let payload = &message["payload"];
                if let Some(errors) = payload["errors"].as_array() {
                    assert_eq!(errors.len(), 1, "{message}");
                    assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN", "{message}");
                    assert!(payload["data"].is_null(), "{message}");
                    return Outcome::Forbidden;
                }
                if mine {
                    assert!(
                        payload["data"][field]["totalCount"].as_u64() > Some(0),
                        "{message}"
                    );
                } else {
                    assert_eq!(
                        payload["data"][field]["id"],
                        tokens.subject.as_str(),
                        "{message}"
                    );
                }
                return Outcome::Allowed;
            }
            Ok(other) => panic!("unexpected message: {other:?}"),
            Err(_) => continue,
        }
    }
}

#[tokio::test]
async fn every_operation_for_every_caller_is_what_the_policy_says() {
    let key = SigningKey::rsa("provider-key-1");
    let provider = FakeIdentityProvider::start(&[&key, &SigningKey::ec("provider-key-2")]).await;
    let options = provider.options();
    let options = options.with("GUEST_SESSIONS_PER_MINUTE", 10_000);
    each_backend_with(options, |app| {
        let key = key.clone();
        async move {
            let mut cells = 0;
            for (index, row) in ROWS.iter().enumerate() {
                let tokens = tokens_for(&app, &key, index).await;
                for (caller, token) in &tokens.by_caller {
                    let want = expected(*caller, row.rule);
                    let before = rows(&app).await;
                    let got = if row.field.starts_with("Subscription.") {
                        call_over_websocket(&app, row, &tokens, token.as_deref()).await
                    } else {
                        let body =
                            call_over_http(&app, row, &tokens, token.as_deref(), index).await;
                        outcome_of(&body, row.field).unwrap_or_else(|problem| {
                            panic!("{} as {caller:?}: {problem}", row.field)
                        })
                    };
                    assert_eq!(got, want, "{} ({}) as {caller:?}", row.field, row.document);
                    if want != Outcome::Allowed {
                        assert_eq!(
                            rows(&app).await,
                            before,
                            "{} as {caller:?} wrote",
                            row.field
                        );
                    }
                    cells += 1;
                }
            }
            assert_eq!(cells, ROWS.len() * CALLERS.len());
            eprintln!(
                "authorization matrix: {} rows x {} callers = {cells} cells",
                ROWS.len(),
                CALLERS.len()
            );
        }
    })
    .await;
}

#[tokio::test]
async fn every_root_field_has_a_row() {
    each_backend(|app| async move {
        let data = app
            .data(
                "{ __schema { queryType { name fields { name } } mutationType { name fields { name } } subscriptionType { name fields { name } } } }",
                json!({}),
            )
            .await;
        let mut in_schema = BTreeSet::new();
        for root in ["queryType", "mutationType", "subscriptionType"] {
            let kind = &data["__schema"][root];
            for field in kind["fields"].as_array().expect("fields") {
                in_schema.insert(format!("{}.{}", kind["name"].as_str().unwrap(), field["name"].as_str().unwrap()));
            }
        }
        let in_matrix: BTreeSet<String> = ROWS.iter().map(|row| row.field.to_owned()).collect();
        assert_eq!(in_schema, in_matrix, "every root field needs a row in the matrix");
    })
    .await;
}
