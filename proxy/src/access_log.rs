//! The access log: one line per request, target `authgate::access`, INFO (DEBUG for
//! health probes of the proxy port). The line is formatted here, straight into a
//! per-thread buffer that is reused, and handed to the [`LogSink`] with the other
//! log lines: no `tracing` event, no allocation per line. It reads as the `tracing`
//! formatter would have written it (text or JSON), and `RUST_LOG` still decides
//! whether it is written (`authgate::access=off` turns it off).

use std::cell::RefCell;
use std::io::Write;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::log_format::LogFormat;
use crate::log_sink::LogSink;

/// One request, as logged. Strings are borrowed from the request's context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub decision: &'a str,
    pub reason: &'a str,
    pub rule: &'a str,
    /// The route requirement a 403 found unmet (what it asks, never a claim).
    pub requirement: &'a str,
    pub subject: &'a str,
    /// The name of the upstream it went to; empty when authgate answered.
    pub upstream: &'a str,
    pub latency_us: u64,
    pub error: &'a str,
}

/// The line's level: probes of the proxy port's health path are DEBUG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Info,
    Debug,
}

impl Level {
    fn padded(self) -> &'static str {
        match self {
            Self::Info => " INFO",
            Self::Debug => "DEBUG",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Debug => "DEBUG",
        }
    }
}

const TARGET: &str = "authgate::access";

/// The format chosen at start-up (`server.log_format`, restart-only).
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Sets the format of every line (once, by `telemetry::init`).
pub(crate) fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

/// Whether `RUST_LOG` lets access lines of `level` through.
pub(crate) fn enabled(level: Level) -> bool {
    match level {
        Level::Info => tracing::enabled!(target: TARGET, tracing::Level::INFO),
        Level::Debug => tracing::enabled!(target: TARGET, tracing::Level::DEBUG),
    }
}

struct LineBuf {
    line: Vec<u8>,
    /// The second `second_text` was formatted for.
    second: u64,
    /// `YYYY-MM-DDTHH:MM:SS` of `second`.
    second_text: [u8; 19],
}

thread_local! {
    static BUF: RefCell<LineBuf> = const {
        RefCell::new(LineBuf { line: Vec::new(), second: u64::MAX, second_text: [0; 19] })
    };
}

/// Logs `entry` at `level`, if enabled.
pub(crate) fn log(level: Level, entry: &Entry<'_>) {
    if !enabled(level) {
        return;
    }
    let format = FORMAT.get().copied().unwrap_or(LogFormat::Text);
    BUF.with(|buf| {
        let Ok(mut buf) = buf.try_borrow_mut() else {
            return;
        };
        let buf = &mut *buf;
        format_line(buf, level, format, entry);
        LogSink::global().append(&buf.line);
        if buf.line.capacity() > 16 << 10 {
            buf.line = Vec::new();
        }
    });
}

fn format_line(buf: &mut LineBuf, level: Level, format: LogFormat, entry: &Entry<'_>) {
    buf.line.clear();
    match format {
        LogFormat::Text => {
            timestamp(buf);
            text(&mut buf.line, level, entry);
        }
        LogFormat::Json => {
            buf.line.extend_from_slice(br#"{"timestamp":""#);
            timestamp(buf);
            json(&mut buf.line, level, entry);
        }
    }
}

/// RFC 3339 in UTC with microseconds, as `tracing-subscriber` writes it; the date
/// and time of day are formatted once a second.
fn timestamp(buf: &mut LineBuf) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let second = now.as_secs();
    if second != buf.second {
        let when = i64::try_from(second)
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .unwrap_or_default();
        let mut text = [0u8; 19];
        let _ = write!(&mut text[..], "{}", when.format("%Y-%m-%dT%H:%M:%S"));
        buf.second_text = text;
        buf.second = second;
    }
    buf.line.extend_from_slice(&buf.second_text);
    let micros = now.subsec_micros();
    let mut digits = [b'0'; 6];
    let mut itoa = itoa::Buffer::new();
    let printed = itoa.format(micros).as_bytes();
    digits[6 - printed.len()..].copy_from_slice(printed);
    buf.line.push(b'.');
    buf.line.extend_from_slice(&digits);
    buf.line.push(b'Z');
}

