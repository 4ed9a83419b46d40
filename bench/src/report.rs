//! The markdown tables of `RESULTS.md`, from the raw JSON lines `run.sh` appends to
//! `raw.jsonl` (one line per load run). Every figure shown is the median over the
//! repetitions of that scenario in that layout; ratios are ratios of those medians.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::stats::median;

/// One scenario: its id in `raw.jsonl`, its label, and the run it compares with.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Id used by `run.sh`.
    pub id: &'static str,
    /// What the table shows.
    pub label: &'static str,
    /// The scenario it is compared with (HAProxy doing the same job, or nginx for the
    /// pass-through), if a comparison means something.
    pub reference: Option<&'static str>,
}

/// Id of the direct-to-upstream run (the ceiling).
pub const DIRECT: &str = "direct";
/// Id of authgate on a public route (pass-through cost).
pub const AUTHGATE_PUBLIC: &str = "authgate-public";
/// Id of authgate verifying HS256 as shipped: the "no limit" row the shared-state
/// scenarios are compared with.
pub const AUTHGATE_HS256: &str = "authgate-hs256";
/// Id of HAProxy verifying HS256, its log on.
pub const HAPROXY_HS256_LOG: &str = "haproxy-hs256-log";
/// Id of HAProxy verifying HS256.
pub const HAPROXY_HS256: &str = "haproxy-hs256";
/// Id of HAProxy verifying RS256.
pub const HAPROXY_RS256: &str = "haproxy-rs256";
/// Id of plain nginx.
pub const NGINX: &str = "nginx";

const fn scenario(
    id: &'static str,
    label: &'static str,
    reference: Option<&'static str>,
) -> Scenario {
    Scenario {
        id,
        label,
        reference,
    }
}

/// Every scenario, in table order. "As shipped": default threads, access log on.
pub const SCENARIOS: &[Scenario] = &[
    scenario(DIRECT, "direct to upstream (ceiling)", None),
    scenario(
        AUTHGATE_PUBLIC,
        "authgate, public route, as shipped",
        Some(NGINX),
    ),
    scenario(
        AUTHGATE_HS256,
        "authgate, HS256, as shipped (access log on)",
        Some(HAPROXY_HS256_LOG),
    ),
    scenario(
        "authgate-hs256-nolog",
        "authgate, HS256, access log off",
        Some(HAPROXY_HS256),
    ),
    scenario(
        "authgate-hs256-tuned",
        "authgate, HS256, tuned (1 thread, log off)",
        Some(HAPROXY_HS256),
    ),
    scenario(
        "authgate-eddsa",
        "authgate, EdDSA JWKS, one token",
        Some(HAPROXY_RS256),
    ),
    scenario(
        "authgate-eddsa-many",
        "authgate, EdDSA JWKS, distinct tokens",
        Some(HAPROXY_RS256),
    ),
    scenario(
        "authgate-rs256",
        "authgate, RS256 JWKS, one token",
        Some(HAPROXY_RS256),
    ),
    scenario(
        "authgate-limit-local",
        "authgate, HS256 + a rate limit counted in process",
        Some(AUTHGATE_HS256),
    ),
    scenario(
        "authgate-limit-redis",
        "authgate, HS256 + a rate limit counted in Redis",
        Some(AUTHGATE_HS256),
    ),
    scenario(
        "authgate-revoked-100k",
        "authgate, HS256, 100 000 revoked subjects in memory",
        Some(AUTHGATE_HS256),
    ),
    scenario(
        HAPROXY_HS256_LOG,
        "HAProxy jwt_verify HS256 + exp, log on",
        Some(HAPROXY_HS256_LOG),
    ),
    scenario(
        HAPROXY_HS256,
        "HAProxy jwt_verify HS256 + exp, log off",
        Some(HAPROXY_HS256),
    ),
    scenario(
        HAPROXY_RS256,
        "HAProxy jwt_verify RS256 + exp",
        Some(HAPROXY_RS256),
    ),
    scenario(NGINX, "nginx reverse proxy (reference)", Some(NGINX)),
];

