//! How a replica keeps its set current, off the request path: subscribe to the
//! channel first, then catch up with the record (so nothing announced in between is
//! missed), then apply each message as it comes — effect within milliseconds. Every
//! `resync` the version counter is read: a message lost while the subscription was
//! down (or a gap in the versions) makes the replica read the whole record again.
//! The subscription is pinged at the same pace, so one that hangs without closing
//! is replaced too. Any failure: both connections are dropped and made again, with
//! backoff.

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

use super::store::{self, parse_message};
use super::Revocations;
use crate::redis::Failure;

/// Longest wait for a reply off the request path.
pub(super) const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Follows the record until `stop` turns true.
pub(super) async fn follow(revocations: Arc<Revocations>, mut stop: watch::Receiver<bool>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let started = Instant::now();
        let lost = tokio::select! {
            lost = session(&revocations) => lost,
            () = stopped(&mut stop) => return,
        };
        tracing::debug!(error = %lost, "revocations: following again after a failure");
        if started.elapsed() > MAX_BACKOFF * 5 {
            backoff = MIN_BACKOFF;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stopped(&mut stop) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// One subscription, until it fails.
async fn session(revocations: &Revocations) -> Failure {
    let redis = &revocations.redis;
    let channel = &revocations.keys.channel;
    let pubsub = match redis
        .observed("revocation_subscribe", redis.subscribe(channel))
        .await
    {
        Ok(pubsub) => pubsub,
        Err(failure) => return failure,
    };
    let mut connection = match redis.dedicated(REPLY_TIMEOUT).await {
        Ok(connection) => connection,
        Err(failure) => return failure,
    };
    if let Err(failure) = catch_up(revocations, &mut connection).await {
        return failure;
    }
    let (mut sink, mut messages) = pubsub.split();
    let every = revocations.settings.resync;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        let step = tokio::select! {
            message = messages.next() => match message {
                Some(message) => apply(revocations, message.get_payload_bytes(), &mut connection).await,
                None => Err(Failure::Error("the subscription closed".into())),
            },
            _ = tick.tick() => resync(revocations, &mut connection, &mut sink).await,
        };
        if let Err(failure) = step {
            return failure;
        }
    }
}

/// One announced revocation: applied, unless the set has it already; a gap in the
/// versions means a message was missed, so the whole record is read.
async fn apply(
    revocations: &Revocations,
    payload: &[u8],
    connection: &mut MultiplexedConnection,
) -> Result<(), Failure> {
    let Some(change) = parse_message(payload) else {
        tracing::warn!(
            "revocations: ignoring a message that is not `<version> <sub|jti> <unix seconds> <id>`"
        );
        return Ok(());
    };
    let current = revocations.version.load(Ordering::Acquire);
    if change.version <= current {
        return Ok(());
    }
    revocations.set.insert(&change.entry);
    if change.version == current + 1 {
        revocations.version.store(change.version, Ordering::Release);
        Ok(())
    } else {
        catch_up(revocations, connection).await
    }
}

/// The periodic check: the version, the subscription's liveness, and expiry.
async fn resync(
    revocations: &Revocations,
    connection: &mut MultiplexedConnection,
    sink: &mut PubSubSink,
) -> Result<(), Failure> {
    catch_up(revocations, connection).await?;
    match tokio::time::timeout(REPLY_TIMEOUT, sink.ping::<String>()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(Failure::Error(e.to_string())),
        Err(_) => return Err(Failure::Timeout(REPLY_TIMEOUT)),
    }
    revocations.set.purge();
    Ok(())
}

/// Reads the version counter; when it is not the one the set is at, reads the
/// whole record and merges it.
async fn catch_up(
    revocations: &Revocations,
    connection: &mut MultiplexedConnection,
) -> Result<(), Failure> {
    let (redis, keys) = (&revocations.redis, &revocations.keys);
    let version = redis
        .observed("revocation_version", store::version(connection, keys))
        .await?;
    if version == revocations.version.load(Ordering::Acquire) && revocations.is_loaded() {
        return Ok(());
    }
    let snapshot = redis
        .observed("revocation_load", store::load(connection, keys))
        .await?;
    let version = snapshot.version;
    revocations.take(snapshot);
    // A record that went back (Redis lost its data) is followed from where it is.
    revocations.version.store(version, Ordering::Release);
    Ok(())
}
