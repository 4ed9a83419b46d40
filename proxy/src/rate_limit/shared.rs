//! The bucket in Redis: one `EVALSHA` of `shared.lua` per request and policy, on
//! Redis's clock so that replicas' clocks do not matter.

use redis::FromRedisValue;
use std::sync::LazyLock;

use super::gcra::Verdict;
use crate::redis::{Failure, RedisClient, Script};

/// The GCRA script.
static GCRA: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("shared.lua")));

/// The verdict of Redis for the bucket at `key`; `args` are the policy's interval
/// and tolerance in microseconds, as text.
pub(super) async fn check(
    redis: &RedisClient,
    key: &[u8],
    args: &[String; 2],
) -> Result<Verdict, Failure> {
    let reply = redis
        .run_script(
            "rate_limit",
            &GCRA,
            &[key],
            &[args[0].as_bytes(), args[1].as_bytes()],
        )
        .await?;
    let unexpected = || Failure::Error("unexpected reply from the rate-limit script".into());
    let numbers = Vec::<i64>::from_redis_value(reply).map_err(|_| unexpected())?;
    let [allowed, remaining, retry_after, reset] = numbers[..] else {
        return Err(unexpected());
    };
    let micros = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Verdict {
        allowed: allowed == 1,
        remaining: micros(remaining),
        retry_after: micros(retry_after),
        reset: micros(reset),
    })
}
