//! When the upstream fails, with the real authgate: 502 `bad_gateway` at once when
//! nothing listens, 504 `gateway_timeout` when it accepts and does not answer within
//! `upstream.read_timeout_ms`.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo;
use authgate_tests::gated::CONFIG;
use authgate_tests::process::Authgate;
use authgate_tests::raw;
use authgate_tests::tokens::{alice_token, bearer};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_is_502_and_timeout_is_504() {
    let closed = echo::closed_port();
    let (proxy, _dir) = Authgate::new(CONFIG, closed).start();
    let token = alice_token();
    let started = Instant::now();
    let resp = raw::send(
        proxy.addr,
        &raw::get("/api/alice/tasks", &[("Authorization", &bearer(&token))]),
    )
    .unwrap();
    assert_eq!(resp.status, 502, "{resp:?}");
    assert_eq!(resp.json()["error"], "bad_gateway");
    assert!(started.elapsed() < Duration::from_secs(5));

    let silent = echo::start_silent().await;
    let (proxy, _dir2) = Authgate::new(CONFIG, silent).start();
    let started = Instant::now();
    let resp = raw::send(
        proxy.addr,
        &raw::get("/api/alice/tasks", &[("Authorization", &bearer(&token))]),
    )
    .unwrap();
    assert_eq!(resp.status, 504, "{resp:?}");
    assert_eq!(resp.json()["error"], "gateway_timeout");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(8),
        "{took:?}"
    );
}
