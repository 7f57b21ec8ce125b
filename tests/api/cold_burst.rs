//! A burst against a cold instance is served, not refused: requests waiting on one slow
//! catalog call leave the CPU idle, and admission (at its defaults) counts only work the
//! machine cannot do. The target itself (none refused up to 200 at once, release build, quiet
//! machine) is `bench/run`'s cold burst: here the debug build shares the cores with the rest of
//! the suite, so the test asserts what only counting waiting as work would break.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::app::{ADMIN, PASSWORD, each_backend};
use crate::support::binary::Server;

const BURST: usize = 50;
const CATALOG_DELAY: Duration = Duration::from_millis(300);
const QUERY: &str =
    "{ clients(first: 100) { nodes { favorites(first: 20) { nodes { product { title } } } } } }";

#[tokio::test]
async fn a_burst_waiting_on_a_slow_catalog_is_served_whole_by_a_cold_instance() {
    each_backend(|app| async move {
        for n in 0..5 {
            let client = app
                .create_client(&format!("C{n}"), &format!("c{n}@example.com"))
                .await;
            for product in [1, 2, 3] {
                app.add_favorite(&client, product).await;
            }
        }
        app.catalog.answer_late(CATALOG_DELAY).await;
        // A fresh process of the real binary on the same database and catalog: its product
        // cache is empty, and admission is as on a two-core machine by default (the suite's
        // instances turn it off): 4 slots. (`BURST` is 50, not bench/run's 200: this debug build spends about
        // a millisecond of CPU on each request before it waits, on cores other tests share.)
        let mut env: Vec<(&str, &str)> = app
            .pairs
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), "LISTEN_ADDR" | "MAX_CONCURRENT_REQUESTS"))
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        env.push(("RUN_MIGRATIONS", "false"));
        env.push(("MAX_CONCURRENT_REQUESTS", "4"));
        let cold = Server::start(&env).await;
        let http = reqwest::Client::new();
        let answers = join_all((0..BURST).map(|_| {
            let request = http
                .post(format!("{}/graphql", cold.base))
                .bearer_auth(&app.token)
                .json(&json!({ "query": QUERY }));
            async move {
                let response = request.send().await.expect("an answer");
                let status = response.status().as_u16();
                let body: Value = response.json().await.expect("JSON");
                (status, body)
            }
        }))
        .await;
        let refused: Vec<_> = answers
            .iter()
            .filter(|(status, _)| *status != 200)
            .collect();
        // Counting the waiting requests as work (the slots held for the catalog's 300 ms, the
        // rest queued for 250 ms at most) refused 34 of the 50 when this test was written.
        // Counting work, all are served on an idle machine; other tests busy on the same cores leave the CPU really short for a
        // moment, and refusing then is admission doing its job.
        assert!(
            refused.len() <= BURST / 2,
            "{} of {BURST} refused: {:?}",
            refused.len(),
            refused.first()
        );
        assert!(
            refused.iter().all(|(status, _)| *status == 503),
            "only OVERLOADED refusals: {:?}",
            refused.first()
        );
        eprintln!("cold burst: {} of {BURST} refused", refused.len());
        for (_, body) in answers.iter().filter(|(status, _)| *status == 200) {
            assert!(body.get("errors").is_none(), "{body}");
            let titles = body["data"]["clients"]["nodes"]
                .as_array()
                .expect("clients")
                .iter()
                .flat_map(|client| {
                    client["favorites"]["nodes"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter(|favorite| favorite["product"]["title"].is_string())
                .count();
            assert_eq!(titles, 15, "{body}");
        }
        let upstream = app.catalog.request_paths().await.len();
        assert!(
            upstream <= 3,
            "one upstream call serves the burst: {upstream}"
        );
    })
    .await;
}

/// POSTs `body` to `path` until it is admitted (as a caller that honours `Retry-After` would).
async fn post_admitted(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    for _ in 0..100 {
        let mut request = http.post(url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("an answer");
        if response.status() != 503 {
            return response.json().await.expect("JSON");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never admitted: {body}");
}

#[tokio::test]
async fn work_beyond_what_the_cpu_keeps_up_with_is_refused_and_the_rest_answered() {
    // One request doing work at a time and no queue: 64 callers asking for pages of clients as
    // fast as they are answered keep finding one at work.
    let server = Server::start(&[
        ("MAX_CONCURRENT_REQUESTS", "1"),
        ("MAX_QUEUED_REQUESTS", "0"),
    ])
    .await;
    let http = reqwest::Client::new();
    let login = post_admitted(
        &http,
        &format!("{}/api/v1/auth/master-token", server.base),
        None,
        json!({ "username": ADMIN, "password": PASSWORD }),
    )
    .await;
    let token = login["access_token"].as_str().expect("a token").to_owned();
    for n in 0..50 {
        let created = post_admitted(
            &http,
            &format!("{}/graphql", server.base),
            Some(&token),
            json!({
                "query": "mutation($n: String!, $e: String!) { createClient(input: {name: $n, email: $e}) { id } }",
                "variables": { "n": format!("C{n}"), "e": format!("c{n}@example.com") },
            }),
        )
        .await;
        assert!(created.get("errors").is_none(), "{created}");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let callers = (0..64).map(|_| {
        let (http, token, base) = (http.clone(), token.clone(), server.base.clone());
        async move {
            let (mut served, mut refused) = (0, 0);
            while tokio::time::Instant::now() < deadline {
                let response = http
                    .post(format!("{base}/graphql"))
                    .bearer_auth(&token)
                    .json(&json!({ "query": "{ clients(first: 50) { nodes { id name email } } }" }))
                    .send()
                    .await
                    .expect("an answer");
                match response.status().as_u16() {
                    200 => served += 1,
                    503 => {
                        let body: Value = response.json().await.expect("JSON");
                        assert_eq!(body["errors"][0]["extensions"]["code"], "OVERLOADED");
                        refused += 1;
                    }
                    other => panic!("HTTP {other}"),
                }
            }
            (served, refused)
        }
    });
    let (served, refused) = join_all(callers)
        .await
        .into_iter()
        .fold((0, 0), |(s, r), (served, refused)| {
            (s + served, r + refused)
        });
    assert!(served > 0, "some are answered");
    assert!(refused > 0, "some are refused ({served} answered)");
    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("http_requests_working"), "{metrics}");
    assert!(metrics.contains("http_requests_in_flight"), "{metrics}");
}
