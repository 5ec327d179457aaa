//! `understudy shadow`'s grammar.

use clap::Args;

use super::StoreArgs;

#[derive(Debug, Args)]
pub struct ShadowArgs {
    /// The profile whose shadow pairs to report.
    pub profile: String,
    /// Only pairs newer than this: a duration (30m, 2h, 7d) or an ISO-8601 UTC time.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// The model that judges text answers (default: the reference model that answered).
    #[arg(long, value_name = "MODEL")]
    pub judge: Option<String>,
    /// Non-inferiority margin on the win rate (ties half; a candidate as good as the reference
    /// scores 0.5): shown when the lower end of its 95% interval is at least 0.5 − MARGIN.
    #[arg(long, default_value_t = 0.05)]
    pub margin: f64,
    #[command(flatten)]
    pub store: StoreArgs,
}
