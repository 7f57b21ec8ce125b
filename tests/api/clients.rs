use serde_json::json;

use crate::support::app::{each_backend, error_codes};

const CREATE: &str = "mutation($input: CreateClientInput!) { createClient(input: $input) { id name email createdAt updatedAt favorites { totalCount } } }";
const UPDATE: &str = "mutation($id: UUID!, $input: UpdateClientInput!) { updateClient(id: $id, input: $input) { id name email createdAt updatedAt } }";
const GET: &str = "query($id: UUID!) { client(id: $id) { id name email } }";

#[tokio::test]
async fn create_client_trims_and_lowercases() {
    each_backend(|app| async move {
        let data = app
            .data(
                CREATE,
                json!({ "input": { "name": "  Ana Silva ", "email": " Ana.Silva@Example.COM " } }),
            )
            .await;
        let client = &data["createClient"];
        assert_eq!(client["name"], "Ana Silva");
        assert_eq!(client["email"], "ana.silva@example.com");
        assert_eq!(client["createdAt"], client["updatedAt"]);
        assert_eq!(client["favorites"]["totalCount"], 0);
        let id = client["id"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);

        let fetched = app.data(GET, json!({ "id": id })).await;
        assert_eq!(fetched["client"]["email"], "ana.silva@example.com");
        let by_email = app
            .data(
                "query($e: String!) { clientByEmail(email: $e) { id } }",
                json!({ "e": "ANA.SILVA@example.com" }),
            )
            .await;
        assert_eq!(by_email["clientByEmail"]["id"], id);
    })
    .await;
}

#[tokio::test]
async fn invalid_input_is_refused_and_nothing_is_written() {
    each_backend(|app| async move {
        let long_name = "x".repeat(101);
        let long_email = format!("{}@example.com", "a".repeat(250));
        for (name, email) in [
            ("", "a@example.com"),
            ("   ", "a@example.com"),
            (long_name.as_str(), "a@example.com"),
            ("Ana", "not-an-email"),
            ("Ana", "ana@"),
            ("Ana", ""),
            ("Ana", long_email.as_str()),
        ] {
            let body = app
                .graphql(CREATE, json!({ "input": { "name": name, "email": email } }))
                .await;
            assert_eq!(
                error_codes(&body),
                ["BAD_USER_INPUT"],
                "{name:?} {email:?}: {body}"
            );
        }
        // A missing field is caught by async-graphql's input coercion, still with a code.
        let body = app
            .graphql(CREATE, json!({ "input": { "name": "Ana" } }))
            .await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        let count = app.data("{ clients { totalCount } }", json!({})).await;
        assert_eq!(count["clients"]["totalCount"], 0);
    })
    .await;
}

#[tokio::test]
async fn emails_are_unique_regardless_of_case() {
    each_backend(|app| async move {
        app.create_client("Ana", "ana@example.com").await;
        let body = app
            .graphql(
                CREATE,
                json!({ "input": { "name": "Other", "email": "ANA@example.com" } }),
            )
            .await;
        assert_eq!(error_codes(&body), ["EMAIL_TAKEN"], "{body}");
        let count = app.data("{ clients { totalCount } }", json!({})).await;
        assert_eq!(count["clients"]["totalCount"], 1);
    })
    .await;
}

#[tokio::test]
async fn absent_clients_are_null() {
    each_backend(|app| async move {
        let data = app
            .data(GET, json!({ "id": uuid::Uuid::now_v7().to_string() }))
            .await;
        assert!(data["client"].is_null());
        let data = app
            .data(
                "query($e: String!) { clientByEmail(email: $e) { id } }",
                json!({ "e": "nobody@example.com" }),
            )
            .await;
        assert!(data["clientByEmail"].is_null());
        let body = app
            .graphql(
                "query($e: String!) { clientByEmail(email: $e) { id } }",
                json!({ "e": "not an email" }),
            )
            .await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    })
    .await;
}

#[tokio::test]
async fn update_changes_only_the_given_fields() {
    each_backend(|app| async move {
        let id = app.create_client("Ana", "ana@example.com").await;
        let before =
            app.data(UPDATE, json!({ "id": id, "input": {} })).await["updateClient"].clone();
        assert_eq!(before["name"], "Ana");
        assert_eq!(
            before["createdAt"], before["updatedAt"],
            "an empty update changes nothing"
        );

        let renamed = app
            .data(
                UPDATE,
                json!({ "id": id, "input": { "name": " Ana Maria " } }),
            )
            .await["updateClient"]
            .clone();
        assert_eq!(renamed["name"], "Ana Maria");
        assert_eq!(renamed["email"], "ana@example.com");
        assert_eq!(renamed["createdAt"], before["createdAt"]);
        assert_ne!(renamed["updatedAt"], before["updatedAt"]);

        let moved = app
            .data(
                UPDATE,
                json!({ "id": id, "input": { "email": "ANA.M@example.com", "name": null } }),
            )
            .await["updateClient"]
            .clone();
        assert_eq!(moved["name"], "Ana Maria");
        assert_eq!(moved["email"], "ana.m@example.com");

        let stored = app.data(GET, json!({ "id": id })).await;
        assert_eq!(stored["client"]["name"], "Ana Maria");
        assert_eq!(stored["client"]["email"], "ana.m@example.com");
    })
    .await;
}

#[tokio::test]
async fn update_errors_are_typed() {
    each_backend(|app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        app.create_client("Bia", "bia@example.com").await;
        let taken = app
            .graphql(
                UPDATE,
                json!({ "id": ana, "input": { "email": "BIA@example.com" } }),
            )
            .await;
        assert_eq!(error_codes(&taken), ["EMAIL_TAKEN"], "{taken}");
        let missing = app
            .graphql(
                UPDATE,
                json!({ "id": uuid::Uuid::now_v7().to_string(), "input": { "name": "X" } }),
            )
            .await;
        assert_eq!(error_codes(&missing), ["NOT_FOUND"], "{missing}");
        let empty_name = app
            .graphql(UPDATE, json!({ "id": ana, "input": { "name": " " } }))
            .await;
        assert_eq!(error_codes(&empty_name), ["BAD_USER_INPUT"]);
        let stored = app.data(GET, json!({ "id": ana })).await;
        assert_eq!(stored["client"]["email"], "ana@example.com");
        assert_eq!(stored["client"]["name"], "Ana");
    })
    .await;
}

#[tokio::test]
async fn delete_returns_the_id_and_removes_the_client() {
    each_backend(|app| async move {
        let id = app.create_client("Ana", "ana@example.com").await;
        let deleted = app
            .data(
                "mutation($id: UUID!) { deleteClient(id: $id) }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(deleted["deleteClient"], id.as_str());
        assert!(app.data(GET, json!({ "id": id })).await["client"].is_null());
        let again = app
            .graphql(
                "mutation($id: UUID!) { deleteClient(id: $id) }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(error_codes(&again), ["NOT_FOUND"]);
        // The address is free again.
        app.create_client("Ana", "ana@example.com").await;
    })
    .await;
}
