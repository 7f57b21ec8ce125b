//! The change log as the one source of news: a change that commits late still reaches every
//! reader, a reader that lost its database resumes where it was, a subscriber that reconnects
//! with `after` misses nothing while writers on two instances race, and `products_ref` ends
//! exact after the storm.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use favorites_api::db::changes::{ChangeFeed, ChangeKind};
use futures::future::join_all;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::app::{Options, TestApp, each_backend, run_on};
use crate::support::database::{Backend, backends};
use crate::support::metrics::metric;
use crate::support::tcp_proxy::TcpProxy;
use crate::support::websocket::{Socket, in_place, receive, subscribe_after};

const LIST: &str =
    "query($id: UUID!) { client(id: $id) { favoritesVersion favorites { nodes { productId } } } }";

/// The client's list and its version, read through `app`.
async fn list(app: &TestApp, client: &str) -> (String, Vec<i64>) {
    let data = app.data(LIST, json!({ "id": client })).await;
    parse(&data["client"])
}

fn parse(client: &Value) -> (String, Vec<i64>) {
    let version = client["favoritesVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no version in {client}"))
        .to_owned();
    let ids = client["favorites"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no list in {client}"))
        .iter()
        .map(|node| node["productId"].as_i64().unwrap())
        .collect();
    (version, ids)
}

/// The next list a `favoritesChanged` subscription sends, within `wait`; `None` if none came.
async fn next_list(socket: &mut Socket, wait: Duration) -> Option<(String, Vec<i64>)> {
    let message = tokio::time::timeout(wait, receive(socket)).await.ok()?;
    let message = message.unwrap_or_else(|code| panic!("the subscription closed: {code:?}"));
    assert_eq!(message["type"], "next", "{message}");
    assert!(message["payload"].get("errors").is_none(), "{message}");
    Some(parse(&message["payload"]["data"]["favoritesChanged"]))
}

fn version_number(version: &str) -> u64 {
    // Opaque to callers; the test only needs an order, and the API's is numeric.
    version.parse().unwrap_or_else(|_| panic!("{version:?}"))
}

/// Waits until `app`'s answer for `client` holds `product` (a cached answer must be dropped;
/// an instance that is getting its database back may answer with an error meanwhile).
async fn eventually_holds(app: &TestApp, client: &str, product: i64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let body = app.graphql(LIST, json!({ "id": client })).await;
        if body.get("errors").is_none() && parse(&body["data"]["client"]).1.contains(&product) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{client}'s answer never showed product {product}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_change_that_commits_behind_later_ones_still_reaches_subscribers_and_the_cache() {
    each_backend(|app| async move {
        if app.backend == Backend::Sqlite {
            // One connection, one transaction at a time: nothing can commit behind another.
            eprintln!("skipped on SQLite: a late commit cannot happen there");
            return;
        }
        let late = app.create_client("Late", "late@example.com").await;
        let other = app.create_client("Other", "other@example.com").await;
        let (version, _) = list(&app, &late).await;
        assert_eq!(list(&app, &late).await.1, Vec::<i64>::new(), "cached now");
        let mut socket = subscribe_after(&app.address, &app.token, &late, Some(&version)).await;
        let (other_version, _) = list(&app, &other).await;
        let mut other_socket =
            subscribe_after(&app.address, &app.token, &other, Some(&other_version)).await;
        let late_before = metric(&app, "change_log_late_rows_total").await;

        // A transaction takes its number in the log and holds it, uncommitted...
        let feed = ChangeFeed::local();
        let mut txn = feed.begin(&app.db).await.unwrap();
        let client_id: Uuid = late.parse().unwrap();
        for sql in [
            "INSERT INTO products_ref (id) VALUES (3) ON CONFLICT DO NOTHING",
            "INSERT INTO client_favorite_products (client_id, product_id, added_at) VALUES ($1, 3, now())",
        ] {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                if sql.contains("$1") { vec![client_id.into()] } else { vec![] },
            ))
            .await
            .unwrap();
        }
        txn.record(client_id, ChangeKind::FavoriteAdded, Some(3))
            .await
            .unwrap();
        // ... while a later change commits, and the instance reads past it (its subscribers
        // hear of changes only from the log).
        app.add_favorite(&other, 5).await;
        let (_, other_list) = next_list(&mut other_socket, Duration::from_secs(2))
            .await
            .expect("the later change was read");
        assert_eq!(other_list, [5]);
        assert_eq!(
            next_list(&mut socket, Duration::from_millis(300)).await,
            None,
            "nothing to tell yet"
        );

        // An instance that starts while the change is held back must get it too.
        let started_meanwhile = app.another_instance_with(Options::default()).await;
        let mut late_socket = in_place(
            subscribe_after(&started_meanwhile.address, &app.token, &late, Some(&version)).await,
        )
        .await;

        txn.commit().await.unwrap();
        let (_, sent) = next_list(&mut late_socket, Duration::from_secs(2))
            .await
            .expect("the late change reached the instance started before it committed");
        assert_eq!(sent, [3]);
        let (sent_version, sent) = next_list(&mut socket, Duration::from_secs(2))
            .await
            .expect("the late change reached the subscriber");
        assert_eq!(sent, [3]);
        assert!(version_number(&sent_version) > version_number(&version));
        eventually_holds(&app, &late, 3, Duration::from_secs(2)).await;
        assert_eq!(
            metric(&app, "change_log_late_rows_total").await,
            late_before + 1,
            "read as a late row, through its hole"
        );
        assert_eq!(metric(&app, "change_log_missed_total").await, 0);
    })
    .await;
}

