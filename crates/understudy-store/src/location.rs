//! Where the store lives, from `--db` or `[store] url`: a file path or `sqlite:PATH` is SQLite,
//! `postgres://…` or `postgresql://…` is a PostgreSQL server.

use std::fmt;
use std::path::PathBuf;

/// A store's location.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// Reads a `--db` value or `[store] url`.
    pub fn parse(text: &str) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Location::Postgres(text.to_string());
        }
        let path = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"));
        Location::Sqlite(PathBuf::from(path.unwrap_or(text)))
    }

    /// The SQLite file, if the store is one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Location::Sqlite(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }
}

/// Shows the location without a password.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `url` with the password (between `user:` and `@`) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_sqlite_urls_are_sqlite_and_postgres_urls_hide_their_password() {
        assert_eq!(Location::parse("a/b.db"), Location::Sqlite("a/b.db".into()));
        assert_eq!(
            Location::parse("sqlite:x.db"),
            Location::Sqlite("x.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x.db"),
            Location::Sqlite("/tmp/x.db".into())
        );
        let pg = Location::parse("postgres://u:secret@h:5432/d");
        assert_eq!(pg.to_string(), "postgres://u:***@h:5432/d");
        assert_eq!(pg.path(), None);
    }
}
