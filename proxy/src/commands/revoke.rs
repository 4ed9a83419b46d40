//! `authgate revoke`: writes a revocation to the Redis every replica follows (with
//! `revoke.lua`, as a Better Auth hook would), or lists those in force. Reads only
//! `[redis]`, `[revocation]` and `auth.leeway_secs` of the config: no signing key or
//! assertion secret is needed.

use chrono::{DateTime, SecondsFormat, Utc};
use std::process::ExitCode;
use std::time::Duration;

use super::{config_error, env_var};
use crate::cli::{Cli, RevokeArgs};
use crate::config::{self, RevocationTarget};
use crate::redis::{RedisClient, RedisSettings};
use crate::revocation::{self, Entry, Keys, Kind};

/// Longest wait for Redis's reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest subject or token id.
const MAX_ID_BYTES: usize = 1024;

/// What was asked.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// A subject's tokens issued before `before` (unix seconds; `None`: now).
    Subject { id: String, before: Option<u64> },
    /// One token.
    Token { id: String },
    /// What is in force.
    List,
}

/// Runs `authgate revoke`: 0 done, 64 usage or config, 1 Redis failed.
pub(super) fn run(cli: &Cli, args: &RevokeArgs) -> ExitCode {
    let target = match config::load_revocation_target(cli.run.config.as_deref(), &env_var) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("authgate: {e}");
            return config_error();
        }
    };
    let RevocationTarget {
        file,
        redis,
        retention,
    } = target;
    let Some(redis) = redis else {
        eprintln!(
            "authgate: revoke needs Redis, and {} configures none: add a [redis] section (or set AUTHGATE_REDIS_URL)",
            file.display()
        );
        return config_error();
    };
    let request = match parse(args, now(), retention) {
        Ok(request) => request,
        Err(why) => {
            eprintln!("authgate: {why}");
            return config_error();
        }
    };
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(execute(&redis, &request, retention)));
    match outcome {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("authgate: revoke: Redis at {}: {e}", redis.url);
            ExitCode::FAILURE
        }
    }
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// The request of `args` at `now`; a revocation whose every token has expired
/// (older than `retention`) or one in the future is refused.
fn parse(args: &RevokeArgs, now: u64, retention: u64) -> Result<Request, String> {
    let id = |id: &str, what: &str| {
        if id.is_empty() || id.len() > MAX_ID_BYTES || id.chars().any(char::is_control) {
            Err(format!(
                "--{what} must be 1 to {MAX_ID_BYTES} bytes without control characters"
            ))
        } else {
            Ok(id.to_string())
        }
    };
    match (&args.sub, &args.jti, args.list) {
        (Some(sub), None, false) => {
            let before = args.before.as_deref().map(moment).transpose()?;
            if let Some(before) = before {
                if before > now {
                    return Err("--before must not be in the future".into());
                }
                if before.saturating_add(retention) <= now {
                    return Err(format!(
                        "nothing to revoke: every token issued before --before has expired (revocations last {retention} s)"
                    ));
                }
            }
            Ok(Request::Subject {
                id: id(sub, "sub")?,
                before,
            })
        }
        (None, Some(jti), false) => Ok(Request::Token {
            id: id(jti, "jti")?,
        }),
        (None, None, true) => Ok(Request::List),
        _ => Err("give one of --sub, --jti, --list".into()),
    }
}

/// RFC 3339 → unix seconds, rounded up (`iat` has whole seconds: a token issued
/// within that second may have been issued before the moment).
fn moment(text: &str) -> Result<u64, String> {
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("--before `{text}` is not an RFC 3339 time ({e})"))?;
    let secs = u64::try_from(at.timestamp()).map_err(|_| "--before is before 1970".to_string())?;
    Ok(secs + u64::from(at.timestamp_subsec_nanos() > 0))
}

fn utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .map_or_else(
            || secs.to_string(),
            |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
}

