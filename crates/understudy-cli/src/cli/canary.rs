//! `understudy canary`'s grammar.

use clap::Args;

use super::StoreArgs;

#[derive(Debug, Args)]
pub struct CanaryArgs {
    /// The canary (a `[serve.canary.NAME]` of the configuration).
    pub name: String,
    /// New weights, `ARM=WEIGHT` for each arm to change (arms left out get 0); none: show the
    /// weights in force.
    #[arg(value_name = "ARM=WEIGHT")]
    pub weights: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}
