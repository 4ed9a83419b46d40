//! Helpers shared by the load-benchmark binaries in `bench/`:
//!
//! - `bench-upstream`: the tiny static upstream every scenario proxies to;
//! - `bench-tokens`: mints the HS256/EdDSA/RS256 tokens and the JWKS;
//! - `bench-openloop`: a fixed-rate open-loop HTTP/1.1 client (latency measured from each
//!   request's scheduled send time, so a slow server cannot hide its queueing);
//! - `bench-report`: turns the raw JSON lines `run.sh` writes into the markdown tables;
//! - `bench-abuse`: the client of `abuse.sh` (valid load beside idle, slowloris and
//!   slow-body connections; close times against the server's deadlines).
//!
//! `run.sh` does the orchestration (processes, pinning, `/proc` sampling); the pieces that
//! have logic worth testing live here.

pub mod report;
pub mod stats;
pub mod target;
