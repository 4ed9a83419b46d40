//! Freshly generated key pairs that sign test tokens and publish their JWK. For unit
//! tests and benchmarks only: production code never signs with these.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, RsaEncoding, RsaKeyPair,
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
    ECDSA_P521_SHA512_FIXED_SIGNING, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::alg::KeyAlg;

enum Signer {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair, &'static dyn RsaEncoding),
}

/// A generated key pair.
pub struct TestKey {
    /// Its algorithm.
    pub alg: KeyAlg,
    /// Its `kid`.
    pub kid: String,
    /// Its public JWK (with `alg` and `kid`, without `use`, as Better Auth publishes).
    pub jwk: Value,
    signer: Signer,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ec(alg: &'static EcdsaSigningAlgorithm, crv: &str) -> (Signer, Value) {
    let pair = EcdsaKeyPair::generate(alg).expect("EC key");
    let point = pair.public_key().as_ref().to_vec();
    let half = (point.len() - 1) / 2;
    let jwk = json!({"kty":"EC","crv":crv,"x":b64(&point[1..=half]),"y":b64(&point[half + 1..])});
    (Signer::Ec(pair), jwk)
}

fn rsa(encoding: &'static dyn RsaEncoding) -> (Signer, Value) {
    let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key");
    let public = pair.public_key();
    let jwk = json!({
        "kty":"RSA",
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero()),
    });
    (Signer::Rsa(pair, encoding), jwk)
}

impl TestKey {
    /// Generates a key for `alg` (any asymmetric algorithm but RS384/RS512/PS384/PS512).
    pub fn generate(alg: KeyAlg, kid: &str) -> Self {
        let (signer, mut jwk) = match alg {
            KeyAlg::EdDSA => {
                let pair = Ed25519KeyPair::generate().expect("Ed25519 key");
                let x = b64(pair.public_key().as_ref());
                (Signer::Ed(pair), json!({"kty":"OKP","crv":"Ed25519","x":x}))
            }
            KeyAlg::ES256 => ec(&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256"),
            KeyAlg::ES384 => ec(&ECDSA_P384_SHA384_FIXED_SIGNING, "P-384"),
            KeyAlg::ES512 => ec(&ECDSA_P521_SHA512_FIXED_SIGNING, "P-521"),
            KeyAlg::RS256 => rsa(&RSA_PKCS1_SHA256),
            KeyAlg::PS256 => rsa(&RSA_PSS_SHA256),
            other => panic!("no test key for {}", other.as_str()),
        };
        jwk["alg"] = json!(alg.as_str());
        jwk["kid"] = json!(kid);
        Self {
            alg,
            kid: kid.to_string(),
            jwk,
            signer,
        }
    }

    /// Signs `claims` under `header` as given (it is not amended).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let sig = match &self.signer {
            Signer::Ed(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
            Signer::Ec(pair) => pair
                .sign(&rng, input.as_bytes())
                .expect("EC sign")
                .as_ref()
                .to_vec(),
            Signer::Rsa(pair, enc) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(*enc, &rng, input.as_bytes(), &mut sig)
                    .expect("RSA sign");
                sig
            }
        };
        format!("{input}.{}", b64(&sig))
    }

    /// Signs `claims` with the header Better Auth uses: `{"alg", "kid"}`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(&json!({"alg": self.alg.as_str(), "kid": self.kid}), claims)
    }
}

/// A JWKS document publishing `keys`.
pub fn jwks(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}).to_string()
}
