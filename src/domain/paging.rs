//! Which slice of an ordered list to read, and what came back.

/// `limit` items after a key, or before one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageDirection<K> {
    Forward { after: Option<K> },
    Backward { before: Option<K> },
}

/// One page of an ordered list, plus whether anything lies on either side of it.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_previous: bool,
    pub has_next: bool,
}
