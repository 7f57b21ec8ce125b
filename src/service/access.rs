//! Getting in: turning a bearer token into a caller (ours, or the identity provider's, whose
//! e-mail becomes a client), and the per-client request limit.

use super::error::{Limited, ServiceError};
use super::{Result, Services};
use crate::auth::{AuthError, Caller, ClientCaller, Credential, ExternalIdentity, issuer_of};
use crate::db::RepoError;
use crate::db::repositories::clients;
use crate::domain::{ClientEmail, ClientName};

impl Services {
    /// The caller an `Authorization` value speaks for. `None` is a value that is not text. A token
    /// that does not verify is `Caller::Rejected` (its operations answer `UNAUTHENTICATED`); only a
    /// database that cannot be asked who the e-mail belongs to is an error.
    pub(super) async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller> {
        let token = authorization
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(token) = token else {
            return Ok(Caller::Rejected);
        };
        match self.verify(token).await {
            Ok(Credential::Admin(admin)) => Ok(Caller::Admin(admin)),
            Ok(Credential::Client(client)) => Ok(Caller::Client(client)),
            Ok(Credential::Guest(guest)) => Ok(Caller::Guest(guest)),
            Ok(Credential::External(identity)) => self.client_for(identity).await,
            Err(error) => {
                tracing::debug!(%error, "bearer token refused");
                Ok(Caller::Rejected)
            }
        }
    }

    /// Our tokens and the identity provider's are told apart by the issuer they claim; each is
    /// then checked by its own verifier, with its own key and algorithm.
    async fn verify(&self, token: &str) -> std::result::Result<Credential, AuthError> {
        let issuer = issuer_of(token);
        match &self.inner.identity_provider {
            Some(provider) if issuer.as_deref() == Some(provider.issuer()) => {
                provider.verify(token).await.map(Credential::External)
            }
            _ => self.inner.tokens.verify(token),
        }
    }

    /// The client whose e-mail a provider token vouches for (created when allowed).
    async fn client_for(&self, identity: ExternalIdentity) -> Result<Caller> {
        let Ok(email) = ClientEmail::parse(&identity.email) else {
            tracing::info!("identity provider token with an e-mail address we cannot use");
            return Ok(Caller::Rejected);
        };
        let db = &self.inner.db;
        let client = match clients::find_by_email(db, &email).await? {
            Some(client) => client,
            None if self.inner.options.create_clients_from_identity_provider => {
                let name = name_for(identity.name.as_deref(), &email);
                match clients::create(db, &self.inner.changes, name, email.clone()).await {
                    Ok(client) => {
                        tracing::info!(client_id = %client.id, "client created for an identity provider token");
                        client
                    }
                    // Another request of the same shopper created it just now.
                    Err(RepoError::EmailTaken) => clients::find_by_email(db, &email)
                        .await?
                        .ok_or(ServiceError::Internal)?,
                    Err(error) => return Err(error.into()),
                }
            }
            None => {
                tracing::info!("identity provider token for an e-mail address no client has");
                return Ok(Caller::Rejected);
            }
        };
        Ok(Caller::Client(ClientCaller {
            client_id: client.id,
            token_expires_at: identity.token_expires_at,
        }))
    }

    /// Counts `operations` against a client's or a guest's allowance
    /// (`CLIENT_REQUESTS_PER_MINUTE`); the admin and callers without a valid token are not
    /// limited by it.
    pub(super) fn admit(&self, caller: &Caller, operations: u32) -> Result<()> {
        let owner = match caller {
            Caller::Client(client) => client.client_id,
            Caller::Guest(guest) => guest.guest_id,
            Caller::Admin(_) | Caller::Anonymous | Caller::Rejected => return Ok(()),
        };
        self.inner
            .limiter
            .admit(owner, operations)
            .map_err(|retry_after| ServiceError::RateLimited {
                retry_after,
                what: Limited::Requests,
            })
    }
}

/// A client's name from a provider token: its `name` claim, else the e-mail's local part, made
/// to fit the name rules (control characters dropped, at most 100 characters).
fn name_for(claim: Option<&str>, email: &ClientEmail) -> ClientName {
    let local_part = email.as_str().split('@').next().unwrap_or_default();
    claim
        .into_iter()
        .chain([local_part, "client"])
        .find_map(|candidate| {
            let cleaned: String = candidate
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .trim()
                .chars()
                .take(ClientName::MAX_CHARS)
                .collect();
            ClientName::parse(&cleaned).ok()
        })
        .unwrap_or_else(|| ClientName::parse("client").expect("a valid name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(raw: &str) -> ClientEmail {
        ClientEmail::parse(raw).unwrap()
    }

    #[test]
    fn a_provider_name_is_made_to_fit_or_replaced_by_the_local_part() {
        let ana = email("ana.silva@example.com");
        assert_eq!(name_for(Some("  Ana Silva "), &ana).as_str(), "Ana Silva");
        assert_eq!(name_for(Some("\u{7}\u{0}"), &ana).as_str(), "ana.silva");
        assert_eq!(name_for(None, &ana).as_str(), "ana.silva");
        assert_eq!(
            name_for(Some(&"x".repeat(300)), &ana)
                .as_str()
                .chars()
                .count(),
            100
        );
    }
}
