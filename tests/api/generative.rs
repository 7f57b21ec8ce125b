//! Sends well over a thousand random and mutated GraphQL requests to the running app and checks
//! what must hold for any input: no 5xx, no dropped connection, JSON with a code on every error.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::app::{TestApp, assert_every_error_has_a_code, each_backend, error_codes};

const DOCUMENTS: usize = 1_200;
const SEED: u64 = 0x5EED_F00D_CAFE_1234;

const CORPUS: &[&str] = &[
    "{ clients(first: 5) { totalCount pageInfo { hasNextPage endCursor } nodes { id name email favorites { totalCount nodes { productId addedAt product { title price rating { rate count } } } } } } }",
    "query($id: UUID!) { client(id: $id) { id name favorites(first: 2, after: \"x\") { edges { cursor node { productId } } } } }",
    "query($e: String!) { clientByEmail(email: $e) { id email } }",
    "query($f: Int, $a: String, $l: Int, $b: String) { clients(first: $f, after: $a, last: $l, before: $b) { edges { cursor } } }",
    "{ product(id: 3) { id title price description category image rating { rate count } } products { id } }",
    "mutation($input: CreateClientInput!) { createClient(input: $input) { id createdAt } }",
    "mutation($id: UUID!, $input: UpdateClientInput!) { updateClient(id: $id, input: $input) { id name email updatedAt } }",
    "mutation($id: UUID!) { deleteClient(id: $id) }",
    "mutation($c: UUID!, $p: Int!) { addFavorite(clientId: $c, productId: $p) { favorites { totalCount } } }",
    "mutation($c: UUID!, $p: Int!) { removeFavorite(clientId: $c, productId: $p) { id } }",
    "mutation($u: String!, $p: String!) { issueToken(username: $u, password: $p) { accessToken tokenType expiresAt } }",
    "{ __schema { types { name fields { name type { name kind ofType { name } } } } } }",
    "query Named { __typename ...F } fragment F on Query { clients { totalCount } }",
    "{ a: clients(first: 1) { nodes { id } } b: product(id: 1) @include(if: true) { id } c: __typename @skip(if: false) }",
    "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...C ...C } fragment C on Query { __typename clients { totalCount } }",
    "{ product(id: [[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]) { id } }",
];

const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "$",
    "!",
    "@",
    "...",
    "\"",
    "#",
    ",",
    "=",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "clients",
    "client",
    "favorites",
    "nodes",
    "edges",
    "id",
    "first",
    "after",
    "last",
    "before",
    "null",
    "true",
    "-1",
    "0",
    "101",
    "2147483648",
    "1e309",
    "\"\\u0000\"",
    "__typename",
    "__schema",
    "product",
    "addFavorite",
    "\u{1F600}",
    "\\",
    "\n",
];

