//! Who may do what, in one table a reader can audit at a glance. Deny by default:
//! - the admin may do everything;
//! - anonymous callers and refused tokens may do nothing (but log in, which is not an action);
//! - a client token may do what its row below allows, and nothing else.

use uuid::Uuid;

use super::error::ServiceError;
use crate::auth::Caller;

/// What a client token may do with an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientRule {
    Allowed,
    /// Only on the client the token acts for.
    OwnClientOnly,
    Denied,
}

impl ClientRule {
    /// As the README's table says it.
    fn shown(self) -> &'static str {
        match self {
            Self::Allowed => "yes",
            Self::OwnClientOnly => "own client only",
            Self::Denied => "no",
        }
    }
}

/// Declares every action once: what it covers (the README's words), and the client token's
/// rule for it. The enum, the rules and the README's table all come from here, so an action
/// cannot be added without its rule.
macro_rules! actions {
    ($( $(#[doc = $doc:literal])+ $action:ident => $rule:ident, )+) => {
        /// Everything a caller can ask the service to do (besides logging in).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Action {
            $( $(#[doc = $doc])+ $action, )+
        }

        impl Action {
            pub const ALL: &[Self] = &[$(Self::$action),+];

            /// What a client token may do with it. Whatever is not `Allowed` or
            /// `OwnClientOnly` is denied.
            pub const fn client_rule(self) -> ClientRule {
                match self {
                    $(Self::$action => ClientRule::$rule,)+
                }
            }

            /// The operations it covers, in the README's words.
            pub fn covers(self) -> &'static str {
                match self {
                    $(Self::$action => concat!($($doc, " "),+),)+
                }
            }
        }
    };
}

actions! {
    /// `viewer`
    ReadViewer => Allowed,
    /// `product`, `products`
    ReadProducts => Allowed,
    /// `client(id)`, and a client's favorites wherever they are read
    ReadClient => OwnClientOnly,
    /// `updateClient(id, input)` with `name` only
    RenameClient => OwnClientOnly,
    /// `addFavorite(clientId, productId)`
    AddFavorite => OwnClientOnly,
    /// `removeFavorite(clientId, productId)`
    RemoveFavorite => OwnClientOnly,
    /// `favoritesChanged(clientId)` (WebSocket, token in `connection_init`)
    WatchFavorites => OwnClientOnly,
    /// `clientByEmail`
    FindClientByEmail => Denied,
    /// `clients`
    ListClients => Denied,
    /// `createClient`
    CreateClient => Denied,
    /// an e-mail change (`updateClient` with `email`)
    ChangeClientEmail => Denied,
    /// `deleteClient`
    DeleteClient => Denied,
    /// `issueClientToken`
    IssueClientToken => Denied,
}

/// The README's table of what a client token may do (`favorites-api print-policy`).
pub fn markdown_table() -> String {
    let mut table = String::from("| operation | client token |\n|---|---|\n");
    for action in Action::ALL {
        let covers = action
            .covers()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        table.push_str(&format!(
            "| {covers} | {} |\n",
            action.client_rule().shown()
        ));
    }
    table
}

/// The one authorization decision of an operation. `client` is the client the action touches,
/// for the actions that touch one. A refusal never says whether that client exists.
pub fn authorize(
    caller: &Caller,
    action: Action,
    client: Option<Uuid>,
) -> Result<(), ServiceError> {
    match caller {
        Caller::Admin(_) => Ok(()),
        Caller::Anonymous => Err(ServiceError::Unauthenticated(
            "this operation needs a bearer token (issueToken, or your identity provider's)",
        )),
        Caller::Rejected => Err(ServiceError::Unauthenticated("invalid or expired token")),
        Caller::Client(own) => match action.client_rule() {
            ClientRule::Allowed => Ok(()),
            ClientRule::OwnClientOnly if client == Some(own.client_id) => Ok(()),
            ClientRule::OwnClientOnly | ClientRule::Denied => Err(ServiceError::Forbidden),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Admin, ClientCaller};

    fn client(id: Uuid) -> Caller {
        Caller::Client(ClientCaller {
            client_id: id,
            token_expires_at: chrono::Utc::now(),
        })
    }

    #[test]
    fn a_client_token_touches_its_own_client_only() {
        let (own, other) = (Uuid::now_v7(), Uuid::now_v7());
        let caller = client(own);
        assert!(authorize(&caller, Action::AddFavorite, Some(own)).is_ok());
        assert!(matches!(
            authorize(&caller, Action::AddFavorite, Some(other)),
            Err(ServiceError::Forbidden)
        ));
        assert!(matches!(
            authorize(&caller, Action::AddFavorite, None),
            Err(ServiceError::Forbidden)
        ));
        assert!(matches!(
            authorize(&caller, Action::DeleteClient, Some(own)),
            Err(ServiceError::Forbidden)
        ));
        assert!(authorize(&caller, Action::ReadProducts, None).is_ok());
    }

    /// The README's table is generated; print it with `cargo run -- print-policy`.
    #[test]
    fn the_readme_states_every_rule() {
        let readme = include_str!("../../README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's table of client-token rules is out of date; replace it with the output \
             of `cargo run -- print-policy`:\n{table}"
        );
    }

    #[test]
    fn the_admin_may_do_anything_and_nobody_else_without_a_token() {
        let admin = Caller::Admin(Admin {
            username: "admin".into(),
            token_expires_at: chrono::Utc::now(),
        });
        assert!(authorize(&admin, Action::DeleteClient, Some(Uuid::now_v7())).is_ok());
        for caller in [Caller::Anonymous, Caller::Rejected] {
            assert!(matches!(
                authorize(&caller, Action::ReadProducts, None),
                Err(ServiceError::Unauthenticated(_))
            ));
        }
    }
}
