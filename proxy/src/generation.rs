//! One generation of the running configuration: everything a request needs,
//! built from [`Settings`]. A reload builds a new generation and swaps it in;
//! requests in flight keep the one they started with (they hold an `Arc`).

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{KeySource, RemoteJwks, Verifier};
use crate::config::Settings;
use crate::forwarding::TrustedProxies;
use crate::gate::Gate;
use crate::outbound::OutboundPolicy;
use crate::rate_limit::RateLimits;
use crate::redis::{RedisClient, RedisSettings};
use crate::revocation::Revocations;
use crate::upstream::{resolve_address, StartError, Upstream};

/// Everything a request is decided and forwarded with.
#[derive(Debug)]
pub(crate) struct Generation {
    /// The edge decision.
    pub gate: Gate,
    /// What goes upstream.
    pub outbound: OutboundPolicy,
    /// Where it goes: `[upstream]` first, then `[[upstreams]]` (a route picks one
    /// by index).
    pub upstreams: Vec<Arc<Upstream>>,
    /// `realm` of the challenges this generation answers with.
    pub realm: String,
    /// Liveness path on the proxy port, if enabled.
    pub health_path: Option<String>,
    /// Readiness path on the proxy port, if enabled.
    pub ready_path: Option<String>,
    /// Peers whose forwarding headers are kept.
    pub trusted_proxies: TrustedProxies,
    /// Idle keep-alive timeout, seconds.
    pub keepalive_secs: u64,
    /// Time for a whole request body.
    pub body_read_timeout: Duration,
    /// The Redis replicas share, with the settings it was made from.
    pub redis: Option<(RedisSettings, Arc<RedisClient>)>,
}

impl Generation {
    /// Builds a generation. With `previous`, remote key sources whose settings did
    /// not change are kept (with their loaded keys), and an unchanged upstream
    /// keeps its current address and health.
    pub(crate) fn build(
        settings: &Settings,
        previous: Option<&Generation>,
    ) -> Result<Self, StartError> {
        let upstreams = settings
            .upstreams
            .iter()
            .map(|wanted| {
                let kept =
                    previous.and_then(|p| p.upstreams.iter().find(|u| u.settings == *wanted));
                match kept {
                    Some(u) => Ok(u.clone()),
                    None => {
                        let addr = resolve_address(&wanted.address)?;
                        Ok(Arc::new(Upstream::new(wanted.clone(), addr)))
                    }
                }
            })
            .collect::<Result<Vec<_>, StartError>>()?;
        let auth = &settings.auth;
        let sources = match previous {
            Some(p) => keep_unchanged_remotes(&auth.sources, p),
            None => auth.sources.clone(),
        };
        let redis = shared_redis(settings, previous)?;
        let client = redis.as_ref().map(|(_, client)| client.clone());
        let key_prefix = settings
            .redis
            .as_ref()
            .map_or("", |r| r.key_prefix.as_str());
        let rate_limits = RateLimits::build(
            &settings.rate_limits,
            client.clone(),
            key_prefix,
            previous.map(|p| &p.gate.rate_limits),
        );
        let revocations = client.and_then(|c| revocation_view(settings, c, previous));
        Ok(Self {
            gate: gate(settings, sources, rate_limits, revocations),
            outbound: outbound(settings),
            upstreams,
            realm: auth.realm.clone(),
            health_path: settings.server.health_path.clone(),
            ready_path: settings.server.ready_path.clone(),
            trusted_proxies: TrustedProxies::new(settings.server.trusted_proxies.clone()),
            keepalive_secs: settings.server.keepalive_timeout.as_secs(),
            body_read_timeout: settings.server.body_read_timeout,
            redis,
        })
    }

    /// The revocations this generation checks, when revocation is on.
    pub(crate) fn revocations(&self) -> Option<&Arc<Revocations>> {
        self.gate.revocations.as_ref()
    }