/// Suffix of the rows `run.sh --baseline-authgate` adds: the same scenario run with
/// another authgate binary.
pub const BASELINE_SUFFIX: &str = "@baseline";

/// A row of the tables: a scenario, or its `@baseline` twin.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    label: String,
    reference: Option<&'static str>,
}

/// Every scenario in table order, each followed by its `@baseline` twin when the
/// records hold one.
fn rows(records: &[RawRecord]) -> Vec<Row> {
    let has = |id: &str| {
        records.iter().any(|r| match r {
            RawRecord::Closed { scenario, .. }
            | RawRecord::Rss256 { scenario, .. }
            | RawRecord::Openloop { scenario, .. }
            | RawRecord::Skipped { scenario, .. } => scenario == id,
        })
    };
    let mut out = Vec::new();
    for s in SCENARIOS {
        out.push(Row {
            id: s.id.into(),
            label: s.label.into(),
            reference: s.reference,
        });
        let twin = format!("{}{BASELINE_SUFFIX}", s.id);
        if has(&twin) {
            out.push(Row {
                id: twin,
                label: format!("{} — baseline binary", s.label),
                reference: s.reference,
            });
        }
    }
    out
}

/// Counters and latencies `wrk/report.lua` prints for one closed-loop run.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WrkSummary {
    /// Responses completed.
    pub requests: u64,
    /// Length of the run, microseconds.
    pub duration_us: u64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// Socket errors and statuses >= 400.
    #[serde(default)]
    pub errors: WrkErrors,
}

/// wrk's error counters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WrkErrors {
    /// Failed connects.
    #[serde(default)]
    pub connect: u64,
    /// Read errors.
    #[serde(default)]
    pub read: u64,
    /// Write errors.
    #[serde(default)]
    pub write: u64,
    /// Timeouts.
    #[serde(default)]
    pub timeout: u64,
    /// Responses with a status >= 400.
    #[serde(default)]
    pub status: u64,
}

impl WrkErrors {
    fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout + self.status
    }
}

/// An authgate's upstream connections over the life of one server process (pre-flight,
/// warm-up and measured run).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpstreamReuse {
    /// Requests it proxied (`authgate_requests_total`, decision allow or anonymous).
    pub proxied: u64,
    /// Connections the upstream accepted from it (counted by `bench-upstream`).
    pub accepted: u64,
    /// Its own count of new upstream connections
    /// (`authgate_upstream_connections_total{reused="false"}`); -1 without that metric.
    pub metric_new: i64,
    /// "failed to acquire reusable stream" lines in its log.
    pub log_lines: u64,
}

/// What `bench-openloop` prints for one run.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OpenLoopSummary {
    /// Target rate, requests per second.
    pub rate: f64,
    /// Requests scheduled.
    pub scheduled: u64,
    /// Responses with a 2xx status.
    pub ok: u64,
    /// Responses with any other status.
    pub non2xx: u64,
    /// Requests that failed or never completed.
    pub errors: u64,
    /// Latency from the scheduled send time, microseconds.
    pub p50_us: u64,
    /// Latency from the scheduled send time, microseconds.
    #[serde(default)]
    pub p90_us: u64,
    /// Latency from the scheduled send time, microseconds.
    pub p99_us: u64,
    /// How late the dispatcher was at the 99th percentile, microseconds.
    pub dispatch_lag_p99_us: u64,
}

