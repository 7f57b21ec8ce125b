//! Where setting values come from, in increasing precedence: the declared defaults, `.env` (the
//! demo file a checkout carries), `favorites.toml` (the operator's file), then the process
//! environment. The operator's file beats `.env` so that a real secret written there is never
//! overridden by the demo one.
//!
//! figment reads and merges the layers and remembers which one each value came from. Values
//! from `.env` and the environment are strings; the declared parser gives each its type, so
//! `SECRET_KEY=123456` stays text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::ConfigError;
use super::declare::{Default, Key};
use super::parse::Parse;

const DOTENV_LAYER: &str = ".env";
const ENVIRONMENT_LAYER: &str = "the environment";

/// Which layer a value came from, for the start-up log (values themselves are never logged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    DotEnv,
    File(PathBuf),
    Environment,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Default => f.write_str("the built-in default"),
            Self::DotEnv => f.write_str(DOTENV_LAYER),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Environment => f.write_str(ENVIRONMENT_LAYER),
        }
    }
}

pub struct Layers {
    figment: Figment,
}

impl Layers {
    /// Reads the layers; a missing file is an empty layer.
    pub fn read(
        keys: &[Key],
        toml_path: &Path,
        dotenv_path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let file = Toml::file(toml_path);
        refuse_unknown_keys(keys, toml_path, &file)?;
        let figment = Figment::new()
            .merge(Strings::new(DOTENV_LAYER, keys, read_dotenv(dotenv_path)?))
            .merge(file)
            .merge(Strings::new(ENVIRONMENT_LAYER, keys, env));
        Ok(Self { figment })
    }

    /// Layers holding only `pairs` (as if set in the environment): for tests and tools.
    pub fn from_pairs(keys: &[Key], pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            figment: Figment::new().merge(Strings::new(ENVIRONMENT_LAYER, keys, pairs)),
        }
    }

    /// The value of `name` from the highest layer that has it (else `default`), through `parser`.
    pub fn parse<P: Parse>(
        &self,
        name: &'static str,
        default: Default,
        parser: P,
    ) -> Result<P::Output, ConfigError> {
        let invalid = |problem: String| ConfigError::Invalid {
            key: name.to_owned(),
            problem,
        };
        let text = match self.figment.find_value(&name.to_ascii_lowercase()) {
            Ok(value) => Some(as_text(&value).map_err(invalid)?),
            Err(_) => None,
        };
        parser
            .parse(text.as_deref().or(default.text()))
            .map_err(invalid)
    }

    /// The layer the value of `name` came from.
    pub fn source(&self, name: &str) -> Source {
        let Some(metadata) = self.figment.find_metadata(&name.to_ascii_lowercase()) else {
            return Source::Default;
        };
        match (metadata.name.as_ref(), &metadata.source) {
            (DOTENV_LAYER, _) => Source::DotEnv,
            (ENVIRONMENT_LAYER, _) => Source::Environment,
            (_, Some(figment::Source::File(path))) => Source::File(path.clone()),
            _ => Source::Default,
        }
    }
}

/// A TOML value (a number, a boolean, a string) as the text the parsers read.
fn as_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(_, text) => Ok(text.clone()),
        Value::Char(_, c) => Ok(c.to_string()),
        Value::Bool(_, flag) => Ok(flag.to_string()),
        Value::Num(..) => value
            .to_i128()
            .map(|n| n.to_string())
            .or_else(|| value.to_f64().map(|n| n.to_string()))
            .ok_or_else(|| "has the wrong type: expected a number".to_owned()),
        _ => Err("has the wrong type: expected a single value".to_owned()),
    }
}

/// A typo in the operator's own file would silently leave a setting at its default.
fn refuse_unknown_keys(keys: &[Key], path: &Path, file: &impl Provider) -> Result<(), ConfigError> {
    if !path.exists() {
        return Ok(());
    }
    let data = file.data().map_err(|error| ConfigError::File {
        path: path.display().to_string(),
        reason: error.kind.to_string(),
    })?;
    for dict in data.values() {
        if let Some(unknown) = dict
            .keys()
            .find(|name| !keys.iter().any(|key| key.file_name() == **name))
        {
            return Err(ConfigError::File {
                path: path.display().to_string(),
                reason: format!(
                    "unknown key `{unknown}` (keys are the settings' names in lower case)"
                ),
            });
        }
    }
    Ok(())
}

fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let file_error = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    dotenvy::from_path_iter(path)
        .map_err(|error| file_error(error.to_string()))?
        .map(|item| item.map_err(|error| file_error(error.to_string())))
        .collect()
}

/// A layer of `KEY=value` strings (`.env`, the environment), keeping only the declared keys.
struct Strings {
    name: &'static str,
    values: BTreeMap<String, String>,
}

impl Strings {
    fn new(
        name: &'static str,
        keys: &[Key],
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let values = pairs
            .into_iter()
            .filter(|(name, _)| keys.iter().any(|key| key.name == name))
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        Self { name, values }
    }
}

impl Provider for Strings {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict: Dict = self
            .values
            .iter()
            .map(|(name, value)| (name.clone(), Value::from(value.clone())))
            .collect();
        Ok(Profile::Default.collect(dict))
    }
}
