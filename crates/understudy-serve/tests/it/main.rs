//! The integration tests of `understudy-serve` as one binary (it links once; each file is a module).

mod added_shape;
mod answer_reading;
mod api;
mod cascade;
mod conversation;
mod exposure;
mod faults;
mod fingerprint;
mod fuzz_request;
mod memory;
mod other_apis;
mod overhead;
mod protocol;
mod socket_time;
mod stale_connection;
mod thinking;
mod upstream_faults;
