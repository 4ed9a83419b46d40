//! A real WebSocket client and server (Python websockets) through authgate: the
//! upgrade is authenticated like any request (owner rule included), the server
//! sees the verified identity, frames flow both ways, either side closes.

#![allow(clippy::unwrap_used)]

use authgate_tests::peers;
use authgate_tests::process::Authgate;
use authgate_tests::tokens::{claims, hs256};
use authgate_tests::tools::python_clients;
use authgate_tests::BETTER_AUTH_SECRET;

const CONFIG: &str = r#"
[server]
threads = 1

[upstream]
read_timeout_ms = 1000

[[auth.sources]]
type = "shared_secret"

[[routes]]
path = "/ws/{user_id}/**"
auth = "required"
owner = "user_id"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_are_authenticated_and_frames_flow_both_ways() {
    let test = "websocket_upgrades_are_authenticated_and_frames_flow_both_ways";
    let Some(python) = python_clients(test) else {
        return;
    };
    let server = peers::serve(&python, "ws_peer.py", "ws peer listening on ");
    let (gate, _dir) = Authgate::new(CONFIG, server.addr).start();
    let alice = hs256(&claims("alice"), BETTER_AUTH_SECRET);
    let base = format!("ws://{}", gate.addr);
    let r = peers::call(&python, "ws_peer.py", &[&base, &alice]);
    assert_eq!(r["no_token"]["status"], 401, "{r}");
    assert_eq!(r["bad_token"]["status"], 401, "{r}");
    assert_eq!(r["other_user"]["status"], 403, "{r}");
    let own = &r["own"];
    assert_eq!(own["whoami"]["user"], "alice", "{r}");
    assert_eq!(own["whoami"]["assertion"], true);
    assert_eq!(own["whoami"]["authorization"], false);
    assert_eq!(own["whoami"]["path"], "/ws/alice/chat");
    assert_eq!(own["text"], "hello");
    assert_eq!(
        own["binary"],
        serde_json::json!([0, 1, 98, 105, 110, 97, 114, 121])
    );
    assert_eq!(
        own["after_pause"], "after a pause",
        "idle past read_timeout_ms"
    );
    assert_eq!(own["pushed"], serde_json::json!(["pushed-1", "pushed-2"]));
    assert_eq!(own["client_close_code"], 1000);
    assert_eq!(own["server_close_code"], 4000);
    let owner = "authgate_requests_total{decision=\"reject\",reason=\"owner_mismatch\"}";
    assert_eq!(gate.metric(owner), 1.0);
    assert_eq!(
        gate.metric("authgate_requests_total{decision=\"allow\""),
        2.0
    );
}
