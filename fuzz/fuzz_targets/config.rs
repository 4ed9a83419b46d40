//! Config parsing: `parse_str` on any text, then the full `load` (schema, overrides,
//! secrets from a fixed environment, a JWKS file beside the config, validation) never
//! panics.
#![no_main]

use authgate::fuzzing::{load, parse_str, AuthMetrics, Overrides};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn scratch() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("authgate-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        // For `type = "jwks_file"`, `path = "jwks.json"` (relative to the config).
        let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        std::fs::write(dir.join("jwks.json"), jwks).expect("scratch JWKS");
        dir.join("authgate.toml")
    })
}

fn env(name: &str) -> Option<String> {
    match name {
        "BETTER_AUTH_SECRET" => Some("fuzz-better-auth-secret-0123456789abcdef".into()),
        "AUTHGATE_ASSERTION_SECRET" => Some("fuzz-assertion-secret-0123456789abcdef".into()),
        "SHORT_SECRET" => Some("short".into()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if parse_str(text, Path::new("fuzz.toml")).is_err() {
        return;
    }
    // Only text that parses goes on to the full load (it reads the file itself).
    let path = scratch();
    std::fs::write(path, text).expect("write scratch config");
    let _ = load(Some(path), &Overrides::default(), &env, &AuthMetrics::default());
});