/// Where `url` points, for a `TcpProxy` to stand in front of it.
fn address_of(url: &reqwest::Url) -> SocketAddr {
    format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_reader_that_loses_the_database_resumes_where_it_was() {
    for backend in backends() {
        let Backend::Postgres(url) = &backend else {
            eprintln!("skipped on SQLite: an embedded file cannot go away");
            continue;
        };
        let upstream = address_of(&reqwest::Url::parse(url).unwrap());
        let proxy = Arc::new(TcpProxy::start(upstream).await);
        run_on(&backend, &Options::default(), &|writer: TestApp| {
            let proxy = Arc::clone(&proxy);
            async move {
                // The reader instance reaches PostgreSQL through the proxy; the writer directly.
                let mut proxied = reqwest::Url::parse(
                    &writer
                        .pairs
                        .iter()
                        .find(|(key, _)| key == "DATABASE_URL")
                        .unwrap()
                        .1,
                )
                .unwrap();
                proxied.set_port(Some(proxy.address.port())).unwrap();
                let reader = writer
                    .another_instance_with(
                        Options::default()
                            .with("DATABASE_URL", &proxied)
                            .with("DATABASE_ACQUIRE_TIMEOUT_MS", 1_000),
                    )
                    .await;
                let client = writer.create_client("Ana", "ana@example.com").await;
                let (version, _) = list(&reader, &client).await;
                list(&reader, &client).await; // cached on the reader
                // In place before the outage (nothing is due: the list is at `version`).
                let mut socket = in_place(
                    subscribe_after(&reader.address, &reader.token, &client, Some(&version)).await,
                )
                .await;

                proxy.go_down();
                writer.add_favorite(&client, 7).await;
                // Long enough for the reader to fail a read (it polls every second).
                let deadline = Instant::now() + Duration::from_secs(5);
                while metric(&reader, "change_log_read_errors_total").await == 0 {
                    assert!(
                        Instant::now() < deadline,
                        "the reader never noticed the outage"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                proxy.come_back();

                let (_, sent) = next_list(&mut socket, Duration::from_secs(5))
                    .await
                    .expect("the change made while the reader was away");
                assert_eq!(sent, [7]);
                eventually_holds(&reader, &client, 7, Duration::from_secs(5)).await;
                assert_eq!(
                    metric(&reader, "change_log_missed_total").await,
                    0,
                    "resumed from its place, not by dropping everything"
                );
            }
        })
        .await;
    }
}

#[tokio::test]
async fn a_subscriber_that_reconnects_with_after_ends_with_the_final_list_of_a_two_instance_storm()
{
    each_backend(|first| async move {
        // SQLite is one process's database: one instance there, PostgreSQL gets two.
        let second = match first.backend {
            Backend::Sqlite => first.clone(),
            Backend::Postgres(_) => first.another_instance_with(Options::default()).await,
        };
        let instances = [first.clone(), second.clone()];
        let watched = first.create_client("Watched", "watched@example.com").await;
        let others: Vec<String> = join_all((0..4).map(|i| {
            let first = first.clone();
            async move {
                first
                    .create_client(&format!("Other {i}"), &format!("other{i}@example.com"))
                    .await
            }
        }))
        .await;
        let (start_version, _) = list(&first, &watched).await;
        let mut socket =
            subscribe_after(&first.address, &first.token, &watched, Some(&start_version)).await;

        // 16 writers, half through each instance, each 24 adds and removes of random products
        // on the watched list (and some on others).
        let writers = (0..16).map(|writer| {
            let app = instances[writer % 2].clone();
            let (watched, others) = (watched.clone(), others.clone());
            tokio::spawn(async move {
                for step in 0..24_u64 {
                    let seed = (writer as u64 * 7919 + step * 104_729) % 1_000_003;
                    let product = (seed % 20 + 1) as i64;
                    let client = if seed.is_multiple_of(5) {
                        &others[(seed % 4) as usize]
                    } else {
                        &watched
                    };
                    let body = if seed.is_multiple_of(3) {
                        app.remove_favorite(client, product).await
                    } else {
                        app.add_favorite(client, product).await
                    };
                    assert!(body.get("errors").is_none(), "{body}");
                }
            })
        });
        let writers = tokio::spawn(join_all(writers));

        // Read a few lists, drop the connection mid-run, reconnect (to the other instance)
        // with the last version seen.
        let mut seen: Vec<(String, Vec<i64>)> = Vec::new();
        while seen.len() < 3 {
            match next_list(&mut socket, Duration::from_secs(5)).await {
                Some(list) => seen.push(list),
                None => panic!("no list while the writers ran"),
            }
        }
        drop(socket);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let resume_from = seen.last().unwrap().0.clone();
        let mut socket =
            subscribe_after(&second.address, &second.token, &watched, Some(&resume_from)).await;
        for finished in writers.await.unwrap() {
            finished.unwrap();
        }
        let (final_version, final_list) = list(&first, &watched).await;

        while seen.last().map(|(version, _)| version) != Some(&final_version) {
            let next = next_list(&mut socket, Duration::from_secs(5))
                .await
                .unwrap_or_else(|| {
                    panic!(
                        "never sent the final version {final_version}; last {:?}",
                        seen.last()
                    )
                });
            seen.push(next);
        }
        assert_eq!(
            seen.last().unwrap().1,
            final_list,
            "the final version is the final list"
        );
        let versions: Vec<u64> = seen
            .iter()
            .map(|(version, _)| version_number(version))
            .collect();
        assert!(
            versions.windows(2).all(|pair| pair[0] < pair[1]),
            "never a list older than (or the same as) one sent before: {versions:?}"
        );
        assert!(
            next_list(&mut socket, Duration::from_millis(300))
                .await
                .is_none(),
            "nothing after the last change"
        );
        // And `products_ref` is exact again once the prune has run.
        first.pruned_product_refs().await;
    })
    .await;
}
