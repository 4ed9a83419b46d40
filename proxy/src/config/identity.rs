//! `[identity]` → the header names and the assertion signer.

use std::sync::Arc;

use super::context::Ctx;
use super::schema::IdentitySection;
use super::secrets::{SecretReader, SecretSpec};
use crate::assertion::{AssertionSigner, MAX_TTL_SECS};
use crate::error::ConfigError;
use crate::header_text::is_quotable;
use crate::identity_headers::{HeaderNames, IdentityHeaders};
use crate::secret::Secret;

/// What authgate sends upstream about the caller.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// The headers that carry the identity upstream, and those stripped.
    pub headers: IdentityHeaders,
    /// Signs `X-Auth-Assertion` (HS256, `assertion_ttl_secs`).
    pub assertion: Arc<AssertionSigner>,
}

/// Headers an identity claim may not be mapped onto.
const RESERVED: &[&str] = &[
    "authorization",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "cookie",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-request-id",
];

fn is_reserved_header(name: &str) -> bool {
    let name = name.replace('_', "-");
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&name))
}

/// `[identity.claims]` may not map a claim onto an identity or protocol header.
fn check_claim_headers(cx: &Ctx<'_>, id: &IdentitySection) -> Result<(), ConfigError> {
    let reserved = [&id.user_id_header, &id.email_header, &id.assertion_header];
    for (claim, header) in &id.claims {
        if claim.is_empty() {
            return Err(cx.err("identity.claims", "claim names must be non-empty"));
        }
        if reserved.iter().any(|r| r.eq_ignore_ascii_case(header)) || is_reserved_header(header) {
            return Err(cx.err(
                format!("identity.claims.{claim}"),
                format!("`{header}` is reserved"),
            ));
        }
    }
    Ok(())
}

/// Validates `[identity]`.
pub(super) fn resolve(
    cx: &Ctx<'_>,
    id: &IdentitySection,
    secrets: &mut SecretReader<'_>,
    hs256_secrets: &[(usize, Secret)],
) -> Result<IdentitySettings, ConfigError> {
    if !(1..=MAX_TTL_SECS).contains(&id.assertion_ttl_secs) {
        return Err(cx.err(
            "identity.assertion_ttl_secs",
            format!("must be between 1 and {MAX_TTL_SECS}"),
        ));
    }
    if !is_quotable(&id.assertion_issuer) {
        return Err(cx.err(
            "identity.assertion_issuer",
            "must be non-empty, without control characters",
        ));
    }
    check_claim_headers(cx, id)?;
    let claim_headers: Vec<(String, String)> = id
        .claims
        .iter()
        .map(|(claim, header)| (claim.clone(), header.clone()))
        .collect();
    let headers = IdentityHeaders::new(&HeaderNames {
        user_id: &id.user_id_header,
        email: &id.email_header,
        assertion: &id.assertion_header,
        claims: &claim_headers,
        extra_strip: &id.strip_headers,
    })
    .map_err(|m| cx.err("identity", m))?;
    let file_key = "identity.assertion_secret_file";
    let secret = secrets.read(
        cx,
        &SecretSpec {
            file: id.assertion_secret_file.as_deref().map(|f| (file_key, f)),
            env: ("identity.assertion_secret_env", &id.assertion_secret_env),
            purpose: "assertion signing key",
        },
    )?;
    // With one key for both, every assertion would verify as a bearer token.
    if let Some((i, _)) = hs256_secrets
        .iter()
        .find(|(_, s)| s.expose() == secret.expose())
    {
        return Err(cx.err(
            "identity.assertion_secret_env",
            format!("the assertion secret must differ from the HS256 secret of auth.sources[{i}] (with one key, assertions would pass as bearer tokens)"),
        ));
    }
    let assertion = Arc::new(AssertionSigner::new(
        &secret,
        id.assertion_issuer.clone(),
        id.assertion_ttl_secs,
    ));
    Ok(IdentitySettings { headers, assertion })
}
