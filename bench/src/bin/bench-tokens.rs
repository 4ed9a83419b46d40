//! `bench-tokens`: mints everything the benchmark scenarios send and verify.
//!
//! From an Ed25519 and an RSA private key in DER (`run.sh` converts the PEM files
//! `openssl genpkey` writes: `openssl pkey -outform DER` for Ed25519 = PKCS#8,
//! `openssl rsa -traditional -outform DER` for RSA = PKCS#1; DER keeps jsonwebtoken's
//! `use_pem` feature out of the workspace) and the HS256 secret in `BETTER_AUTH_SECRET`,
//! writes into `--out-dir`:
//!
//! - `jwks.json`: the two public keys (`kid` `bench-ed25519` / `bench-rs256`);
//! - `hs256.token`, `eddsa.token`, `rs256.token`: one token each;
//! - `eddsa-many.tokens`: `--count` distinct EdDSA tokens, one per line;
//! - `{hs256,eddsa,rs256}-expired.token`: expired an hour ago (well past any leeway);
//! - `{hs256,eddsa,rs256}-badsig.token`: a valid token with one signature character
//!   changed.
//!
//! Every token carries `sub`, `email`, `iat` and `exp` (now + `--ttl-secs`). `run.sh`
//! sends the expired and tampered ones before each run to prove the proxy under test
//! really verifies (a proxy that answers 200 to them is not benchmarked).

use clap::Parser;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `kid` of the Ed25519 key in the JWKS.
const ED25519_KID: &str = "bench-ed25519";
/// `kid` of the RSA key in the JWKS.
const RSA_KID: &str = "bench-rs256";

/// Mint benchmark tokens and the matching JWKS.
#[derive(Debug, Parser)]
#[command(name = "bench-tokens", version, about)]
struct Args {
    /// Directory to write into (must exist).
    #[arg(long)]
    out_dir: PathBuf,
    /// Ed25519 private key, PKCS#8 DER.
    #[arg(long)]
    ed25519_der: PathBuf,
    /// RSA private key, PKCS#1 DER.
    #[arg(long)]
    rsa_der: PathBuf,
    /// Distinct EdDSA tokens in `eddsa-many.tokens`.
    #[arg(long, default_value_t = 10_000)]
    count: u32,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl_secs: u64,
    /// HS256 secret (at least 32 bytes).
    #[arg(long, env = "BETTER_AUTH_SECRET", hide_env_values = true)]
    secret: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-tokens: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_key(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(dir: &Path, name: &str, contents: &str) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))
}

/// Signs the claims of user `n`, issued at `iat` and expiring at `exp`, with `key`.
fn token(
    alg: Algorithm,
    kid: Option<&str>,
    key: &EncodingKey,
    n: u32,
    iat: u64,
    exp: u64,
) -> Result<String, String> {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    let claims = serde_json::json!({
        "sub": format!("bench-user-{n}"),
        "email": format!("bench-user-{n}@example.test"),
        "iat": iat,
        "exp": exp,
        // As Better Auth's admin plugin writes them: what the `/rules/**` route of
        // authgate-hs256-rules requires.
        "role": "user,admin",
        "emailVerified": true,
    });
    encode(&header, &claims, key).map_err(|e| format!("cannot sign a {alg:?} token: {e}"))
}

/// `token` with its signature's sixth character replaced: still well-formed base64url,
/// but the signature bytes no longer match.
fn tamper(token: &str) -> Result<String, String> {
    let sig_start = token.rfind('.').ok_or("token has no signature")? + 1;
    let at = sig_start + 5;
    let old = token
        .as_bytes()
        .get(at)
        .copied()
        .ok_or("signature too short")?;
    let new = if old == b'A' { 'B' } else { 'A' };
    let mut out = String::with_capacity(token.len());
    out.push_str(&token[..at]);
    out.push(new);
    out.push_str(&token[at + 1..]);
    Ok(out)
}

/// Writes `<name>.token`, `<name>-expired.token` and `<name>-badsig.token`.
fn write_single(
    dir: &Path,
    name: &str,
    alg: Algorithm,
    kid: Option<&str>,
    key: &EncodingKey,
    now: u64,
    ttl: u64,
) -> Result<(), String> {
    let good = token(alg, kid, key, 0, now, now + ttl)?;
    write(dir, &format!("{name}.token"), &format!("{good}\n"))?;
    let expired = token(alg, kid, key, 0, now - 7200, now - 3600)?;
    write(
        dir,
        &format!("{name}-expired.token"),
        &format!("{expired}\n"),
    )?;
    let bad = tamper(&good)?;
    write(dir, &format!("{name}-badsig.token"), &format!("{bad}\n"))
}

/// The public half of `key` as a JWK with `kid`, `alg` and `use: sig`.
fn public_jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Result<Jwk, String> {
    let mut jwk = Jwk::from_encoding_key(key, alg)
        .map_err(|e| format!("cannot derive the {alg:?} public key: {e}"))?;
    jwk.common.key_id = Some(kid.to_string());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(jwk)
}

fn run(args: &Args) -> Result<(), String> {
    if args.secret.len() < 32 {
        return Err("BETTER_AUTH_SECRET must be at least 32 bytes".into());
    }
    let ed = EncodingKey::from_ed_der(&read_key(&args.ed25519_der)?);
    let rsa = EncodingKey::from_rsa_der(&read_key(&args.rsa_der)?);
    let hs = EncodingKey::from_secret(args.secret.as_bytes());
    let now = jsonwebtoken::get_current_timestamp();
    let ttl = args.ttl_secs;

    let jwks = JwkSet {
        keys: vec![
            public_jwk(&ed, Algorithm::EdDSA, ED25519_KID)?,
            public_jwk(&rsa, Algorithm::RS256, RSA_KID)?,
        ],
    };
    let jwks = serde_json::to_string_pretty(&jwks).map_err(|e| e.to_string())?;
    write(&args.out_dir, "jwks.json", &jwks)?;

    let dir = args.out_dir.as_path();
    write_single(dir, "hs256", Algorithm::HS256, None, &hs, now, ttl)?;
    write_single(
        dir,
        "eddsa",
        Algorithm::EdDSA,
        Some(ED25519_KID),
        &ed,
        now,
        ttl,
    )?;
    write_single(
        dir,
        "rs256",
        Algorithm::RS256,
        Some(RSA_KID),
        &rsa,
        now,
        ttl,
    )?;

    let mut many = String::with_capacity(args.count as usize * 256);
    for n in 1..=args.count {
        let t = token(Algorithm::EdDSA, Some(ED25519_KID), &ed, n, now, now + ttl)?;
        let _ = writeln!(many, "{t}");
    }
    write(&args.out_dir, "eddsa-many.tokens", &many)?;
    println!(
        "bench-tokens: wrote jwks.json, 9 single tokens and {} EdDSA tokens to {}",
        args.count,
        args.out_dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tamper_changes_one_signature_character() {
        let t = "aGVhZA.Ym9keQ.c2lnbmF0dXJlcw";
        let bad = tamper(t).expect("tamper");
        assert_eq!(bad.len(), t.len());
        assert_eq!(&bad[..19], &t[..19]);
        assert_ne!(bad, t);
        assert_eq!(bad.chars().filter(|c| *c == '.').count(), 2);
    }
}
