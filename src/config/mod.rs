//! Typed settings, loaded in layers (see `layers`): built-in defaults < `.env` <
//! `favorites.toml` < the process environment. Each key is declared once, in `settings.rs`;
//! parsing it is validating it, so an invalid `Settings` cannot be built and the rest of the
//! program trusts the values it is given. Keys keep the seed service's names (`DATABASE_URL`,
//! `SECRET_KEY`, ...) so an operator can reuse a seed `.env` as it is.

pub(crate) mod declare;
mod layers;
mod parse;
mod settings;
mod values;

use std::path::Path;

use secrecy::ExposeSecret;

pub use declare::{Key, markdown_table};
pub use layers::Source;
pub use settings::{
    DEFAULT_LOG_FILTER, KEYS, MAX_TOKEN_EXPIRE_MINUTES, MIN_SECRET_KEY_BYTES, Settings,
};
pub use values::{CatalogSource, CorsOrigins, DatabaseKind, DatabaseUrl, LogFormat};

use layers::Layers;

/// The `iss` of this service's own tokens; an identity provider may not claim it.
pub const OUR_TOKEN_ISSUER: &str = "favorites-api";

/// The committed `.env`'s key and password hash (of `favorite_products_password`, printed in the
/// README): public, so they only work on a loopback address.
pub const DEMO_SECRET_KEY: &str = "demo-secret-key-change-me-0123456789abcdef";
pub const DEMO_PASSWORD_HASH: &str = "$2b$12$jN1NmXIy5YgRZAH.h90uwOExGS2d0jldCsG3Udfb2Ck/XrBand1Ou";

/// A configuration problem, worded as one line that names the key at fault (never its value).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {key} {problem}")]
    Invalid { key: String, problem: String },
    #[error("configuration: cannot read {path}: {reason}")]
    File { path: String, reason: String },
}

impl ConfigError {
    fn invalid(key: &str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Settings with the layer each secret came from, for the start-up log.
pub struct Loaded {
    pub settings: Settings,
    /// `(key, layer)` for every secret key that is set.
    pub secret_sources: Vec<(&'static str, Source)>,
}

impl Settings {
    /// Loads settings from `favorites.toml` and `.env` in the working directory, then the
    /// process environment.
    pub fn load() -> Result<Loaded, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(Path::new("favorites.toml"), Path::new(".env"), env)
    }

    /// Loads settings from explicit sources; `load` and the tests share this path.
    pub fn load_from(
        toml_path: &Path,
        dotenv_path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let layers = Layers::read(KEYS, toml_path, dotenv_path, env)?;
        let settings = Self::parse_layers(&layers)?;
        settings.check_together()?;
        let secret_sources = KEYS
            .iter()
            .filter(|key| key.secret)
            .map(|key| (key.name, layers.source(key.name)))
            .filter(|(_, source)| *source != Source::Default)
            .collect();
        Ok(Loaded {
            settings,
            secret_sources,
        })
    }

    /// The defaults with `pairs` on top (as if set in the environment), validated like any
    /// other settings: what tests and tools start from.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError> {
        let pairs = pairs
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()));
        let settings = Self::parse_layers(&Layers::from_pairs(KEYS, pairs))?;
        settings.check_together()?;
        Ok(settings)
    }

    /// Rules that span several keys; each key's own rules are its parser.
    fn check_together(&self) -> Result<(), ConfigError> {
        if !self.listen_addr.ip().is_loopback() {
            let address = self.listen_addr;
            if self.secret_key.expose_secret() == DEMO_SECRET_KEY {
                return Err(ConfigError::invalid(
                    "SECRET_KEY",
                    format!(
                        "is the demo key of the committed .env, which anyone can sign tokens with: set \
                         your own before listening on {address} (the demo key works on loopback only)"
                    ),
                ));
            }
            if self.uses_demo_password() {
                return Err(ConfigError::invalid(
                    "MASTER_PASSWORD_HASH",
                    format!(
                        "is the demo password's hash (the password is in the README): set your own \
                         before listening on {address} (the demo login works on loopback only)"
                    ),
                ));
            }
        }
        let provider = [
            self.auth_jwks_url.is_some(),
            self.auth_jwt_issuer.is_some(),
            self.auth_jwt_audience.is_some(),
        ];
        if provider.contains(&true) && provider.contains(&false) {
            return Err(ConfigError::invalid(
                "AUTH_JWKS_URL",
                "AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE go together: set all three, or none",
            ));
        }
        if self.auth_jwt_issuer.as_deref() == Some(OUR_TOKEN_ISSUER) {
            return Err(ConfigError::invalid(
                "AUTH_JWT_ISSUER",
                format!(
                    "must not be {OUR_TOKEN_ISSUER:?}, the issuer of this service's own tokens"
                ),
            ));
        }
        Ok(())
    }

    /// Whether the admin's password is the demo one (GraphiQL then offers it).
    pub fn uses_demo_password(&self) -> bool {
        self.master_password_hash.expose_secret() == DEMO_PASSWORD_HASH
    }

    /// The identity provider's settings, when all three are set.
    pub fn identity_provider(&self) -> Option<(&reqwest::Url, &str, &str)> {
        Some((
            self.auth_jwks_url.as_ref()?,
            self.auth_jwt_issuer.as_deref()?,
            self.auth_jwt_audience.as_deref()?,
        ))
    }
}

/// Just what `favorites-api migrate` needs, so migrations can run without the app's secrets.
#[derive(Clone, Debug)]
pub struct DatabaseTarget {
    pub database_url: DatabaseUrl,
    pub database_schema: Option<String>,
}

impl DatabaseTarget {
    pub fn load() -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let layers = Layers::read(KEYS, Path::new("favorites.toml"), Path::new(".env"), env)?;
        Ok(Self {
            database_url: settings::ReadKey::database_url(&layers)?,
            database_schema: settings::ReadKey::database_schema(&layers)?,
        })
    }
}

#[cfg(test)]
mod tests;
