//! The integration tests of `understudy-backend` as one binary (it links once; each file is a module).
//! Kept as binaries of their own: `openai_proxy.rs` (sets HTTP(S)_PROXY for the whole process); `openai_tls.rs` (sets SSL_CERT_FILE for the whole process).

mod anthropic_replay;
mod conformance;
mod embedded_files;
mod fuzz_sse;
mod openai_faults;
mod openai_upstream_clock;
mod parallel;
mod special_tokens;
mod support;
