//! Reading a page's query string leniently: absent or empty fields are `None`.

/// An optional query field, blank treated as absent.
pub fn field(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}
