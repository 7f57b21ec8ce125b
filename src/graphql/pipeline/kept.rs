//! An answer as the bytes it goes out as: what the response cache keeps, so that a hit is
//! answered without the executor and without serializing again. Beside its JSON it keeps the
//! other forms a transport makes of it (compressed ones), each made once, when first asked for.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_graphql::{Response, Value};
use bytes::Bytes;

use crate::sync::lock;

pub struct KeptAnswer {
    json: Bytes,
    /// Other forms of the JSON, by name (`gzip`, `br`, ...): few, so a short list.
    forms: Mutex<Vec<(&'static str, Bytes)>>,
}

impl KeptAnswer {
    /// The answer of an operation that ran without errors, serialized once.
    pub fn of(response: &Response) -> Option<Self> {
        let json = serde_json::to_vec(response).ok()?;
        Some(Self {
            json: Bytes::from(json),
            forms: Mutex::new(Vec::new()),
        })
    }

    /// The JSON body, as sent.
    pub fn json(&self) -> Bytes {
        self.json.clone()
    }

    /// The form of the JSON called `name`, made by `make` the first time it is asked for. (Two
    /// callers asking at once may both make it; the first one kept serves from then on.)
    pub fn form(&self, name: &'static str, make: impl FnOnce(&[u8]) -> Bytes) -> Bytes {
        if let Some(made) = self.made(name) {
            return made;
        }
        let made = make(&self.json);
        let mut forms = lock(&self.forms);
        match forms.iter().find(|(form, _)| *form == name) {
            Some((_, first)) => first.clone(),
            None => {
                forms.push((name, made.clone()));
                made
            }
        }
    }

    fn made(&self, name: &str) -> Option<Bytes> {
        lock(&self.forms)
            .iter()
            .find(|(form, _)| *form == name)
            .map(|(_, made)| made.clone())
    }

    /// The size of the JSON.
    pub fn json_len(&self) -> usize {
        self.json.len()
    }

    /// The answer as async-graphql's value again, for a transport that needs one (the
    /// WebSocket, which async-graphql serializes itself).
    pub fn to_response(&self) -> Response {
        #[derive(serde::Deserialize)]
        struct Kept {
            data: Value,
            #[serde(default)]
            extensions: BTreeMap<String, Value>,
        }
        match serde_json::from_slice::<Kept>(&self.json) {
            Ok(kept) => {
                let mut response = Response::new(kept.data);
                response.extensions = kept.extensions;
                response
            }
            // It was serialized from a `Response` by us: this cannot fail short of a bug.
            Err(error) => {
                tracing::error!(%error, "a kept answer does not read back");
                Response::from_errors(vec![async_graphql::ServerError::new(
                    "internal server error",
                    None,
                )])
            }
        }
    }
}