/// Does what was asked; the report to print.
async fn execute(
    redis: &RedisSettings,
    request: &Request,
    retention: u64,
) -> Result<String, String> {
    let client = RedisClient::new(&redis.url, REPLY_TIMEOUT)?;
    let mut connection = client
        .dedicated(REPLY_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    let keys = Keys::new(&redis.key_prefix);
    let (kind, id, at) = match request {
        Request::List => {
            let snapshot = revocation::load(&mut connection, &keys)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(list(snapshot.entries, now(), retention));
        }
        Request::Subject { id, before } => (Kind::Subject, id, *before),
        Request::Token { id } => (Kind::Token, id, None),
    };
    let (_, at) = revocation::revoke(&mut connection, &keys, kind, id, at, retention)
        .await
        .map_err(|e| e.to_string())?;
    let until = utc(at + retention);
    Ok(match kind {
        Kind::Subject => format!(
            "authgate: revoked subject {id:?}: its tokens issued before {} are refused until {until}",
            utc(at)
        ),
        Kind::Token => format!("authgate: revoked token id {id:?}: refused until {until}"),
    })
}

/// The table `--list` prints: what still counts at `now`, oldest first.
fn list(mut entries: Vec<Entry>, now: u64, retention: u64) -> String {
    entries.retain(|e| now < e.at.saturating_add(retention));
    if entries.is_empty() {
        return "no revocation in force".into();
    }
    entries.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let mut out = String::from("kind\tid\tsince (tokens issued before; jti: revoked at)\tuntil\n");
    for e in entries {
        out.push_str(&format!(
            "{}\t{:?}\t{}\t{}\n",
            e.kind.as_str(),
            e.id,
            utc(e.at),
            utc(e.at + retention)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(sub: Option<&str>, before: Option<&str>, jti: Option<&str>, list: bool) -> RevokeArgs {
        RevokeArgs {
            sub: sub.map(str::to_string),
            before: before.map(str::to_string),
            jti: jti.map(str::to_string),
            list,
        }
    }

    #[test]
    fn moments_are_rfc3339_rounded_up_and_not_in_the_future() {
        assert_eq!(moment("2026-01-01T00:00:00Z"), Ok(1_767_225_600));
        assert_eq!(moment("2026-01-01T00:00:00.2Z"), Ok(1_767_225_601));
        assert_eq!(moment("2026-01-01T01:00:00+01:00"), Ok(1_767_225_600));
        assert!(moment("yesterday").is_err());
        let now = 1_767_225_600;
        let sub = |before| parse(&args(Some("alice"), before, None, false), now, 900);
        assert_eq!(
            sub(None),
            Ok(Request::Subject {
                id: "alice".into(),
                before: None
            })
        );
        assert!(sub(Some("2026-01-01T00:00:01Z"))
            .unwrap_err()
            .contains("future"));
        assert!(sub(Some("2025-12-31T23:00:00Z"))
            .unwrap_err()
            .contains("expired"));
        assert!(sub(Some("2025-12-31T23:59:00Z")).is_ok());
        assert!(parse(&args(Some("a\nb"), None, None, false), now, 900).is_err());
        assert_eq!(
            parse(&args(None, None, Some("j1"), false), now, 900),
            Ok(Request::Token { id: "j1".into() })
        );
        assert_eq!(
            parse(&args(None, None, None, true), now, 900),
            Ok(Request::List)
        );
    }

    #[test]
    fn the_list_shows_what_still_counts() {
        let entry = |kind, id: &str, at| Entry {
            kind,
            id: id.into(),
            at,
        };
        let now = 1_767_225_600;
        let table = list(
            vec![
                entry(Kind::Token, "j1", now - 10),
                entry(Kind::Subject, "old", now - 1000),
                entry(Kind::Subject, "alice", now - 20),
            ],
            now,
            900,
        );
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(
            lines[1].starts_with("sub\t\"alice\"\t2025-12-31T23:59:40Z\t"),
            "{table}"
        );
        assert!(lines[2].starts_with("jti\t\"j1\"\t"), "{table}");
        assert_eq!(list(vec![], now, 900), "no revocation in force");
    }
}