/// One line of `raw.jsonl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RawRecord {
    /// A closed-loop wrk run with the server's CPU and memory.
    Closed {
        /// `pinned` or `unpinned`.
        layout: String,
        /// Scenario id.
        scenario: String,
        /// CPU ticks (utime + stime) the server used during the run, all processes.
        cpu_ticks: u64,
        /// Ticks per second (`getconf CLK_TCK`).
        clk_tck: u64,
        /// Wall-clock seconds between the two CPU samples.
        wall_s: f64,
        /// Peak RSS (VmHWM) summed over the server's processes, KiB.
        rss_kb: u64,
        /// Share of the machine's CPU time the hypervisor took during the run (`steal`
        /// in `/proc/stat`), percent.
        #[serde(default)]
        steal_pct: f64,
        /// wrk's numbers.
        wrk: WrkSummary,
        /// Upstream connection reuse (authgate scenarios only).
        #[serde(default)]
        upstream: Option<UpstreamReuse>,
    },
    /// A run at many connections (256 by default) on a fresh server, for its peak RSS.
    Rss256 {
        /// Scenario id.
        scenario: String,
        /// Connections of the run.
        connections: u32,
        /// Peak RSS (VmHWM) summed over the server's processes, KiB.
        rss_kb: u64,
        /// wrk's numbers.
        wrk: WrkSummary,
    },
    /// A fixed-rate open-loop run.
    Openloop {
        /// `pinned` or `unpinned`.
        layout: String,
        /// Scenario id.
        scenario: String,
        /// Hypervisor steal during the run, percent (see `Closed`).
        #[serde(default)]
        steal_pct: f64,
        /// The client's numbers.
        result: OpenLoopSummary,
    },
    /// A scenario that could not run.
    Skipped {
        /// Scenario id.
        scenario: String,
        /// Why.
        reason: String,
    },
}

/// Parses `raw.jsonl`; blank lines are ignored, a bad line is an error naming its number.
pub fn parse_raw(text: &str) -> Result<Vec<RawRecord>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// Medians of the closed-loop runs of one scenario in one layout.
#[derive(Debug, Clone, Copy, Default)]
struct ClosedMedians {
    runs: usize,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us_per_req: f64,
    cpu_util: f64,
    rss_kb: f64,
    steal_pct: f64,
    errors: u64,
}

fn closed_medians(records: &[RawRecord], want_layout: &str, want: &str) -> Option<ClosedMedians> {
    let mut rps = Vec::new();
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    let mut cpu = Vec::new();
    let mut util = Vec::new();
    let mut rss = Vec::new();
    let mut steal = Vec::new();
    let mut errors = 0;
    for r in records {
        if let RawRecord::Closed {
            layout,
            scenario,
            cpu_ticks,
            clk_tck,
            wall_s,
            rss_kb,
            steal_pct,
            wrk,
            ..
        } = r
        {
            if layout != want_layout || scenario != want || wrk.requests == 0 {
                continue;
            }
            let cpu_s = *cpu_ticks as f64 / (*clk_tck).max(1) as f64;
            rps.push(wrk.requests as f64 / (wrk.duration_us.max(1) as f64 / 1e6));
            p50.push(wrk.p50_us);
            p99.push(wrk.p99_us);
            cpu.push(cpu_s * 1e6 / wrk.requests as f64);
            if *wall_s > 0.0 {
                util.push(100.0 * cpu_s / wall_s);
            }
            rss.push(*rss_kb as f64);
            steal.push(*steal_pct);
            errors += wrk.errors.total();
        }
    }
    Some(ClosedMedians {
        runs: rps.len(),
        rps: median(&rps)?,
        p50_us: median(&p50)?,
        p99_us: median(&p99)?,
        cpu_us_per_req: median(&cpu)?,
        cpu_util: median(&util).unwrap_or(f64::NAN),
        rss_kb: median(&rss)?,
        steal_pct: median(&steal).unwrap_or(f64::NAN),
        errors,
    })
}

fn ratio(a: f64, b: Option<f64>) -> String {
    match b {
        Some(b) if b > 0.0 && a.is_finite() => format!("{:.2}×", a / b),
        _ => "—".into(),
    }
}

fn ms(us: f64) -> String {
    if us.is_finite() {
        format!("{:.3}", us / 1000.0)
    } else {
        "—".into()
    }
}

fn mib(kb: f64) -> String {
    format!("{:.1}", kb / 1024.0)
}

/// How a ratio names the scenario it divides by.
fn short_ref(reference: &str) -> &'static str {
    match reference {
        HAPROXY_RS256 => "RS256",
        HAPROXY_HS256_LOG => "HS256 log",
        NGINX => "nginx",
        AUTHGATE_HS256 => "no limit",
        _ => "HS256",
    }
}