/// xorshift64*: small, deterministic, good enough to shuffle test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn mutate(rng: &mut Rng, document: &str) -> String {
    let mut chars: Vec<char> = document.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(chars.len() + 1);
        match rng.below(6) {
            0 if !chars.is_empty() => {
                let end = (at + rng.below(12)).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            1 => {
                let token: Vec<char> = format!(" {} ", rng.pick(TOKENS)).chars().collect();
                chars.splice(at..at, token);
            }
            2 if !chars.is_empty() => {
                let start = rng.below(chars.len());
                let end = (start + rng.below(40)).min(chars.len());
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(at..at, copy);
            }
            3 => chars.truncate(at),
            4 => {
                let other: Vec<char> = rng.pick(CORPUS).chars().collect();
                let from = rng.below(other.len());
                chars.splice(at..at, other[from..].iter().copied());
            }
            _ => {
                if let Some(slot) = chars.get_mut(at) {
                    *slot = char::from_u32(rng.below(0x3000) as u32).unwrap_or('?');
                }
            }
        }
    }
    chars.into_iter().collect()
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 2 { 7 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 1),
        2 => json!(rng.next() as i64),
        3 => json!(rng.below(200) as i64 - 100),
        4 => json!(f64::from(rng.below(1000) as u32) / 7.0),
        5 => json!(*rng.pick(&[
            "",
            "x",
            "a@example.com",
            "01890000-0000-7000-8000-000000000000",
            "Y2xpZW50Om5vcGU",
            "\u{0}"
        ])),
        6 => json!(rng.pick(TOKENS).repeat(rng.below(50) + 1)),
        7 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "id", "c", "p", "e", "f", "a", "l", "b", "u", "input", "name", "email",
            ];
            let mut map = serde_json::Map::new();
            for _ in 0..rng.below(5) {
                map.insert(rng.pick(&keys).to_string(), random_value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

/// An object with the corpus' variable names, holding plausible or hostile values.
fn random_variables(rng: &mut Rng) -> Value {
    let plausible = [
        json!("01890000-0000-7000-8000-000000000000"),
        json!(rng.below(25) as i64),
        json!("someone@example.com"),
        json!({ "name": "Fuzz", "email": format!("fuzz{}@example.com", rng.below(50)) }),
        json!({ "name": null, "email": "" }),
    ];
    let mut map = serde_json::Map::new();
    for key in ["id", "c", "p", "e", "f", "a", "l", "b", "u", "input"] {
        if rng.below(3) > 0 {
            let value = if rng.below(2) == 0 {
                rng.pick(&plausible).clone()
            } else {
                random_value(rng, 1)
            };
            map.insert(key.to_owned(), value);
        }
    }
    Value::Object(map)
}

fn random_request(rng: &mut Rng) -> Value {
    let base = rng.pick(CORPUS);
    let query = if rng.below(5) == 0 {
        base.to_string()
    } else {
        mutate(rng, base)
    };
    let variables = if rng.below(4) == 0 {
        random_value(rng, 0)
    } else {
        random_variables(rng)
    };
    let mut request = json!({ "query": query, "variables": variables });
    match rng.below(10) {
        0 => request["operationName"] = json!(rng.pick(&["Named", "Nope", ""])),
        1 => request["query"] = random_value(rng, 1),
        2 => return Value::Array((0..rng.below(4)).map(|_| random_request(rng)).collect()),
        3 => return random_value(rng, 0),
        _ => {}
    }
    request
}

/// Returns the HTTP status and the error codes seen.
async fn send(app: &TestApp, token: Option<&str>, body: &Value) -> (u16, Vec<String>) {
    let mut request = app.http.post(format!("{}/graphql", app.address)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .expect("the server answers every request");
    let status = response.status();
    let text = response.text().await.expect("a whole body");
    assert!(status.as_u16() < 500, "{status} for {body}: {text}");
    let answer: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("not JSON ({status}) for {body}: {text}"));
    assert_every_error_has_a_code(&answer);
    let responses = match &answer {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let codes = responses.iter().flat_map(error_codes).collect();
    (status.as_u16(), codes)
}

#[tokio::test]
async fn random_and_mutated_documents_never_break_the_server() {
    each_backend(|app| async move {
        let mut rng = Rng(SEED);
        let id = app.create_client("Seed", "seed@example.com").await;
        app.add_favorite(&id, 1).await;
        let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
        let mut codes: BTreeMap<String, usize> = BTreeMap::new();
        for index in 0..DOCUMENTS {
            let body = random_request(&mut rng);
            let token = (index % 4 != 0).then_some(app.token.as_str());
            let (status, seen) = send(&app, token, &body).await;
            *statuses.entry(status).or_default() += 1;
            for code in seen {
                *codes.entry(code).or_default() += 1;
            }
        }
        eprintln!(
            "{:?}: {DOCUMENTS} requests, statuses {statuses:?}, error codes {codes:?}",
            app.backend
        );
        assert!(!codes.contains_key("INTERNAL_SERVER_ERROR"), "{codes:?}");
        // The inputs reached every stage: parsing, validation, resolvers and clean successes.
        for code in [
            "GRAPHQL_PARSE_FAILED",
            "GRAPHQL_VALIDATION_FAILED",
            "BAD_USER_INPUT",
            "UNAUTHENTICATED",
        ] {
            assert!(codes.contains_key(code), "no {code} among {codes:?}");
        }
        assert!(
            statuses.contains_key(&200) && statuses.contains_key(&400),
            "{statuses:?}"
        );
        let alive = app.data("{ clients { totalCount } }", json!({})).await;
        assert!(alive["clients"]["totalCount"].as_u64().unwrap() >= 1);
    })
    .await;
}
