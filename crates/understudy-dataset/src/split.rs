//! Which split a conversation goes to: pool (few-shot examples, never scored), validation or
//! test, by a hash of its conversation key, so every turn of a conversation lands in the same
//! one and a rerun gives the same split.

use sha2::{Digest, Sha256};

/// Percentages of conversations in the pool and in validation; the rest is test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    pub pool: u8,
    pub validation: u8,
}

impl Shares {
    /// From `POOL,VALIDATION,TEST` percentages that add up to 100.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<u8> = text
            .split(',')
            .map(|p| p.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("{text:?} is not three percentages POOL,VALIDATION,TEST"))?;
        match parts[..] {
            [pool, validation, test]
                if u32::from(pool) + u32::from(validation) + u32::from(test) == 100 =>
            {
                Ok(Self { pool, validation })
            }
            _ => Err(format!(
                "{text:?}: give three percentages POOL,VALIDATION,TEST that add up to 100"
            )),
        }
    }
}

/// `pool`, `validation` or `test` for the conversation `key`.
pub fn split_of(key: &str, shares: Shares) -> &'static str {
    let digest = Sha256::digest(format!("split:{key}").as_bytes());
    let bucket = u16::from_be_bytes([digest[0], digest[1]]) % 100;
    if bucket < u16::from(shares.pool) {
        "pool"
    } else if bucket < u16::from(shares.pool) + u16::from(shares.validation) {
        "validation"
    } else {
        "test"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_read_and_kept_about_right() {
        assert!(Shares::parse("20,30,40").is_err());
        assert!(Shares::parse("a,b,c").is_err());
        let shares = Shares::parse("20,30,50").unwrap();
        let splits: Vec<&str> = (0..3000)
            .map(|i| split_of(&format!("c{i}"), shares))
            .collect();
        let count = |s| splits.iter().filter(|x| **x == s).count();
        assert!((500..700).contains(&count("pool")), "{}", count("pool"));
        assert!((800..1000).contains(&count("validation")));
        assert_eq!(split_of("c7", shares), split_of("c7", shares));
    }
}