/// Settings echoed in the table captions.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Connections of the closed-loop runs.
    pub connections: u32,
    /// Layouts in the order run.
    pub layouts: Vec<String>,
    /// Layout of the peak-RSS pass, if it ran.
    pub rss_layout: Option<String>,
}

fn layout_caption(layout: &str) -> &'static str {
    match layout {
        "pinned" => "pinned: the server alone on CPU 0, wrk and the upstream on CPU 1",
        "unpinned" => "unpinned: every process free to run on either CPU",
        _ => "other layout",
    }
}

/// Renders every table. Scenarios without data are listed with the reason recorded in a
/// `skipped` line, if any.
pub fn render(records: &[RawRecord], opts: &RenderOptions) -> String {
    let mut out = String::new();
    let skipped: BTreeMap<&str, &str> = records
        .iter()
        .filter_map(|r| match r {
            RawRecord::Skipped { scenario, reason } => Some((scenario.as_str(), reason.as_str())),
            _ => None,
        })
        .collect();

    let rows = rows(records);
    for layout in &opts.layouts {
        let medians: BTreeMap<&str, ClosedMedians> = rows
            .iter()
            .filter_map(|s| closed_medians(records, layout, &s.id).map(|m| (s.id.as_str(), m)))
            .collect();
        if medians.is_empty() {
            continue;
        }
        let runs = medians.values().map(|m| m.runs).max().unwrap_or(0);
        let _ = writeln!(
            out,
            "### Closed loop, {} ({} connections, median of {runs} run{})\n",
            layout_caption(layout),
            opts.connections,
            if runs == 1 { "" } else { "s" }
        );
        out.push_str(
            "| scenario | req/s | ÷ direct | ÷ authgate public | ÷ reference | p50 ms | p99 ms | server CPU µs/req | CPU ÷ reference | server CPU % | peak RSS MiB | steal % |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        let rps_of = |id: &str| medians.get(id).map(|m| m.rps);
        let cpu_of = |id: &str| medians.get(id).map(|m| m.cpu_us_per_req);
        for s in &rows {
            let Some(m) = medians.get(s.id.as_str()) else {
                let why = skipped.get(s.id.as_str()).copied().unwrap_or("no data");
                let _ = writeln!(
                    out,
                    "| {} | not run: {} | | | | | | | | | | |",
                    s.label,
                    why.replace('|', "/")
                );
                continue;
            };
            let (vs_haproxy, cpu_vs_haproxy) = match s.reference {
                Some(h) if medians.contains_key(h) => (
                    format!("{} {}", ratio(m.rps, rps_of(h)), short_ref(h)),
                    format!("{} {}", ratio(m.cpu_us_per_req, cpu_of(h)), short_ref(h)),
                ),
                _ => ("—".into(), "—".into()),
            };
            let warn = if m.errors > 0 {
                format!(" ⚠ {} errors/non-2xx", m.errors)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "| {}{} | {:.0} | {} | {} | {} | {} | {} | {:.1} | {} | {:.0} | {} | {:.0} |",
                s.label,
                warn,
                m.rps,
                ratio(m.rps, rps_of(DIRECT)),
                ratio(m.rps, rps_of(AUTHGATE_PUBLIC)),
                vs_haproxy,
                ms(m.p50_us),
                ms(m.p99_us),
                m.cpu_us_per_req,
                cpu_vs_haproxy,
                m.cpu_util,
                mib(m.rss_kb),
                m.steal_pct,
            );
        }
        out.push('\n');
    }

    render_upstream(records, opts, &rows, &mut out);
    render_rss256(records, opts, &rows, &mut out);
    render_openloop(records, &rows, &mut out);

    if !skipped.is_empty() {
        out.push_str("### Not run\n\n");
        for (id, why) in &skipped {
            let _ = writeln!(out, "- `{id}`: {why}");
        }
        out.push('\n');
    }
    out
}

/// Upstream connection reuse of the authgate rows, summed over the rounds.
fn render_upstream(records: &[RawRecord], opts: &RenderOptions, rows: &[Row], out: &mut String) {
    let mut lines = String::new();
    for layout in &opts.layouts {
        for s in rows {
            let (mut proxied, mut fresh, mut log_lines, mut runs) = (0, 0, 0, 0);
            let mut metric: Option<i64> = None;
            for r in records {
                if let RawRecord::Closed {
                    layout: l,
                    scenario,
                    upstream: Some(u),
                    ..
                } = r
                {
                    if l == layout && *scenario == s.id {
                        proxied += u.proxied;
                        fresh += u.accepted;
                        log_lines += u.log_lines;
                        runs += 1;
                        if u.metric_new >= 0 {
                            metric = Some(metric.unwrap_or(0) + u.metric_new);
                        }
                    }
                }
            }
            if runs == 0 {
                continue;
            }
            let reused = if proxied > 0 {
                format!(
                    "{:.2} %",
                    100.0 * (1.0 - fresh as f64 / proxied as f64).max(0.0)
                )
            } else {
                "—".into()
            };
            let metric = metric.map_or("—".to_string(), |m| m.to_string());
            let _ = writeln!(
                lines,
                "| {} | {layout} | {runs} | {proxied} | {fresh} | {reused} | {metric} | {log_lines} |",
                s.label
            );
        }
    }
    if lines.is_empty() {
        return;
    }
    out.push_str(
        "### Upstream connection reuse (closed loop; each server's whole life: pre-flight, warm-up, measured run; summed over the runs)\n\n\
         New upstream connections as the upstream counted them (accepted); on reused connections = 1 − new ÷ proxied.\n\n\
         | scenario | layout | runs | proxied requests | new upstream connections | on reused connections | authgate's own count (`authgate_upstream_connections_total{reused=\"false\"}`) | \"failed to acquire reusable stream\" lines |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    out.push_str(&lines);
    out.push('\n');
}

fn render_rss256(records: &[RawRecord], opts: &RenderOptions, scenarios: &[Row], out: &mut String) {
    let mut rows = Vec::new();
    let mut conns = 0;
    for s in scenarios {
        let mut rss = Vec::new();
        let mut rps = Vec::new();
        let mut errors = 0;
        for r in records {
            if let RawRecord::Rss256 {
                scenario,
                connections,
                rss_kb,
                wrk,
            } = r
            {
                if *scenario == s.id {
                    conns = *connections;
                    rss.push(*rss_kb as f64);
                    rps.push(wrk.requests as f64 / (wrk.duration_us.max(1) as f64 / 1e6));
                    errors += wrk.errors.total();
                }
            }
        }
        if let (Some(rss), Some(rps)) = (median(&rss), median(&rps)) {
            rows.push((s, rss, rps, errors));
        }
    }
    if rows.is_empty() {
        return;
    }
    let layout = opts.rss_layout.as_deref().unwrap_or("unpinned");
    let _ = writeln!(
        out,
        "### Peak RSS at {conns} connections, {} (a fresh server per scenario)\n\n\
         | scenario | peak RSS MiB | req/s during the run |\n|---|---:|---:|",
        layout_caption(layout)
    );
    for (s, rss, rps, errors) in rows {
        let warn = if errors > 0 {
            format!(" ⚠ {errors} errors/non-2xx")
        } else {
            String::new()
        };
        let _ = writeln!(out, "| {}{warn} | {} | {rps:.0} |", s.label, mib(rss));
    }
    out.push('\n');
}

/// Medians of the open-loop runs of one scenario.
struct OpenRow<'a> {
    scenario: &'a Row,
    runs: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    lag: f64,
    bad: u64,
    scheduled: u64,
    steal: f64,
}

fn render_openloop(records: &[RawRecord], scenarios: &[Row], out: &mut String) {
    let mut layouts: Vec<&str> = Vec::new();
    for r in records {
        if let RawRecord::Openloop { layout, .. } = r {
            if !layouts.contains(&layout.as_str()) {
                layouts.push(layout);
            }
        }
    }
    for layout in layouts {
        let mut rows = Vec::new();
        let mut rate = 0.0;
        for s in scenarios {
            let mut steal = Vec::new();
            let runs: Vec<&OpenLoopSummary> = records
                .iter()
                .filter_map(|r| match r {
                    RawRecord::Openloop {
                        layout: l,
                        scenario,
                        steal_pct,
                        result,
                    } if l == layout && *scenario == s.id => {
                        steal.push(*steal_pct);
                        Some(result)
                    }
                    _ => None,
                })
                .collect();
            if runs.is_empty() {
                continue;
            }
            rate = runs[0].rate;
            let col = |f: fn(&OpenLoopSummary) -> f64| {
                median(&runs.iter().map(|r| f(r)).collect::<Vec<_>>()).unwrap_or(f64::NAN)
            };
            let answered: Vec<&OpenLoopSummary> =
                runs.iter().copied().filter(|r| r.ok > 0).collect();
            let latency = |f: fn(&OpenLoopSummary) -> f64| {
                median(&answered.iter().map(|r| f(r)).collect::<Vec<_>>()).unwrap_or(f64::NAN)
            };
            let p50 = latency(|r| r.p50_us as f64);
            let p90 = latency(|r| r.p90_us as f64);
            let p99 = latency(|r| r.p99_us as f64);
            let lag = col(|r| r.dispatch_lag_p99_us as f64);
            let bad: u64 = runs.iter().map(|r| r.non2xx + r.errors).sum();
            let scheduled: u64 = runs.iter().map(|r| r.scheduled).sum();
            let steal = median(&steal).unwrap_or(f64::NAN);
            rows.push(OpenRow {
                scenario: s,
                runs: runs.len(),
                p50,
                p90,
                p99,
                lag,
                bad,
                scheduled,
                steal,
            });
        }
        if rows.is_empty() {
            continue;
        }
        let direct = rows.iter().find(|r| r.scenario.id == DIRECT);
        let n = rows.iter().map(|r| r.runs).max().unwrap_or(0);
        let _ = writeln!(
            out,
            "### Open loop at a fixed {rate:.0} req/s, {} (median of {n} run{})\n\n\
             Latency is measured from each request's scheduled send time.\n",
            layout_caption(layout),
            if n == 1 { "" } else { "s" }
        );
        out.push_str(
            "| scenario | p50 ms | p90 ms | p99 ms | p50 added over direct ms | p90 added | p99 added | failed / scheduled | dispatcher lag p99 µs | steal % |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &rows {
            let added = |f: fn(&OpenRow) -> f64| match direct {
                Some(d) if r.scenario.id != DIRECT => ms(f(r) - f(d)),
                _ => "—".into(),
            };
            let warn = if r.bad > 0 { " ⚠" } else { "" };
            let _ = writeln!(
                out,
                "| {}{warn} | {} | {} | {} | {} | {} | {} | {} / {} | {:.0} | {:.0} |",
                r.scenario.label,
                ms(r.p50),
                ms(r.p90),
                ms(r.p99),
                added(|x| x.p50),
                added(|x| x.p90),
                added(|x| x.p99),
                r.bad,
                r.scheduled,
                r.lag,
                r.steal,
            );
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(layout: &str, scenario: &str, requests: u64, cpu_ticks: u64) -> String {
        format!(
            r#"{{"kind":"closed","layout":"{layout}","scenario":"{scenario}","cpu_ticks":{cpu_ticks},"clk_tck":100,"wall_s":1.0,"rss_kb":10240,"steal_pct":2.0,"wrk":{{"requests":{requests},"duration_us":1000000,"p50_us":500,"p99_us":2000,"errors":{{"connect":0,"read":0,"write":0,"timeout":0,"status":0}}}}}}"#
        )
    }

    #[test]
    fn ratios_use_medians_and_references() {
        let lines = [
            closed("pinned", DIRECT, 40_000, 50),
            closed("pinned", AUTHGATE_PUBLIC, 20_000, 100),
            closed("pinned", AUTHGATE_PUBLIC, 22_000, 100),
            closed("pinned", AUTHGATE_PUBLIC, 99_000, 100),
            closed("pinned", "authgate-hs256-nolog", 10_000, 100),
            closed("pinned", HAPROXY_HS256, 20_000, 100),
            r#"{"kind":"skipped","scenario":"authgate-rs256","reason":"jwks_file not supported"}"#
                .into(),
        ]
        .join("\n");
        let records = parse_raw(&lines).expect("parse");
        let md = render(
            &records,
            &RenderOptions {
                connections: 64,
                layouts: vec!["pinned".into()],
                rss_layout: None,
            },
        );
        // Median of 20 000, 22 000, 99 000 is 22 000: 0.55 of direct.
        assert!(
            md.contains("| authgate, public route, as shipped | 22000 | 0.55× | 1.00× | — |"),
            "{md}"
        );
        // HS256: 10 000 req/s, 1 s of CPU → 100 µs/req; HAProxy 50 µs/req.
        assert!(md.contains("| 0.50× HS256 |"), "{md}");
        assert!(
            md.contains("| 100.0 | 2.00× HS256 | 100 | 10.0 | 2 |"),
            "{md}"
        );
        assert!(md.contains("not run: jwks_file not supported"), "{md}");
        assert!(md.contains("median of 3 runs"), "{md}");
    }

    #[test]
    fn open_loop_rows_subtract_direct() {
        let line = |scenario: &str, p50: u64, p99: u64| {
            format!(
                r#"{{"kind":"openloop","layout":"pinned","scenario":"{scenario}","steal_pct":1.0,"result":{{"rate":5000,"scheduled":100,"ok":100,"non2xx":0,"errors":0,"p50_us":{p50},"p90_us":{p50},"p99_us":{p99},"dispatch_lag_p99_us":60}}}}"#
            )
        };
        let text = [line(DIRECT, 100, 300), line("nginx", 250, 900)].join("\n");
        let md = render(
            &parse_raw(&text).expect("parse"),
            &RenderOptions {
                connections: 64,
                layouts: vec![],
                rss_layout: None,
            },
        );
        assert!(
            md.contains("| nginx reverse proxy (reference) | 0.250 | 0.250 | 0.900 | 0.150 | 0.150 | 0.600 | 0 / 100 | 60 | 1 |"),
            "{md}"
        );
    }

    #[test]
    fn baseline_rows_follow_their_scenario_with_the_upstream_reuse() {
        let with_upstream = |scenario: &str, accepted: u64, metric_new: i64, log_lines: u64| {
            closed("pinned", scenario, 10_000, 100).replacen(
                "}}}",
                &format!(
                    r#"}}}},"upstream":{{"proxied":10000,"accepted":{accepted},"metric_new":{metric_new},"log_lines":{log_lines}}}}}"#
                ),
                1,
            )
        };
        let text = [
            with_upstream(AUTHGATE_PUBLIC, 2, 2, 0),
            with_upstream("authgate-public@baseline", 1_000, -1, 990),
        ]
        .join("\n");
        let md = render(
            &parse_raw(&text).expect("parse"),
            &RenderOptions {
                connections: 64,
                layouts: vec!["pinned".into()],
                rss_layout: None,
            },
        );
        let public = md
            .find("| authgate, public route, as shipped | 10000 |")
            .expect(&md);
        let baseline = md
            .find("| authgate, public route, as shipped — baseline binary | 10000 |")
            .expect(&md);
        assert!(public < baseline, "{md}");
        // No baseline twin for a scenario without one.
        assert!(
            !md.contains("HS256, as shipped (access log on) — baseline"),
            "{md}"
        );
        assert!(
            md.contains(
                "| authgate, public route, as shipped | pinned | 1 | 10000 | 2 | 99.98 % | 2 | 0 |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| authgate, public route, as shipped — baseline binary | pinned | 1 | 10000 | 1000 | 90.00 % | — | 990 |"),
            "{md}"
        );
    }

    #[test]
    fn bad_line_is_named() {
        let err = parse_raw("\n{\"kind\":\"nope\"}").expect_err("bad kind");
        assert!(err.starts_with("line 2:"), "{err}");
    }
}
