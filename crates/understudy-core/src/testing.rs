//! Test support (feature `testing`, for dev-dependencies): the one rule for a test that needs a
//! peer installed on the machine (a browser, PostgreSQL, the openai package, llama-cpp-python,
//! the sandbox): skipped with a note where it is missing, so that `cargo test` works on a fresh
//! machine, and failed where CI says it must be there (`UNDERSTUDY_REQUIRE_*`).

// Saying why a test was skipped is this module's job.
#![allow(clippy::print_stderr, clippy::panic)]

/// `found` when the peer is there; else `None` after a note on stderr, or a panic naming
/// `require_env` when that variable is set.
pub fn peer_or_skip<T>(found: Result<T, String>, require_env: &str) -> Option<T> {
    match found {
        Ok(peer) => Some(peer),
        Err(why) if std::env::var_os(require_env).is_some() => {
            panic!("{require_env} is set but {why}")
        }
        Err(why) => {
            eprintln!("skipping: {why} (CI sets {require_env}, and then this fails)");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_peer_is_skipped_unless_required() {
        assert_eq!(
            peer_or_skip(Ok(3), "UNDERSTUDY_REQUIRE_NOTHING_SET_HERE"),
            Some(3)
        );
        let missing: Result<u8, String> = Err("no such peer".into());
        assert_eq!(
            peer_or_skip(missing, "UNDERSTUDY_REQUIRE_NOTHING_SET_HERE"),
            None
        );
        let required =
            std::panic::catch_unwind(|| peer_or_skip::<u8>(Err("no such peer".into()), "PATH"));
        assert!(required.is_err(), "a required peer that is missing fails");
    }
}
