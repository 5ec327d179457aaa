//! Parsers for flag values shared by the command definitions (counts with errors in words).

/// A count of 1 or more, with an error in words (`--limit -1` is not an unknown flag).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 1 => usize::try_from(n).map_err(|e| e.to_string()),
        Ok(n) => Err(format!("must be a whole number of at least 1, got {n}")),
        Err(_) => Err(format!(
            "must be a whole number of at least 1, got {text:?}"
        )),
    }
}

/// A stored run's id, with an error that says where ids come from (`show abc` is not a parse
/// failure of an integer but a wrong kind of argument).
pub fn run_id(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "a run is named by its number, as `understudy runs` lists them (1, 2, …); got {text:?}"
        )),
    }
}
