//! The upstream connection pool: a kept-alive upstream serves (almost) every request
//! on a reused connection, and nothing about it is logged as an error.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo;
use authgate_tests::gated::ROUTES;
use authgate_tests::process::Authgate;
use authgate_tests::raw;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_alive_upstream_connections_are_reused() {
    let echo = echo::start().await;
    let config = format!(
        "[server]\nthreads = 2\ngrace_period_secs = 1\n[[auth.sources]]\ntype = \"shared_secret\"\n{ROUTES}"
    );
    let (proxy, _dir) = Authgate::new(&config, echo.addr).start();
    const CLIENTS: usize = 16;
    const EACH: usize = 1000;
    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let client = client.clone();
            let url = proxy.url(&format!("/public/{c}"));
            tokio::spawn(async move {
                for _ in 0..EACH {
                    let status = client.get(&url).send().await.unwrap().status();
                    assert_eq!(status, 200);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let metrics = raw::send(proxy.admin.unwrap(), &raw::get("/metrics", &[]))
        .unwrap()
        .body;
    let count = |reused: &str| -> f64 {
        let line = format!(
            "authgate_upstream_connections_total{{reused=\"{reused}\",upstream=\"upstream-api\"}} "
        );
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let (reused, new) = (count("true"), count("false"));
    let total = (CLIENTS * EACH) as f64;
    println!("{reused} requests on reused upstream connections, {new} on new ones");
    assert_eq!(reused + new, total);
    // Each concurrent client needs its own connection once; beyond that, at most
    // one request in a thousand may go out on a new one.
    assert!(
        new <= CLIENTS as f64 + total / 1000.0,
        "{new} new upstream connections for {total} requests"
    );
    let log = proxy.stderr_containing("never", Duration::from_millis(200));
    assert!(!log.contains("reusable stream"), "{log}");
    assert!(!log.contains(" ERROR "), "{log}");
}