/// A field's value: text, or a number (bare in JSON).
enum Value<'a> {
    Str(&'a str),
    Num(u64),
}

/// The fields of a line, in the order they are written.
fn fields<'a>(e: &Entry<'a>) -> [(&'static str, Value<'a>); 12] {
    use Value::{Num, Str};
    [
        ("request_id", Str(e.request_id)),
        ("method", Str(e.method)),
        ("path", Str(e.path)),
        ("status", Num(e.status.into())),
        ("decision", Str(e.decision)),
        ("reason", Str(e.reason)),
        ("rule", Str(e.rule)),
        ("requirement", Str(e.requirement)),
        ("subject", Str(e.subject)),
        ("upstream", Str(e.upstream)),
        ("latency_us", Num(e.latency_us)),
        ("error", Str(e.error)),
    ]
}

/// `<ts>  INFO authgate::access: request_id=… method=… … error=…`
fn text(out: &mut Vec<u8>, level: Level, e: &Entry<'_>) {
    out.push(b' ');
    out.extend_from_slice(level.padded().as_bytes());
    out.push(b' ');
    out.extend_from_slice(TARGET.as_bytes());
    out.push(b':');
    for (name, value) in fields(e) {
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        match value {
            Value::Str(v) => text_value(out, v),
            Value::Num(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        }
    }
    out.push(b'\n');
}

/// A value as is when it is one plain token (printable ASCII without `"`, `=` or
/// `\\`), else quoted and escaped as `tracing` writes a `?`-recorded string. So no
/// value (a token's `sub`, say) can add a field, end the line or hide in look-alike
/// characters (U+2028 and other non-printable characters are escaped).
fn text_value(out: &mut Vec<u8>, value: &str) {
    if value.bytes().all(is_plain) {
        out.extend_from_slice(value.as_bytes());
    } else {
        let _ = write!(out, "{value:?}");
    }
}

fn is_plain(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b'=' | b'\\')
}

