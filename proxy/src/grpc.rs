//! Refusals as gRPC answers. A gRPC client reads `grpc-status` and `grpc-message`,
//! not the HTTP status: a 401 with a JSON body reaches the application as UNKNOWN
//! or INTERNAL. So whatever authgate answers itself to a request with
//! `content-type: application/grpc…` (a refusal, a gateway error) is a
//! trailers-only response (gRPC over HTTP/2, "Responses"): status 200,
//! `content-type: application/grpc`, `grpc-status` and a percent-encoded
//! `grpc-message` in one HEADERS frame that ends the stream. Logs and metrics
//! record the same reason as for any other request.

use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use pingora::http::{RequestHeader, ResponseHeader};

use crate::reject::Answer;

/// Whether `req` is a gRPC call (`application/grpc`, `+proto`, `-web` …).
pub(crate) fn is_grpc(req: &RequestHeader) -> bool {
    req.headers.get(CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.len() >= 16 && v[..16].eq_ignore_ascii_case(b"application/grpc")
    })
}

/// The gRPC status for an HTTP status authgate would have answered.
pub(crate) fn status_for(http_status: u16) -> u8 {
    match http_status {
        400 => 3,        // INVALID_ARGUMENT
        401 => 16,       // UNAUTHENTICATED
        403 => 7,        // PERMISSION_DENIED
        404 | 405 => 12, // UNIMPLEMENTED
        408 | 504 => 4,  // DEADLINE_EXCEEDED
        429 => 8,        // RESOURCE_EXHAUSTED
        502 | 503 => 14, // UNAVAILABLE
        500 => 13,       // INTERNAL
        _ => 2,          // UNKNOWN
    }
}

/// `grpc-message` encoding: bytes outside printable ASCII, and `%`, as `%XX`.
pub(crate) fn encode_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The trailers-only response for `answer`. `content_length` adds
/// `Content-Length: 0`, which an HTTP/1 response needs to end.
pub(crate) fn trailers_only(
    answer: &Answer,
    request_id: &str,
    content_length: bool,
) -> pingora::Result<ResponseHeader> {
    let mut resp = ResponseHeader::build(200, Some(5 + answer.headers.len()))?;
    resp.insert_header(CONTENT_TYPE, "application/grpc")?;
    resp.insert_header("grpc-status", status_for(answer.status).to_string())?;
    resp.insert_header("grpc-message", encode_message(&answer.message))?;
    resp.insert_header("X-Request-Id", request_id)?;
    for (name, value) in &answer.headers {
        resp.insert_header(name.clone(), value.as_str())?;
    }
    if content_length {
        resp.insert_header(CONTENT_LENGTH, "0")?;
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_the_grpc_codes_clients_act_on() {
        assert_eq!(status_for(401), 16);
        assert_eq!(status_for(403), 7);
        assert_eq!(status_for(400), 3);
        assert_eq!(status_for(503), 14);
        assert_eq!(status_for(504), 4);
        assert_eq!(status_for(429), 8);
        assert_eq!(status_for(418), 2);
    }

    #[test]
    fn messages_are_percent_encoded_as_the_spec_says() {
        assert_eq!(encode_message("a bearer token"), "a bearer token");
        assert_eq!(encode_message("100% ok"), "100%25 ok");
        assert_eq!(encode_message("caf\u{e9}\n"), "caf%C3%A9%0A");
    }

    #[test]
    fn only_grpc_content_types_are_grpc() {
        let mut req = RequestHeader::build("POST", b"/svc/Method", None).unwrap();
        assert!(!is_grpc(&req));
        for (ct, grpc) in [
            ("application/grpc", true),
            ("application/grpc+proto", true),
            ("Application/GRPC-web", true),
            ("application/json", false),
            ("application/grp", false),
        ] {
            req.insert_header("content-type", ct).unwrap();
            assert_eq!(is_grpc(&req), grpc, "{ct}");
        }
    }
}
