//! The GraphiQL page: from a CDN by default, or with its assets served locally
//! (`GRAPHIQL_ASSETS_DIR`), then pointing nowhere else; exactly the four asset files are served
//! (nothing else from their folder, no link, nothing outside it), and the page offers the demo
//! login only while the demo password is in use. (That the page keeps nothing in the browser's
//! storage is checked in Chromium: checks/browser.)

use std::os::unix::fs::symlink;

use reqwest::StatusCode;
use reqwest::header::CONTENT_SECURITY_POLICY;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::app::{Options, each_backend, each_backend_with};
use crate::support::binary::{Server, WorkDir, refused_start};

#[tokio::test]
async fn graphiql_uses_a_cdn_by_default() {
    each_backend(|app| async move {
        let response = app.get_page("/graphql").await;
        assert_eq!(response.status(), StatusCode::OK);
        let policy = response.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let html = response.text().await.unwrap();
        assert!(
            html.contains("https://cdn.jsdelivr.net/npm/graphiql@4.1.2/"),
            "{html}"
        );
        assert!(html.contains("/graphiql/app.js"), "{html}");
        assert!(policy.contains("https://cdn.jsdelivr.net"), "{policy}");
        let script = app.get("/graphiql/app.js").await;
        assert_eq!(script.status(), StatusCode::OK);
        assert!(script.text().await.unwrap().contains("Authorization"));
    })
    .await;
}

#[tokio::test]
async fn graphiql_serves_local_assets_and_points_nowhere_else() {
    let dir = std::env::temp_dir().join(format!("graphiql-assets-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in favorites_api::http::GRAPHIQL_ASSET_FILES {
        std::fs::write(dir.join(file), format!("/* {file} */")).unwrap();
    }
    let options = Options::default().with("GRAPHIQL_ASSETS_DIR", dir.display());
    each_backend_with(options, |app| async move {
        let response = app.get_page("/graphql").await;
        let policy = response.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let html = response.text().await.unwrap();
        assert!(!html.contains("https://"), "a remote URL in {html}");
        assert!(!policy.contains("https://"), "a remote source in {policy}");
        for file in favorites_api::http::GRAPHIQL_ASSET_FILES {
            assert!(html.contains(&format!("/graphiql/assets/{file}")), "{html}");
            let asset = app.get(&format!("/graphiql/assets/{file}")).await;
            assert_eq!(asset.status(), StatusCode::OK, "{file}");
            assert_eq!(asset.text().await.unwrap(), format!("/* {file} */"));
        }
        // Only what is in the folder. Written on the socket: an HTTP client would resolve the
        // `..` itself. The target exists, next to the assets folder.
        let name = format!("graphiql-escape-{}.txt", uuid::Uuid::new_v4());
        let outside = std::env::temp_dir().join(&name);
        std::fs::write(&outside, "secret").unwrap();
        let mut socket = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
            .await
            .unwrap();
        let request = format!(
            "GET /graphiql/assets/../{name} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).await.unwrap();
        std::fs::remove_file(&outside).unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
        assert!(!answer.contains("secret"), "{answer}");
    })
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}

const DEMO_HASH: &str = "$2b$12$jN1NmXIy5YgRZAH.h90uwOExGS2d0jldCsG3Udfb2Ck/XrBand1Ou";

fn assets_dir() -> WorkDir {
    let dir = WorkDir::new();
    for file in favorites_api::http::GRAPHIQL_ASSET_FILES {
        dir.write(file, &format!("/* {file} */"));
    }
    dir
}

#[tokio::test]
async fn nothing_but_the_four_files_is_served_from_the_assets_folder() {
    let dir = assets_dir();
    dir.write(".env", "SECRET_KEY=a-secret-in-the-wrong-place-0123456789");
    dir.write("notes.txt", "private notes");
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    dir.write("sub/more.js", "more");
    let options = Options::default().with("GRAPHIQL_ASSETS_DIR", dir.path().display());
    each_backend_with(options, |app| async move {
        for file in favorites_api::http::GRAPHIQL_ASSET_FILES {
            let asset = app.get(&format!("/graphiql/assets/{file}")).await;
            assert_eq!(asset.status(), 200, "{file}");
        }
        for other in [".env", "notes.txt", "sub/more.js", "", "sub/"] {
            let response = app.get(&format!("/graphiql/assets/{other}")).await;
            assert_eq!(response.status(), 404, "{other}");
            assert!(!response.text().await.unwrap().contains("secret"));
        }
    })
    .await;
}

#[tokio::test]
async fn an_asset_that_is_a_link_stops_the_start() {
    let dir = assets_dir();
    let file = favorites_api::http::GRAPHIQL_ASSET_FILES[1];
    std::fs::remove_file(dir.path().join(file)).unwrap();
    symlink("/etc/passwd", dir.path().join(file)).unwrap();
    let path = dir.path().display().to_string();
    let refused = refused_start(WorkDir::new(), &[("GRAPHIQL_ASSETS_DIR", &path)]).await;
    assert!(
        refused.stderr.contains(file) && refused.stderr.contains("not a regular file"),
        "{}",
        refused.stderr
    );
    drop(dir);
}

async fn opening_page(server: &Server) -> String {
    reqwest::Client::new()
        .get(format!("{}/graphql", server.base))
        .header("accept", crate::support::app::BROWSER_ACCEPT)
        .send()
        .await
        .expect("the page")
        .text()
        .await
        .expect("HTML")
}

#[tokio::test]
async fn the_page_offers_the_demo_login_only_with_the_demo_password() {
    let demo = Server::start(&[("MASTER_PASSWORD_HASH", DEMO_HASH)]).await;
    assert!(
        opening_page(&demo)
            .await
            .contains("data-demo-login=\"true\"")
    );
    let own = Server::start(&[]).await;
    assert!(
        opening_page(&own)
            .await
            .contains("data-demo-login=\"false\"")
    );
}
