//! What can stop `optimize`.

use understudy_store::StoreError;
use understudy_tasks::EvalError;

#[derive(Debug, thiserror::Error)]
pub enum OptimizeError {
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Config(String),
    #[error("interrupted: everything measured so far is stored; rerun the same command to resume (answers come from the response cache)")]
    Interrupted,
}
