//! Tokens from the store's identity provider (Auth0, Keycloak, Cognito...), checked against its
//! JWKS. The provider vouches for an e-mail address; the service layer turns that into a client.
//!
//! - The key is chosen by the token's `kid`, and the algorithm by the key: RS256 for an RSA key,
//!   ES256 for a P-256 key, EdDSA for an Ed25519 key, and nothing else. A token whose header
//!   names another algorithm is refused, so no header can pick the algorithm (an HS256 token is
//!   never checked with a JWKS key, and symmetric keys in a JWKS are ignored).
//! - `iss`, `aud` and `exp` are required (`nbf` honoured, 30 s of leeway).
//! - The JWKS is fetched when first needed, again when a token names a `kid` we do not know
//!   (one fetch at a time, at most once per `min_refresh`, so made-up `kid`s cannot make us hammer
//!   the provider), and in the background once the keys are older than `MAX_KEY_AGE` (so a key
//!   the provider withdrew stops working). A failed fetch keeps the keys we have.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::AuthError;
use super::tokens::LEEWAY_SECONDS;
use crate::config::Settings;
use crate::sync::{read, write};

/// Past this age the keys are fetched again in the background (used meanwhile).
const MAX_KEY_AGE: Duration = Duration::from_secs(15 * 60);
/// A JWKS is a few KiB; anything near this is not one.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct IdentityProviderSettings {
    pub jwks_url: reqwest::Url,
    pub issuer: String,
    pub audience: String,
    /// The claim holding the shopper's e-mail address.
    pub email_claim: String,
    /// The least time between two fetches of the JWKS.
    pub min_refresh: Duration,
    /// The most a fetch of the JWKS may take.
    pub fetch_timeout: Duration,
}

impl IdentityProviderSettings {
    /// `None` unless `AUTH_JWKS_URL`, `AUTH_JWT_ISSUER` and `AUTH_JWT_AUDIENCE` are all set.
    pub fn from_settings(settings: &Settings) -> Option<Self> {
        let (jwks_url, issuer, audience) = settings.identity_provider()?;
        Some(Self {
            jwks_url: jwks_url.clone(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            email_claim: settings.auth_email_claim.clone(),
            min_refresh: settings.auth_jwks_min_refresh,
            fetch_timeout: settings.auth_jwks_timeout,
        })
    }
}

/// What a verified provider token says about its bearer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// As the token has it; the service layer parses it.
    pub email: String,
    /// The `name` claim, if any.
    pub name: Option<String>,
    pub token_expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct IdentityProvider {
    inner: Arc<Inner>,
}

struct Inner {
    settings: IdentityProviderSettings,
    http: reqwest::Client,
    keys: RwLock<KeySet>,
    /// Held while fetching: one fetch at a time, and when the last one started.
    fetching: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, VerifyingKey>,
    fetched_at: Option<Instant>,
}

#[derive(Clone)]
struct VerifyingKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

impl IdentityProvider {
    pub fn new(settings: IdentityProviderSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .connect_timeout(settings.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("favorites-api/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                http,
                keys: RwLock::new(KeySet::default()),
                fetching: tokio::sync::Mutex::new(None),
            }),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.inner.settings.issuer
    }

    pub async fn verify(&self, token: &str) -> Result<ExternalIdentity, AuthError> {
        let invalid = |why: String| AuthError::InvalidToken(why);
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(e.to_string()))?;
        let kid = header
            .kid
            .ok_or_else(|| invalid("no kid in the header".into()))?;
        let key = self.key(&kid).await?;
        if header.alg != key.algorithm {
            return Err(invalid(format!(
                "the header says {:?}, the key is for {:?}",
                header.alg, key.algorithm
            )));
        }
        let settings = &self.inner.settings;
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| invalid(e.to_string()))?
            .claims;
        if matches!(claims.get("email_verified"), Some(Value::Bool(false)))
            || matches!(claims.get("email_verified"), Some(Value::String(s)) if s == "false")
        {
            return Err(invalid("the e-mail address is not verified".into()));
        }
        let email = claims
            .get(&settings.email_claim)
            .and_then(Value::as_str)
            .filter(|email| !email.trim().is_empty())
            .ok_or_else(|| invalid(format!("no `{}` claim", settings.email_claim)))?;
        let token_expires_at = claims
            .get("exp")
            .and_then(Value::as_i64)
            .and_then(|exp| DateTime::from_timestamp(exp, 0))
            .ok_or_else(|| invalid("exp out of range".into()))?;
        Ok(ExternalIdentity {
            email: email.to_owned(),
            name: claims
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            token_expires_at,
        })
    }

    /// The key named `kid`: from what we have, or from a fetch if we have no such key.
    async fn key(&self, kid: &str) -> Result<VerifyingKey, AuthError> {
        let (known, old) = {
            let keys = read(&self.inner.keys);
            let old = keys.fetched_at.is_some_and(|at| at.elapsed() > MAX_KEY_AGE);
            (keys.by_kid.get(kid).cloned(), old)
        };
        if let Some(key) = known {
            if old {
                let provider = self.clone();
                tokio::spawn(async move { provider.refresh().await });
            }
            return Ok(key);
        }
        self.refresh().await;
        read(&self.inner.keys)
            .by_kid
            .get(kid)
            .cloned()
            .ok_or_else(|| AuthError::InvalidToken(format!("no key {kid:?} in the JWKS")))
    }

    /// Fetches the JWKS, unless a fetch started while we waited for our turn or the last one was
    /// less than `min_refresh` ago. On failure the keys we have stay.
    async fn refresh(&self) {
        let asked_at = Instant::now();
        let mut last_fetch = self.inner.fetching.lock().await;
        if last_fetch
            .is_some_and(|at| at >= asked_at || at.elapsed() < self.inner.settings.min_refresh)
        {
            return;
        }
        *last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(by_kid) => {
                tracing::info!(keys = by_kid.len(), "identity provider keys fetched");
                *write(&self.inner.keys) = KeySet {
                    by_kid,
                    fetched_at: Some(Instant::now()),
                };
            }
            Err(error) => tracing::warn!(
                %error,
                url = %self.inner.settings.jwks_url,
                "cannot fetch the identity provider's JWKS; keeping the keys we have"
            ),
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, VerifyingKey>, String> {
        let settings = &self.inner.settings;
        let call = async {
            let mut response = self
                .inner
                .http
                .get(settings.jwks_url.clone())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("HTTP {}", response.status().as_u16()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
                if body.len() + chunk.len() > MAX_JWKS_BYTES {
                    return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        let body = tokio::time::timeout(settings.fetch_timeout, call)
            .await
            .map_err(|_| format!("no answer within {} ms", settings.fetch_timeout.as_millis()))??;
        let set: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
        let keys: HashMap<String, VerifyingKey> = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("no `keys` array")?
            .iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value.clone()).ok())
            .filter_map(|jwk| usable(&jwk))
            .collect();
        if keys.is_empty() {
            return Err("no usable key (RS256, ES256 or EdDSA, each with a kid)".to_owned());
        }
        Ok(keys)
    }
}

/// A JWKS key we can verify with, and the one algorithm it is for; `None` for anything else.
fn usable(jwk: &Jwk) -> Option<(String, VerifyingKey)> {
    let kid = jwk.common.key_id.clone()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        // Symmetric keys (`oct`) above all: a JWKS is public.
        _ => return None,
    };
    let declared_matches = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => algorithm == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => algorithm == Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) => algorithm == Algorithm::EdDSA,
        Some(_) => false,
    };
    if !declared_matches {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, VerifyingKey { algorithm, key }))
}
