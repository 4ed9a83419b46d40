//! SIGTERM: authgate exits cleanly within its grace period; requests in flight each get
//! the whole of `grace_period_secs`, and the process exits at the latest when the grace
//! period ends.

#![allow(clippy::unwrap_used)]

use authgate_tests::echo;
use authgate_tests::gated::{Gated, CONFIG, ROUTES};
use authgate_tests::process::Authgate;
use authgate_tests::raw;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Starts authgate with `grace` seconds, sends a request the upstream answers after
/// `delay`, sends SIGTERM 100 ms later; returns the request's status (`None` when
/// it was cut) and when the process exited, from the SIGTERM.
fn in_flight_at_sigterm(
    upstream: SocketAddr,
    grace: u64,
    delay: Duration,
) -> (Option<u16>, Duration) {
    let config = format!(
        "[server]\nthreads = 2\ngrace_period_secs = {grace}\n[[auth.sources]]\ntype = \"shared_secret\"\n{ROUTES}"
    );
    let (mut proxy, _dir) = Authgate::new(&config, upstream).start();
    let addr = proxy.addr;
    let path = format!("/public/slow?delay_ms={}", delay.as_millis());
    let request =
        std::thread::spawn(move || raw::send(addr, &raw::get(&path, &[])).map(|r| r.status));
    std::thread::sleep(Duration::from_millis(100));
    let signalled = Instant::now();
    proxy.signal("TERM");
    let status = proxy
        .wait_exit(Duration::from_secs(grace + 5))
        .expect("authgate exited");
    let exited = signalled.elapsed();
    assert!(status.success(), "{status}");
    (request.join().unwrap(), exited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_get_the_whole_grace_period() {
    let echo = echo::start().await;
    let upstream = echo.addr;
    let runs: Vec<_> = [1u64, 2, 5]
        .into_iter()
        .map(|grace| {
            std::thread::spawn(move || {
                // Finishes 400 ms before the grace period ends (it started 100 ms
                // before the SIGTERM).
                let finishing = Duration::from_millis(grace * 1000 - 300);
                let (status, exited) = in_flight_at_sigterm(upstream, grace, finishing);
                // Still running when the grace period ends.
                let too_long = Duration::from_millis(grace * 1000 + 1500);
                let (cut, cut_exit) = in_flight_at_sigterm(upstream, grace, too_long);
                (grace, status, exited, cut, cut_exit)
            })
        })
        .collect();
    for run in runs {
        let (grace, status, exited, cut, cut_exit) = run.join().unwrap();
        println!(
            "grace {grace} s: request finishing in time → {status:?}, exit after {} ms; \
             request too long → {cut:?}, exit after {} ms",
            exited.as_millis(),
            cut_exit.as_millis()
        );
        let grace = Duration::from_secs(grace);
        assert_eq!(status, Some(200), "grace {grace:?}: the request was cut");
        assert!(exited < grace, "grace {grace:?}: exited after {exited:?}");
        assert_eq!(
            cut, None,
            "grace {grace:?}: answered after the grace period"
        );
        assert!(
            cut_exit >= grace && cut_exit < grace + Duration::from_millis(700),
            "grace {grace:?}: exited after {cut_exit:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_within_the_grace_period() {
    let mut f = Gated::start(CONFIG).await;
    assert!(f.proxy.is_running());
    let started = Instant::now();
    let status = f
        .proxy
        .terminate(Duration::from_secs(10))
        .expect("exited after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}
