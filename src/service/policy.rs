//! Who may do what, in one table a reader can audit at a glance. Deny by default:
//! - anonymous callers and refused tokens may do nothing (but log in and start a guest
//!   session, which are not actions);
//! - the admin, a client token and a guest token may each do what their column below allows,
//!   and nothing else. The admin may do everything but act on a list of its own (it has none).

use uuid::Uuid;

use super::error::ServiceError;
use crate::auth::Caller;

/// What a kind of token may do with an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Allowed,
    /// Only on the client the token acts for.
    OwnClientOnly,
    Denied,
}

impl Rule {
    /// As the README's table says it.
    fn shown(self) -> &'static str {
        match self {
            Self::Allowed => "yes",
            Self::OwnClientOnly => "own client only",
            Self::Denied => "no",
        }
    }
}

/// Declares every action once: what it covers (the README's words), and the rule of each kind
/// of token for it. The enum, the rules and the README's table all come from here, so an action
/// cannot be added without its rules.
macro_rules! actions {
    ($( $(#[doc = $doc:literal])+ $action:ident => $admin:ident, $client:ident, $guest:ident; )+) => {
        /// Everything a caller can ask the service to do (besides logging in).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Action {
            $( $(#[doc = $doc])+ $action, )+
        }

        impl Action {
            pub const ALL: &[Self] = &[$(Self::$action),+];

            /// What the admin's token may do with it.
            pub const fn admin_rule(self) -> Rule {
                match self {
                    $(Self::$action => Rule::$admin,)+
                }
            }

            /// What a client token may do with it.
            pub const fn client_rule(self) -> Rule {
                match self {
                    $(Self::$action => Rule::$client,)+
                }
            }

            /// What a guest token may do with it. A guest never names a client, so only
            /// `Allowed` lets one through.
            pub const fn guest_rule(self) -> Rule {
                match self {
                    $(Self::$action => Rule::$guest,)+
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
    /// `viewer` (null for the admin and for a guest)
    ReadViewer => Allowed, Allowed, Allowed;
    /// `product`, `products` (with `Product.favoritesCount`)
    ReadProducts => Allowed, Allowed, Allowed;
    /// `myFavorites`
    ReadMyFavorites => Denied, Allowed, Allowed;
    /// `addMyFavorite`
    AddMyFavorite => Denied, Allowed, Allowed;
    /// `removeMyFavorite`
    RemoveMyFavorite => Denied, Allowed, Allowed;
    /// `setMyFavoriteNote`
    SetMyFavoriteNote => Denied, Allowed, Allowed;
    /// `myFavoritesChanged` (WebSocket, token in `connection_init`)
    WatchMyFavorites => Denied, Allowed, Allowed;
    /// `shareMyFavorites`, `revokeMyFavoritesShare`
    ShareMyFavorites => Denied, Allowed, Allowed;
    /// `mergeGuestFavorites` (the admin names the client with `clientId`)
    MergeGuestFavorites => Allowed, OwnClientOnly, Denied;
    /// `client(id)`, and a client's favorites wherever they are read
    ReadClient => Allowed, OwnClientOnly, Denied;
    /// `updateClient(id, input)` with `name` only
    RenameClient => Allowed, OwnClientOnly, Denied;
    /// `addFavorite(clientId, productId, note)`
    AddFavorite => Allowed, OwnClientOnly, Denied;
    /// `removeFavorite(clientId, productId)`
    RemoveFavorite => Allowed, OwnClientOnly, Denied;
    /// `setFavoriteNote(clientId, productId, note)`
    SetFavoriteNote => Allowed, OwnClientOnly, Denied;
    /// `shareFavorites(clientId)`, `revokeFavoritesShare(clientId)`
    ShareFavorites => Allowed, OwnClientOnly, Denied;
    /// `favoritesChanged(clientId)` (WebSocket, token in `connection_init`)
    WatchFavorites => Allowed, OwnClientOnly, Denied;
    /// `clientByEmail`
    FindClientByEmail => Allowed, Denied, Denied;
    /// `clients`
    ListClients => Allowed, Denied, Denied;
    /// `popularProducts`
    ReadPopularProducts => Allowed, Denied, Denied;
    /// `createClient`
    CreateClient => Allowed, Denied, Denied;
    /// an e-mail change (`updateClient` with `email`)
    ChangeClientEmail => Allowed, Denied, Denied;
    /// `deleteClient`
    DeleteClient => Allowed, Denied, Denied;
    /// `issueClientToken`
    IssueClientToken => Allowed, Denied, Denied;
}

/// The README's table of what each kind of token may do (`favorites-api print-policy`).
pub fn markdown_table() -> String {
    let mut table = String::from(
        "| operation | admin token | client token | guest token |\n|---|---|---|---|\n",
    );
    for action in Action::ALL {
        let covers = action
            .covers()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        table.push_str(&format!(
            "| {covers} | {} | {} | {} |\n",
            action.admin_rule().shown(),
            action.client_rule().shown(),
            action.guest_rule().shown(),
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
    let (rule, own_client) = match caller {
        Caller::Anonymous => {
            return Err(ServiceError::Unauthenticated(concat!(
                "this operation needs a bearer token ",
                "(issueToken, startGuestSession, or your identity provider's)"
            )));
        }
        Caller::Rejected => return Err(ServiceError::Unauthenticated("invalid or expired token")),
        Caller::Admin(_) => (action.admin_rule(), None),
        Caller::Client(own) => (action.client_rule(), Some(own.client_id)),
        Caller::Guest(_) => (action.guest_rule(), None),
    };
    match rule {
        Rule::Allowed => Ok(()),
        Rule::OwnClientOnly if own_client.is_some() && client == own_client => Ok(()),
        Rule::OwnClientOnly | Rule::Denied => Err(ServiceError::Forbidden),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Admin, ClientCaller, GuestCaller};

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

    #[test]
    fn a_guest_token_acts_on_its_own_list_and_reads_the_catalog_only() {
        let guest = Caller::Guest(GuestCaller {
            guest_id: Uuid::now_v7(),
            token_expires_at: chrono::Utc::now(),
        });
        for action in Action::ALL {
            let allowed = authorize(&guest, *action, None).is_ok();
            let expected = matches!(
                action,
                Action::ReadViewer
                    | Action::ReadProducts
                    | Action::ReadMyFavorites
                    | Action::AddMyFavorite
                    | Action::RemoveMyFavorite
                    | Action::SetMyFavoriteNote
                    | Action::ShareMyFavorites
                    | Action::WatchMyFavorites
            );
            assert_eq!(allowed, expected, "{action:?}");
            // Naming a client changes nothing: a guest token never reaches one.
            if !expected {
                assert!(authorize(&guest, *action, Some(Uuid::now_v7())).is_err());
            }
        }
    }

    /// The README's table is generated; print it with `cargo run -- print-policy`.
    #[test]
    fn the_readme_states_every_rule() {
        let readme = include_str!("../../README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's table of token rules is out of date; replace it with the output \
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
        assert!(
            matches!(
                authorize(&admin, Action::AddMyFavorite, None),
                Err(ServiceError::Forbidden)
            ),
            "the admin has no list of its own"
        );
        for caller in [Caller::Anonymous, Caller::Rejected] {
            assert!(matches!(
                authorize(&caller, Action::ReadProducts, None),
                Err(ServiceError::Unauthenticated(_))
            ));
        }
    }
}
