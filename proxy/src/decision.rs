//! What happened to a request: one word for the access log and the metrics.

use crate::metrics::RequestLabels;

/// What happened to a request, for the access log and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Not decided yet (the request failed before the gate).
    Undecided,
    /// Passed with a verified identity.
    Allow,
    /// Passed anonymously (public, optional without token, CORS preflight).
    Anonymous,
    /// Answered by the proxy port's own health endpoints.
    Health,
    /// Refused at the edge; the reason label.
    Reject(&'static str),
    /// Proxying failed (502/504); the kind.
    UpstreamError(&'static str),
}

impl Decision {
    /// `{decision,reason}`: the words of the access log and of
    /// `authgate_requests_total` alike (`allow`, `anonymous`, `health`, `reject`,
    /// `error`; the reason of a refusal or the kind of an error).
    pub(crate) fn labels(self) -> RequestLabels {
        let (decision, reason) = match self {
            Self::Allow => ("allow", ""),
            Self::Anonymous => ("anonymous", ""),
            Self::Health => ("health", ""),
            Self::Reject(reason) => ("reject", reason),
            Self::UpstreamError(kind) => ("error", kind),
            // Failed before the gate decided: the client went away or broke.
            Self::Undecided => ("error", "client"),
        };
        RequestLabels { decision, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decision_maps_to_a_bounded_metric_label() {
        for (d, want) in [
            (Decision::Allow, ("allow", "")),
            (Decision::Anonymous, ("anonymous", "")),
            (Decision::Health, ("health", "")),
            (Decision::Reject("expired"), ("reject", "expired")),
            (Decision::UpstreamError("timeout"), ("error", "timeout")),
            (Decision::Undecided, ("error", "client")),
        ] {
            let l = d.labels();
            assert_eq!((l.decision, l.reason), want, "{d:?}");
        }
    }
}
