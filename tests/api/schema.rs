/// `schema.graphql` is what SDK generators read: it must be exactly the live schema.
#[test]
fn committed_schema_matches_the_code() {
    let live = favorites_api::graphql::sdl();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .unwrap_or_default();
    assert!(
        committed == live,
        "schema.graphql is out of date; regenerate it with:\n    cargo run -- print-schema > schema.graphql"
    );
}
