//! GraphiQL's local assets are exactly the four files (nothing else from their folder, no link),
//! and the page offers the demo login only while the demo password is in use. (That the page
//! keeps nothing in the browser's storage is checked in Chromium: checks/browser.)

use std::os::unix::fs::symlink;

use crate::binary::{Server, WorkDir, refused_start};
use crate::helpers::{Options, each_backend_with};

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
        .header("accept", crate::helpers::BROWSER_ACCEPT)
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
