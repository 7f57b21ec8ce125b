//! The configuration as an operator meets it: layers, bounds, refusals, the README's table.

use super::*;

/// Not the demo hash: a test's own (`printf 'config-test' | favorites-api hash-password --cost 4`).
const HASH: &str = "$2b$04$DMt/2e8VOxyWyR73N80zhOBoii5H3d8sCiS7w2Tzn6qtUFipYm2xi";
const KEY: (&str, &str) = ("SECRET_KEY", "0123456789abcdef0123456789abcdef");

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::load_from(
        Path::new("/nonexistent/favorites.toml"),
        Path::new("/nonexistent/.env"),
        env(pairs),
    )
    .map(|loaded| loaded.settings)
}

/// A directory of its own for a test's files, removed afterwards.
struct Dir(std::path::PathBuf);

impl Dir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("favorites-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str, text: &str) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn numeric_secret_stays_a_string() {
    let key = "12345678901234567890123456789012345";
    let settings = load(&[("SECRET_KEY", key), ("MASTER_PASSWORD_HASH", HASH)]).unwrap();
    assert_eq!(settings.secret_key.expose_secret(), key);
    assert_eq!(settings.master_token_lifetime.as_secs(), 480 * 60);
    assert_eq!(settings.listen_addr.port(), 8000);
}

#[test]
fn missing_secret_names_the_key() {
    let err = load(&[("MASTER_PASSWORD_HASH", HASH)]).unwrap_err();
    assert!(err.to_string().contains("SECRET_KEY"), "{err}");
}

#[test]
fn short_secret_is_refused() {
    let err = load(&[("SECRET_KEY", "short"), ("MASTER_PASSWORD_HASH", HASH)]).unwrap_err();
    assert!(err.to_string().contains("SECRET_KEY"), "{err}");
    assert!(!err.to_string().contains("short"), "secret leaked: {err}");
}

#[test]
fn bad_number_names_the_key() {
    let err = load(&[
        KEY,
        ("MASTER_PASSWORD_HASH", HASH),
        ("PRODUCT_CACHE_TTL_SECONDS", "soon"),
    ])
    .unwrap_err();
    assert!(
        err.to_string().contains("PRODUCT_CACHE_TTL_SECONDS"),
        "{err}"
    );
}

#[test]
fn absurd_values_are_refused_not_overflowed() {
    for (key, value) in [
        ("MASTER_TOKEN_EXPIRE_MINUTES", "1000000000000"),
        ("REQUEST_TIMEOUT_MS", "18446744073709551615"),
        ("PRODUCT_STALE_SECONDS", "18446744073709551615"),
        ("UPSTREAM_BREAKER_COOL_DOWN_MS", "99999999999999"),
        ("DATABASE_SCHEMA", &"s".repeat(64)),
    ] {
        let err = load(&[KEY, ("MASTER_PASSWORD_HASH", HASH), (key, value)]).unwrap_err();
        assert!(err.to_string().contains(key), "{key}: {err}");
    }
}

#[test]
fn wrongly_typed_secret_is_not_echoed() {
    let dir = Dir::new();
    let toml = dir.file("favorites.toml", "secret_key = [987654321987654321]\n");
    let err = Settings::load_from(
        &toml,
        Path::new("/nonexistent/.env"),
        env(&[("MASTER_PASSWORD_HASH", HASH)]),
    )
    .err()
    .expect("refused");
    assert!(err.to_string().contains("SECRET_KEY"), "{err}");
    assert!(
        !err.to_string().contains("987654321"),
        "secret leaked: {err}"
    );
}

#[test]
fn the_operators_file_beats_the_demo_dotenv_and_the_environment_beats_both() {
    let dir = Dir::new();
    let dotenv = dir.file(".env", "SECRET_KEY=demo-secret-key-change-me-0123456789abcdef\nREDIS_KEY_PREFIX=from-dotenv\nMAX_BATCH_SIZE=3\n");
    let toml = dir.file(
        "favorites.toml",
        "secret_key = \"the-operators-real-secret-0123456789\"\nmax_batch_size = 4\n",
    );
    let loaded = Settings::load_from(
        &toml,
        &dotenv,
        env(&[("MASTER_PASSWORD_HASH", HASH), ("MAX_BATCH_SIZE", "5")]),
    )
    .unwrap();
    let settings = &loaded.settings;
    assert_eq!(
        settings.secret_key.expose_secret(),
        "the-operators-real-secret-0123456789"
    );
    assert_eq!(settings.redis_key_prefix, "from-dotenv");
    assert_eq!(settings.max_batch_size, 5);
    assert_eq!(
        loaded.secret_sources,
        [
            ("SECRET_KEY", Source::File(toml.clone())),
            ("MASTER_PASSWORD_HASH", Source::Environment)
        ]
    );
}

