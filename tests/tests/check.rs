//! `authgate check` on the real sample config and on broken ones: exit 0 or 64,
//! errors naming the key and the file, secrets never printed.

#![allow(clippy::unwrap_used)]

use authgate_tests::process::{authgate_check, authgate_check_file, workspace_root};
use authgate_tests::{ASSERTION_SECRET, BETTER_AUTH_SECRET};

const SECRETS: &[(&str, &str)] = &[
    ("BETTER_AUTH_SECRET", BETTER_AUTH_SECRET),
    ("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET),
];

#[test]
fn the_sample_config_passes_and_prints_redacted_settings() {
    let (code, out, err) = authgate_check_file(&workspace_root().join("config.toml"), SECRETS);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("configuration OK"));
    assert!(out.contains("[[routes]]") && out.contains("owner = \"user_id\""));
    assert!(out.contains("BETTER_AUTH_SECRET") && out.contains("\"***\""));
    assert!(!out.contains(BETTER_AUTH_SECRET) && !out.contains(ASSERTION_SECRET));
    assert!(!err.contains(BETTER_AUTH_SECRET));
}

#[test]
fn the_deploy_config_passes() {
    // JWKS only: the URL, issuer and audience come from the deployment's environment,
    // and no BETTER_AUTH_SECRET is needed.
    let env = [
        ("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET),
        ("AUTHGATE_JWKS_URL", "http://better-auth:3000/api/auth/jwks"),
        ("AUTHGATE_JWKS_ISSUER", "http://better-auth:3000"),
        ("AUTHGATE_JWKS_AUDIENCE", "http://better-auth:3000"),
    ];
    let path = workspace_root().join("deploy/authgate.toml");
    let (code, out, err) = authgate_check_file(&path, &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("listen = \"0.0.0.0:8080\""), "{out}");
    assert!(!err.contains("warning"), "{err}");
    // Without the JWKS URL it has no key source at all: an error, not a silent default.
    let (code, _, err) = authgate_check_file(&path, &env[..1]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("auth.sources"), "{err}");
}

#[test]
fn broken_configs_exit_64_naming_key_and_file() {
    let cases: &[(&str, &str)] = &[
        ("[server]\nlisten = \"nowhere\"\n", "`server.listen`"),
        (
            "[server]\nlisten_addr = \"127.0.0.1:1\"\n",
            "`server.listen_addr`",
        ),
        ("[server]\nthreads = \"many\"\n", "`server.threads`"),
        (
            "[[routes]]\npath = \"/api/{id}/x\"\nowner = \"user_id\"\n",
            "`routes[0].owner`",
        ),
        ("[[routes]]\npath = \"/a//b\"\n", "`routes[0].path`"),
        ("[upstream]\nurl = \"ftp://x\"\n", "`upstream.url`"),
    ];
    for (text, key) in cases {
        let config = format!("{text}[[auth.sources]]\ntype = \"shared_secret\"\n");
        let (code, out, err) = authgate_check(&config, SECRETS);
        assert_eq!(code, 64, "{text}: {out}{err}");
        assert!(err.contains(key), "{text}: {err}");
        assert!(err.contains("authgate.toml"), "names the file: {err}");
    }
}

#[test]
fn a_missing_secret_exits_64_naming_the_variable() {
    let path = workspace_root().join("config.toml");
    let (code, _, err) =
        authgate_check_file(&path, &[("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET)]);
    assert_eq!(code, 64);
    assert!(
        err.contains("BETTER_AUTH_SECRET") && err.contains("config.toml"),
        "{err}"
    );
    let (code, _, err) = authgate_check_file(
        &path,
        &[
            ("BETTER_AUTH_SECRET", "too-short"),
            ("AUTHGATE_ASSERTION_SECRET", ASSERTION_SECRET),
        ],
    );
    assert_eq!(code, 64);
    assert!(
        err.contains("at least 32") && !err.contains("too-short"),
        "{err}"
    );
}

#[test]
fn a_missing_file_exits_64() {
    let (code, _, err) =
        authgate_check_file(std::path::Path::new("/nonexistent/authgate.toml"), SECRETS);
    assert_eq!(code, 64);
    assert!(err.contains("/nonexistent/authgate.toml"), "{err}");
}

#[test]
fn a_password_in_a_jwks_url_is_never_printed() {
    let config = "[[auth.sources]]\ntype = \"jwks_url\"\nurl = \"http://svc:s3cr3t-pass@127.0.0.1:9/jwks\"\n";
    let (code, out, err) = authgate_check(config, SECRETS);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("http://svc:***@127.0.0.1:9/jwks"), "{out}");
    assert!(!out.contains("s3cr3t") && !err.contains("s3cr3t"));
    let bad = "[[auth.sources]]\ntype = \"jwks_url\"\nurl = \"ftp://svc:s3cr3t-pass@host/jwks\"\n";
    let (code, _, err) = authgate_check(bad, SECRETS);
    assert_eq!(code, 64);
    assert!(
        err.contains("auth.sources[0].url") && !err.contains("s3cr3t"),
        "{err}"
    );
}
