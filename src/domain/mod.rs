//! Values every layer shares, valid by construction ("parse, don't validate"): input is parsed
//! once at the edge, and code past the edge never checks it again.

mod input;
mod paging;
mod product;
mod records;

pub use input::{ClientEmail, ClientName, InvalidInput};
pub use paging::{Page, PageDirection};
pub use product::{Product, Rating};
pub use records::{Client, Favorite};
