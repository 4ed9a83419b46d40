//! The Redis that replicas share (`[redis]`): what rate limits and revocations are
//! kept in. [`RedisClient`] is the one connection requests use, with its timeout,
//! reconnection and outage log; [`RedisUrl`] keeps the password out of every log.

mod client;
mod url;

use std::time::Duration;

pub(crate) use client::{Failure, RedisClient, Script};
pub(crate) use url::{shown, RedisUrl};

/// `[redis]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedisSettings {
    /// Where Redis is.
    pub url: RedisUrl,
    /// Longest wait for one reply on a request's path.
    pub timeout: Duration,
    /// Prefix of every key and channel.
    pub key_prefix: String,
}
