//! authgate: a reverse proxy that verifies Bearer JWTs at the edge (401/403), strips
//! client-sent identity headers and forwards the verified identity, with a signed
//! assertion, to an unmodified upstream.
//!
//! The crate is a binary's library: [`run`] does what a [`Cli`] asks; everything
//! else is private, so the compiler reports what nothing uses. `fuzzing` and
//! `benching` hand the fuzz targets and the benchmarks what they drive.
//!
//! Layout, in the order a request meets it:
//! - `server`: the Pingora server from the settings; `listener`: what each
//!   listener speaks (plaintext or TLS, HTTP/1.1, h2, h2c), with `tls` (rustls,
//!   certificate reload) and `h2_limits`; `connections`, `head_deadline`,
//!   `http1_head`: connection cap, TLS handshake and head deadline;
//!   `body_deadline`: the body deadline of HTTP/2 requests;
//! - `proxy`: the Pingora `ProxyHttp` glue, and nothing else;
//! - `inbound` (with `framing`, `target`, `path`): what is refused or corrected
//!   before any rule, in one ordered function; `health`: the probes;
//! - `gate`: the edge decision (allow / 401 / 403 / 429 / 503) over `policy` (the
//!   route rules), `auth` (tokens and keys, no proxy types), `revocation` (the
//!   revoked tokens, in memory, following Redis) and `rate_limit` (GCRA, in Redis
//!   or in process); `redis`: the client they share;
//! - `outbound`: what goes upstream, in one ordered function, built on
//!   `identity_headers`, `forwarding`, `header_names`, `header_text` and
//!   `assertion`; `upstream`: where it goes;
//! - `reject`: the answers authgate writes (`grpc`: as gRPC status for gRPC
//!   calls); `decision`: the outcome word for logs
//!   and metrics; `access_log`, `log_sink`, `telemetry`, `metrics`, `admin`;
//! - `generation`: one configuration's runtime objects; `reload` swaps them on
//!   SIGHUP; `background` runs their JWKS, DNS and health tasks (`probe`);
//!   `lifecycle`, `shutdown`: draining and exit;
//! - `config`: file → validated settings, one resolver per section; `cli`,
//!   `commands`: the command line.

#![warn(unreachable_pub)]
// At most 60 lines a function (clippy.toml): a longer one does more than one thing.
#![warn(clippy::too_many_lines)]

mod access_log;
mod admin;
mod assertion;
mod auth;
mod background;
mod body_deadline;
mod cli;
mod commands;
mod config;
mod connections;
mod decision;
mod error;
mod forwarding;
mod framing;
mod gate;
mod generation;
mod grpc;
mod h2_limits;
mod head_deadline;
mod header_names;
mod header_text;
mod health;
mod http1_head;
mod identity_headers;
mod inbound;
mod lifecycle;
mod listener;
mod log_format;
mod log_sink;
mod metrics;
mod outbound;
mod path;
mod policy;
mod probe;
mod proxy;
mod rate_limit;
mod redis;
mod reject;
mod reload;
mod requirements;
mod revocation;
mod secret;
mod server;
mod shutdown;
mod target;
mod telemetry;
mod tls;
mod trace;
mod upstream;

pub use cli::Cli;
pub use commands::run;

/// The hand-written parsers and checks, for the fuzz targets in `fuzz/`: each is
/// held there to the code it shadows or to properties of its own. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::auth::bearer::{bearer_token, BearerError};
    pub use crate::auth::cookie::{find_session_data, is_session_cookie, without_session_cookies};
    pub use crate::auth::jose::{decode_part, split, JoseHeader};
    pub use crate::auth::jwk::{parse_jwks, JwkContext};
    pub use crate::auth::{
        AuthMetrics, ClaimMode, ClaimRules, Identity, KeptClaims, KeyAlg, KeySet,
    };
    pub use crate::config::{load, parse_str, Overrides};
    pub use crate::header_text::claim_as_header;
    pub use crate::http1_head::{request_target, HeadScanner};
    pub use crate::path::{canonicalize, decode_segment};
    pub use crate::policy::{AuthMode, Pattern, Route, RouteTable};
    pub use crate::requirements::{ClaimPath, Requirement};
    pub use crate::trace::NoTrace;
}

/// The per-request work, for the Criterion benchmarks in `proxy/benches/`. Not an
/// API.
#[doc(hidden)]
pub mod benching {
    pub use crate::assertion::{AssertionSigner, BoundRequest};
    pub use crate::auth::jwk::{parse_jwks, JwkContext};
    #[cfg(any(test, feature = "testkeys"))]
    pub use crate::auth::testkeys::{jwks, TestKey};
    pub use crate::auth::{
        AuthMetrics, ClaimRules, Identity, KeptClaims, KeyAlg, KeySet, KeySource, Purpose,
        Verifier, VerifierOptions, VerifyingKey,
    };
    pub use crate::forwarding::Scheme;
    pub use crate::identity_headers::{HeaderNames, IdentityHeaders};
    pub use crate::outbound::{Admitted, OutboundPolicy};
    pub use crate::path::canonicalize;
    pub use crate::policy::{AuthMode, Pattern, Route, RouteTable};
    pub use crate::requirements::{ClaimPath, Requirement};
    pub use crate::revocation::{Entry, Kind, RevocationSet};
    pub use crate::secret::Secret;
    pub use crate::trace::NoTrace;
}
