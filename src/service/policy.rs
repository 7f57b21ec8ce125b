//! Who may do what, in one table a reader can audit at a glance. Deny by default:
//! - the admin may do everything;
//! - anonymous callers and refused tokens may do nothing (but log in, which is not an action);
//! - a client token may do what its row below allows, and nothing else.

use uuid::Uuid;

use super::error::ServiceError;
use crate::auth::Caller;

/// Declares the actions once: the enum, and the list of all of them (for the table's test).
macro_rules! actions {
    ($($action:ident),+ $(,)?) => {
        /// Everything a caller can ask the service to do (besides logging in).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Action {
            $($action),+
        }

        impl Action {
            pub const ALL: &[Self] = &[$(Self::$action),+];
        }
    };
}

actions![
    ReadViewer,
    ReadProducts,
    ReadClient,
    FindClientByEmail,
    ListClients,
    CreateClient,
    RenameClient,
    ChangeClientEmail,
    DeleteClient,
    IssueClientToken,
    AddFavorite,
    RemoveFavorite,
    WatchFavorites,
];

/// What a client token may do with an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientRule {
    Allowed,
    /// Only on the client the token acts for.
    OwnClientOnly,
    Denied,
}

/// The client token's rules. An action missing here is denied all the same; the denied ones
/// are listed so that the table reads whole.
pub const CLIENT_RULES: &[(Action, ClientRule)] = &[
    (Action::ReadViewer, ClientRule::Allowed),
    (Action::ReadProducts, ClientRule::Allowed),
    (Action::ReadClient, ClientRule::OwnClientOnly),
    (Action::RenameClient, ClientRule::OwnClientOnly),
    (Action::AddFavorite, ClientRule::OwnClientOnly),
    (Action::RemoveFavorite, ClientRule::OwnClientOnly),
    (Action::WatchFavorites, ClientRule::OwnClientOnly),
    (Action::FindClientByEmail, ClientRule::Denied),
    (Action::ListClients, ClientRule::Denied),
    (Action::CreateClient, ClientRule::Denied),
    (Action::ChangeClientEmail, ClientRule::Denied),
    (Action::DeleteClient, ClientRule::Denied),
    (Action::IssueClientToken, ClientRule::Denied),
];

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
        Caller::Client(own) => {
            let rule = CLIENT_RULES
                .iter()
                .find(|(listed, _)| *listed == action)
                .map_or(ClientRule::Denied, |(_, rule)| *rule);
            match rule {
                ClientRule::Allowed => Ok(()),
                ClientRule::OwnClientOnly if client == Some(own.client_id) => Ok(()),
                ClientRule::OwnClientOnly | ClientRule::Denied => Err(ServiceError::Forbidden),
            }
        }
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

    #[test]
    fn every_action_has_one_row() {
        for &action in Action::ALL {
            let rows = CLIENT_RULES
                .iter()
                .filter(|(listed, _)| *listed == action)
                .count();
            assert_eq!(rows, 1, "{action:?}");
        }
        assert_eq!(CLIENT_RULES.len(), Action::ALL.len());
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
