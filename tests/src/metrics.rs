//! Reading authgate's `/metrics` in tests.

use crate::process::Service;

/// Value of the first sample line starting with `line_start` (`name{labels}`) in an
/// exposition.
pub fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The exposition of `service`'s admin listener.
pub fn scrape(service: &Service) -> String {
    let admin = service.admin.expect("authgate has an admin listener");
    crate::raw::send(admin, &crate::raw::get("/metrics", &[]))
        .expect("a /metrics response")
        .body
}
