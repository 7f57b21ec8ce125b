//! Values every layer shares, valid by construction ("parse, don't validate"): input is parsed
//! once at the edge, and code past the edge never checks it again. Also the codes errors carry
//! (`code`), which every layer names.

mod client;
mod code;
mod favorite;
mod favorite_order;
mod paging;
mod product;
mod version;

pub use client::{Client, ClientEmail, ClientName};
pub use code::{ErrorCode, markdown_table as error_code_table, typescript_list as error_code_list};
pub use favorite::{Favorite, ListOwner, NewFavorite, Note};
pub use favorite_order::{FavoriteOrder, Place, SortKey};
pub use paging::{Page, PageDirection};
pub use product::{Product, Rating};
pub use version::FavoritesVersion;

/// Why a value was refused; the message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub reason: String,
}

impl InvalidInput {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