/// `{"timestamp":…,"level":…,<fields>,"target":"authgate::access"}`, as the
/// `tracing` JSON formatter with `flatten_event` writes it; the opening and the
/// timestamp are already written.
fn json(out: &mut Vec<u8>, level: Level, e: &Entry<'_>) {
    out.extend_from_slice(br#"","level":""#);
    out.extend_from_slice(level.name().as_bytes());
    out.push(b'"');
    for (name, value) in fields(e) {
        json_field(out, name, value);
    }
    json_field(out, "target", Value::Str(TARGET));
    out.extend_from_slice(b"}\n");
}

fn json_field(out: &mut Vec<u8>, name: &str, value: Value<'_>) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    match value {
        // Writing a &str into a Vec cannot fail; serde_json does the escaping.
        Value::Str(v) => {
            let _ = serde_json::to_writer(&mut *out, v);
        }
        Value::Num(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    fn entry() -> Entry<'static> {
        Entry {
            request_id: "0b7c2c8e-1111-4222-8333-444455556666",
            method: "GET",
            path: "/api/alice/tasks",
            status: 200,
            decision: "allow",
            reason: "",
            rule: "/api/{user_id}/**",
            requirement: "",
            subject: "ali\"ce\n",
            upstream: "upstream-api",
            latency_us: 1234,
            error: "",
        }
    }

    fn line(format: LogFormat) -> String {
        let mut buf = LineBuf {
            line: Vec::new(),
            second: u64::MAX,
            second_text: [0; 19],
        };
        format_line(&mut buf, Level::Info, format, &entry());
        String::from_utf8(buf.line).unwrap()
    }

    #[test]
    fn text_lines_read_as_tracing_writes_them() {
        let l = line(LogFormat::Text);
        let (ts, rest) = l.split_at(27);
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        assert_eq!(
            rest,
            "  INFO authgate::access: request_id=0b7c2c8e-1111-4222-8333-444455556666 method=GET \
             path=/api/alice/tasks status=200 decision=allow reason= rule=/api/{user_id}/** requirement= \
             subject=\"ali\\\"ce\\n\" upstream=upstream-api latency_us=1234 error=\n"
        );
    }

    #[test]
    fn a_text_value_cannot_forge_fields_or_lines() {
        let forged = Entry {
            subject: "mallory decision=reject reason=expired status=500",
            ..entry()
        };
        let mut buf = LineBuf {
            line: Vec::new(),
            second: u64::MAX,
            second_text: [0; 19],
        };
        format_line(&mut buf, Level::Info, LogFormat::Text, &forged);
        let l = String::from_utf8(buf.line).unwrap();
        // The field names outside quoted values: each exactly once.
        let mut names = Vec::new();
        let mut quoted = false;
        let mut escaped = false;
        for (i, c) in l.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '=' if !quoted => names.push(l[..i].rsplit(' ').next().unwrap()),
                _ => {}
            }
        }
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(names.len(), 12, "{l}");
        assert_eq!(unique.len(), 12, "{l}");
        assert!(
            l.contains(r#"subject="mallory decision=reject reason=expired status=500""#),
            "{l}"
        );
        let mut out = Vec::new();
        text_value(&mut out, "a\u{2028}b\u{85}c");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\u{2028}b\u{85}c""#);
    }

    #[test]
    fn json_lines_parse_with_every_field() {
        let l = line(LogFormat::Json);
        assert!(l.ends_with("}\n") && l.matches('\n').count() == 1, "{l}");
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["target"], "authgate::access");
        assert_eq!(v["status"], 200);
        assert_eq!(v["latency_us"], 1234);
        assert_eq!(v["subject"], "ali\"ce\n");
        assert_eq!(v["rule"], "/api/{user_id}/**");
        assert_eq!(v["reason"], "");
        let ts = v["timestamp"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    }

    /// Collects what a formatter writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    /// One field as the access log writes it: bare, or quoted like `?`.
    struct Field<'a>(&'a str);
    impl std::fmt::Display for Field<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::fmt::Debug for Field<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    /// What the real `tracing-subscriber` formatter writes for `entry`, each string
    /// recorded with `%` when the access log writes it bare and with `?` when it
    /// quotes it; the timestamp is cut off.
    fn tracing_line(format: LogFormat, e: &Entry<'_>) -> String {
        use tracing_subscriber::layer::SubscriberExt;

        let capture = Capture::default();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(capture.clone())
            .with_ansi(false);
        let subscriber: Box<dyn tracing::Subscriber + Send + Sync> = match format {
            LogFormat::Text => Box::new(tracing_subscriber::registry().with(layer)),
            LogFormat::Json => {
                Box::new(tracing_subscriber::registry().with(layer.json().flatten_event(true)))
            }
        };
        // JSON escapes every string itself: there the subject is recorded with `%`.
        let subject = Field(e.subject);
        let subject: &dyn tracing::Value = match format {
            LogFormat::Text => &tracing::field::debug(subject),
            LogFormat::Json => &tracing::field::display(Field(e.subject)),
        };
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                target: "authgate::access",
                request_id = %Field(e.request_id),
                method = %Field(e.method),
                path = %Field(e.path),
                status = u64::from(e.status),
                decision = %Field(e.decision),
                reason = %Field(e.reason),
                rule = %Field(e.rule),
                requirement = %Field(e.requirement),
                subject = subject,
                upstream = %Field(e.upstream),
                latency_us = e.latency_us,
                error = %Field(e.error),
            )
        });
        let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        without_timestamp(&out)
    }

    /// The line with its timestamp's value cut out (text: the first 27 bytes).
    fn without_timestamp(line: &str) -> String {
        match line.strip_prefix(r#"{"timestamp":""#) {
            Some(rest) => format!(r#"{{"timestamp":"{}"#, &rest[rest.find('"').unwrap()..]),
            None => line.split_at(27).1.to_string(),
        }
    }

    /// The access log imitates `tracing`'s formatter without going through it: held
    /// here to the real one, line for line, so the two cannot drift.
    #[test]
    fn lines_match_the_tracing_formatter() {
        // The subject needs quoting; every other value is plain.
        let e = entry();
        for format in [LogFormat::Text, LogFormat::Json] {
            assert_eq!(
                without_timestamp(&line(format)),
                tracing_line(format, &e),
                "{format:?}"
            );
        }
    }
}
