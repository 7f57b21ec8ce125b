//! Values that are valid by construction ("parse, don't validate"): input is parsed once at the
//! edge, and code past the edge never checks it again.

mod client;

pub use client::{ClientEmail, ClientName, InvalidInput};