#[test]
fn an_unknown_key_in_the_file_is_refused() {
    let dir = Dir::new();
    let toml = dir.file(
        "favorites.toml",
        "secret_kye = \"0123456789abcdef0123456789abcdef\"\n",
    );
    let err = Settings::load_from(
        &toml,
        Path::new("/nonexistent/.env"),
        env(&[KEY, ("MASTER_PASSWORD_HASH", HASH)]),
    )
    .err()
    .expect("refused");
    assert!(err.to_string().contains("secret_kye"), "{err}");
}

#[test]
fn redis_key_prefix_has_a_default_and_must_be_one_word() {
    let hash = ("MASTER_PASSWORD_HASH", HASH);
    let settings = load(&[KEY, hash]).unwrap();
    assert_eq!(settings.redis_key_prefix, "favorites-api");
    assert!(settings.redis_url.is_none());
    let err = load(&[KEY, hash, ("REDIS_KEY_PREFIX", "two words")]).unwrap_err();
    assert!(err.to_string().contains("REDIS_KEY_PREFIX"), "{err}");
}

#[test]
fn bad_hash_is_refused() {
    let err = load(&[KEY, ("MASTER_PASSWORD_HASH", "plaintext")]).unwrap_err();
    assert!(err.to_string().contains("MASTER_PASSWORD_HASH"), "{err}");
}

#[test]
fn the_identity_provider_is_all_three_keys_or_none() {
    let base = [KEY, ("MASTER_PASSWORD_HASH", HASH)];
    let url = ("AUTH_JWKS_URL", "https://idp.example.com/jwks.json");
    let issuer = ("AUTH_JWT_ISSUER", "https://idp.example.com/");
    let audience = ("AUTH_JWT_AUDIENCE", "favorites");
    assert!(
        load(&[base[0], base[1], url, issuer, audience])
            .unwrap()
            .identity_provider()
            .is_some()
    );
    let err = load(&[base[0], base[1], url, issuer]).unwrap_err();
    assert!(err.to_string().contains("AUTH_JWKS_URL"), "{err}");
    let ours = ("AUTH_JWT_ISSUER", OUR_TOKEN_ISSUER);
    let err = load(&[base[0], base[1], url, ours, audience]).unwrap_err();
    assert!(err.to_string().contains("AUTH_JWT_ISSUER"), "{err}");
}

#[test]
fn the_demo_secrets_work_on_loopback_only() {
    let demo_key = ("SECRET_KEY", DEMO_SECRET_KEY);
    let demo_hash = ("MASTER_PASSWORD_HASH", DEMO_PASSWORD_HASH);
    assert!(load(&[demo_key, demo_hash]).unwrap().uses_demo_password());
    assert!(load(&[demo_key, demo_hash, ("LISTEN_ADDR", "[::1]:8000")]).is_ok());
    let everywhere = ("LISTEN_ADDR", "0.0.0.0:8000");
    let err = load(&[demo_key, ("MASTER_PASSWORD_HASH", HASH), everywhere]).unwrap_err();
    assert!(err.to_string().contains("SECRET_KEY"), "{err}");
    assert!(!err.to_string().contains(DEMO_SECRET_KEY), "{err}");
    let err = load(&[KEY, demo_hash, everywhere]).unwrap_err();
    assert!(err.to_string().contains("MASTER_PASSWORD_HASH"), "{err}");
    assert!(load(&[KEY, ("MASTER_PASSWORD_HASH", HASH), everywhere]).is_ok());
}

#[test]
fn every_default_parses() {
    // Only the keys without a default are needed.
    Settings::from_pairs([KEY, ("MASTER_PASSWORD_HASH", HASH)]).expect("the defaults are valid");
}

/// The README's table is generated from the declaration; print it with
/// `cargo run -- print-settings`.
#[test]
fn the_readme_lists_every_setting_as_declared() {
    let readme = include_str!("../../README.md");
    let table = markdown_table(KEYS);
    assert!(
        readme.contains(&table),
        "README.md's configuration table is out of date; replace it with the output of \
         `cargo run -- print-settings`:\n{table}"
    );
}
