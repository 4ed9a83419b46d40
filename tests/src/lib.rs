//! Test harness shared by the integration tests: start the real binaries on free
//! loopback ports, a tiny echo upstream, a raw HTTP client for requests a normal
//! client refuses to send, curl for TLS and HTTP/2, a test PKI (openssl), the
//! Python gRPC/WebSocket peers, token minting, and the test PostgreSQL and Redis servers
//! of the tests' own. upstream-api's own tests use it too (as a dev-dependency), so
//! there is one harness for binaries.

pub mod curl;
pub mod echo;
pub mod gated;
pub mod h2c;
pub mod issuer;
pub mod metrics;
pub mod oidc_provider;
pub mod peers;
pub mod pki;
pub mod postgres;
pub mod process;
pub mod raw;
pub mod redis;
pub mod shared_state;
pub mod tokens;
pub mod tools;
pub mod upstream;

/// Secret used as `BETTER_AUTH_SECRET` in tests.
pub const BETTER_AUTH_SECRET: &str = "test-better-auth-secret-0123456789abcdef";
/// Secret used as `AUTHGATE_ASSERTION_SECRET` in tests.
pub const ASSERTION_SECRET: &str = "test-assertion-secret-0123456789abcdef";
