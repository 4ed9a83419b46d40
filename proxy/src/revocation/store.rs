//! The revocation record in Redis and its messages: two sorted sets (subjects and
//! token ids, scored by their moment), a version counter, and a channel on which
//! every revocation is announced as `<version> <kind> <moment> <id>`. Writes go
//! through `revoke.lua` only, so the sets, the counter and the message always agree.

use redis::aio::MultiplexedConnection;
use redis::{FromRedisValue, Value};

use super::set::{Entry, Kind};

/// The script every revocation runs.
pub(crate) const REVOKE_LUA: &str = include_str!("revoke.lua");

/// Where the record lives, under `redis.key_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Keys {
    /// Subjects → moment.
    pub subjects: String,
    /// Token ids → moment.
    pub tokens: String,
    /// One step per revocation.
    pub version: String,
    /// Where revocations are announced.
    pub channel: String,
}

impl Keys {
    /// The keys under `prefix`.
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            subjects: format!("{prefix}revoked:sub"),
            tokens: format!("{prefix}revoked:jti"),
            version: format!("{prefix}revoked:version"),
            channel: format!("{prefix}revocations"),
        }
    }
}

/// One announced revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// The counter after it.
    pub version: u64,
    /// What it revoked.
    pub entry: Entry,
}

/// A message of the channel, or `None` when it is not one authgate understands.
pub(crate) fn parse_message(payload: &[u8]) -> Option<Change> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut parts = text.splitn(4, ' ');
    let version = parts.next()?.parse().ok()?;
    let kind = Kind::parse(parts.next()?)?;
    let at = parts.next()?.parse().ok()?;
    let id = parts.next().filter(|id| !id.is_empty())?;
    Some(Change {
        version,
        entry: Entry {
            kind,
            id: id.to_string(),
            at,
        },
    })
}

/// Everything in force, and the version it is as of.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The counter when it was read.
    pub version: u64,
    /// The entries (expired ones too; the set skips them).
    pub entries: Vec<Entry>,
}

/// Members of a sorted set with their scores.
type Scored = Vec<(String, u64)>;

/// Reads the version and both sets at one moment (MULTI/EXEC).
pub(crate) async fn load(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
) -> redis::RedisResult<Snapshot> {
    let (version, subjects, tokens): (Option<u64>, Scored, Scored) = redis::pipe()
        .atomic()
        .get(&keys.version)
        .zrange_withscores(&keys.subjects, 0, -1)
        .zrange_withscores(&keys.tokens, 0, -1)
        .query_async(connection)
        .await?;
    let entries = subjects
        .into_iter()
        .map(|(id, at)| (Kind::Subject, id, at))
        .chain(tokens.into_iter().map(|(id, at)| (Kind::Token, id, at)))
        .map(|(kind, id, at)| Entry { kind, id, at })
        .collect();
    Ok(Snapshot {
        version: version.unwrap_or(0),
        entries,
    })
}

/// The version counter now.
pub(crate) async fn version(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
) -> redis::RedisResult<u64> {
    let version: Option<u64> = redis::cmd("GET")
        .arg(&keys.version)
        .query_async(connection)
        .await?;
    Ok(version.unwrap_or(0))
}

/// Records and announces a revocation of `id` at `at` (unix seconds; `None`: now,
/// on Redis's clock, rounded up); the version and the moment recorded.
pub(crate) async fn revoke(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    kind: Kind,
    id: &str,
    at: Option<u64>,
    retention: u64,
) -> redis::RedisResult<(u64, u64)> {
    let at = at.map(|a| a.to_string()).unwrap_or_default();
    let retention = retention.to_string();
    let script = redis::Script::new(REVOKE_LUA);
    let mut invocation = script.prepare_invoke();
    invocation
        .key(&keys.subjects)
        .key(&keys.tokens)
        .key(&keys.version)
        .arg(kind.as_str())
        .arg(id)
        .arg(at)
        .arg(retention)
        .arg(&keys.channel);
    let reply: Value = invocation.invoke_async(connection).await?;
    <(u64, u64)>::from_redis_value(reply).map_err(|e| {
        redis::RedisError::from((
            redis::ErrorKind::Client,
            "unexpected reply from the revocation script",
            e.to_string(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_ids_may_hold_spaces() {
        let change = parse_message(b"42 sub 1700000001 Alice Smith").unwrap();
        assert_eq!(change.version, 42);
        assert_eq!(change.entry.kind, Kind::Subject);
        assert_eq!(change.entry.at, 1_700_000_001);
        assert_eq!(change.entry.id, "Alice Smith");
        let change = parse_message(b"7 jti 5 abc").unwrap();
        assert_eq!(change.entry.kind, Kind::Token);
        for bad in [
            &b""[..],
            b"x sub 1 a",
            b"1 role 1 a",
            b"1 sub x a",
            b"1 sub 1",
            b"1 sub 1 ",
            b"\xff",
        ] {
            assert_eq!(parse_message(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keys_live_under_the_prefix() {
        let keys = Keys::new("app:");
        assert_eq!(keys.subjects, "app:revoked:sub");
        assert_eq!(keys.tokens, "app:revoked:jti");
        assert_eq!(keys.version, "app:revoked:version");
        assert_eq!(keys.channel, "app:revocations");
    }
}