    /// The remote key sources, for the refresher.
    pub(crate) fn remote_sources(&self) -> Vec<Arc<RemoteJwks>> {
        self.gate.verifier().remote_sources().cloned().collect()
    }

    /// The upstream at `index` (a verdict's), `[upstream]` when out of range.
    pub(crate) fn upstream(&self, index: usize) -> &Arc<Upstream> {
        self.upstreams.get(index).unwrap_or(&self.upstreams[0])
    }

    /// The first upstream whose health path fails, if any.
    pub(crate) fn unhealthy_upstream(&self) -> Option<&Upstream> {
        self.upstreams
            .iter()
            .find(|u| !u.is_healthy())
            .map(|u| &**u)
    }

    /// Whether tokens can be verified now.
    pub(crate) fn is_ready(&self) -> bool {
        self.gate.is_ready()
    }
}

/// The edge decision of `settings`, verifying with `sources`, limiting with
/// `rate_limits` and refusing what `revocations` holds.
pub(crate) fn gate(
    settings: &Settings,
    sources: Vec<KeySource>,
    rate_limits: RateLimits,
    revocations: Option<Arc<Revocations>>,
) -> Gate {
    let auth = &settings.auth;
    Gate {
        routes: settings.routes.clone(),
        verifier: Verifier::new(sources, auth.verifier.clone(), auth.metrics.clone()),
        cors_preflight: auth.cors_preflight,
        session_cookie: auth.session_cookie.clone(),
        allowed_origins: auth.cookie_allowed_origins.clone(),
        rate_limits,
        revocations,
    }
}

/// What goes upstream under `settings`.
pub(crate) fn outbound(settings: &Settings) -> OutboundPolicy {
    OutboundPolicy {
        identity: settings.identity.headers.clone(),
        assertion: settings.identity.assertion.clone(),
        keep_authorization: settings.auth.keep_authorization,
        strip_cookie_prefix: settings.auth.strip_cookie_prefix.clone(),
    }
}

/// The Redis client of `settings`: the previous generation's when its settings did
/// not change (its connection and outage state go on).
fn shared_redis(
    settings: &Settings,
    previous: Option<&Generation>,
) -> Result<Option<(RedisSettings, Arc<RedisClient>)>, StartError> {
    let Some(wanted) = &settings.redis else {
        return Ok(None);
    };
    if let Some((kept, client)) = previous.and_then(|p| p.redis.as_ref()) {
        if kept == wanted {
            return Ok(Some((kept.clone(), client.clone())));
        }
    }
    let client = RedisClient::new(&wanted.url, wanted.timeout).map_err(StartError::Redis)?;
    Ok(Some((wanted.clone(), Arc::new(client))))
}

/// The revocation view of `settings`: the previous generation's when it serves the
/// same settings on the same client (its set and subscription go on).
fn revocation_view(
    settings: &Settings,
    client: Arc<RedisClient>,
    previous: Option<&Generation>,
) -> Option<Arc<Revocations>> {
    let wanted = settings.revocation.as_ref()?;
    let key_prefix = settings
        .redis
        .as_ref()
        .map_or("", |r| r.key_prefix.as_str());
    let kept = previous
        .and_then(|p| p.gate.revocations.clone())
        .filter(|r| r.serves(wanted, &client, key_prefix));
    Some(kept.unwrap_or_else(|| Arc::new(Revocations::new(wanted.clone(), client, key_prefix))))
}

fn keep_unchanged_remotes(sources: &[KeySource], previous: &Generation) -> Vec<KeySource> {
    let old = previous.remote_sources();
    sources
        .iter()
        .map(|source| match source {
            KeySource::Remote(new) => old
                .iter()
                .find(|o| o.config() == new.config())
                .map_or_else(|| source.clone(), |o| KeySource::Remote(o.clone())),
            KeySource::Static(_) => source.clone(),
        })
        .collect()
}
