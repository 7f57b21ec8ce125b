//! The macro that turns the one declaration of every setting (`settings.rs`) into the
//! `Settings` struct, a parser for each key, the list of keys the loader reads, and the README's
//! configuration table.

/// A setting's default, as an operator would write it (so that it goes through the same parser
/// as a value they set), or why it has none.
#[derive(Clone, Copy, Debug)]
pub enum Default {
    Value(&'static str),
    /// No default: start-up fails until it is set.
    Required,
    /// Unset unless given; the text says what that means (`(connection default)`).
    Unset(&'static str),
}

impl Default {
    pub fn text(self) -> Option<&'static str> {
        match self {
            Self::Value(text) => Some(text),
            Self::Required | Self::Unset(_) => None,
        }
    }

    fn shown(self) -> String {
        match self {
            Self::Value("") => "(empty)".to_owned(),
            Self::Value(text) => format!("`{text}`"),
            Self::Required => "none (required)".to_owned(),
            Self::Unset(text) => text.to_owned(),
        }
    }
}

/// One key as declared: what the loader looks for and what the README says about it.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    pub name: &'static str,
    pub default: Default,
    pub doc: &'static str,
    /// A secret's value never appears anywhere; where it came from is logged at start.
    pub secret: bool,
}

impl Key {
    /// The name in `favorites.toml`, where keys are lower-case.
    pub fn file_name(&self) -> String {
        self.name.to_ascii_lowercase()
    }
}

/// The README's configuration table, generated from the declaration (a test keeps the README in
/// step; `favorites-api print-settings` prints it).
pub fn markdown_table(keys: &[Key]) -> String {
    let mut table = String::from("| key | default | meaning |\n|---|---|---|\n");
    for key in keys {
        let doc = key.doc.split_whitespace().collect::<Vec<_>>().join(" ");
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            key.name,
            key.default.shown(),
            doc
        ));
    }
    table
}

/// Declares the settings: for each, its doc line, its key, its field and type, its default and
/// its parser (which is its validation). `secret` marks the keys whose value is never shown.
macro_rules! declare_settings {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident $(($secret:ident))? => $field:ident : $ty:ty = $default:expr, $parser:expr;
    )*) => {
        /// Every setting, parsed and valid: code past start-up never checks a value again.
        #[derive(Clone, Debug)]
        pub struct Settings {
            $( $(#[doc = $doc])+ pub $field: $ty, )*
        }

        /// The keys, in the README's order.
        pub const KEYS: &[$crate::config::declare::Key] = &[$(
            $crate::config::declare::Key {
                name: stringify!($name),
                default: $default,
                doc: concat!($($doc, " "),+),
                secret: declare_settings!(@secret $($secret)?),
            },
        )*];

        /// Each key read on its own, with its declared default and parser: for tools that need a
        /// few keys only (`favorites-api migrate`).
        pub(super) struct ReadKey;

        impl ReadKey {
            $(
                pub(super) fn $field(
                    layers: &$crate::config::layers::Layers,
                ) -> Result<$ty, $crate::config::ConfigError> {
                    layers.parse(stringify!($name), $default, $parser)
                }
            )*
        }

        impl Settings {
            pub(super) fn parse_layers(
                layers: &$crate::config::layers::Layers,
            ) -> Result<Self, $crate::config::ConfigError> {
                Ok(Self {
                    $( $field: ReadKey::$field(layers)?, )*
                })
            }
        }
    };
    (@secret secret) => { true };
    (@secret) => { false };
}

pub(crate) use declare_settings;
