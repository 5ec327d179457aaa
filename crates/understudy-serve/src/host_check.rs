//! The Host check against DNS rebinding. A gateway (or `view`) without API keys answers only
//! requests addressed to a loopback name — `localhost`, `*.localhost`, 127.0.0.0/8, `[::1]` — or
//! to a host the operator allowed (`[serve] allowed_hosts`; `"*"` allows any). Anything else
//! gets 403 naming the host and how to allow it: a web page that rebinds its own name to
//! 127.0.0.1 then reaches nothing. With keys configured the key is the guard and every Host
//! is accepted, as behind a proxy.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Which Host names are answered.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    /// Lower-case names (no port) allowed besides loopback ones.
    allowed: Vec<String>,
    any: bool,
}

impl HostPolicy {
    /// Every host when `has_keys` or `allowed_hosts` has `"*"`; else loopback names and
    /// `allowed_hosts`.
    pub fn new(has_keys: bool, allowed_hosts: &[String]) -> Self {
        let allowed: Vec<String> = allowed_hosts
            .iter()
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .collect();
        Self {
            any: has_keys || allowed.iter().any(|h| h == "*"),
            allowed,
        }
    }

    /// Whether a request whose Host (or HTTP/2 authority) is `host` is answered.
    pub fn allows(&self, host: Option<&str>) -> bool {
        if self.any {
            return true;
        }
        let Some(name) = host.and_then(name_of) else {
            return false;
        };
        is_loopback_name(&name) || self.allowed.contains(&name)
    }
}

/// The host name of a Host header value, lower-case, without port or trailing dot.
fn name_of(host: &str) -> Option<String> {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']')?.0
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses requests whose Host the policy does not allow.
pub async fn check(
    State(policy): State<Arc<HostPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    if policy.allows(host.as_deref()) {
        return next.run(request).await;
    }
    let shown = host.as_deref().unwrap_or("(none)");
    let mut error = ApiError::invalid(
        format!(
            "Host {shown:?} is not answered: with no API keys configured, only loopback names (localhost, 127.0.0.1, [::1]) are; add the name to [serve] allowed_hosts, or configure API keys"
        ),
        None,
    );
    error.status = StatusCode::FORBIDDEN;
    error.code = Some("host_not_allowed");
    error.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_keys_only_loopback_and_allowed_names_pass() {
        let policy = HostPolicy::new(false, &["gateway.lan".to_string()]);
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.",
            "app.localhost:3000",
            "127.0.0.1:8080",
            "127.1.2.3",
            "[::1]:8080",
            "gateway.lan:8080",
        ] {
            assert!(policy.allows(Some(ok)), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.5:8080",
            "[::ffff:7f00:1]x",
            "",
        ] {
            assert!(!policy.allows(Some(refused)), "{refused}");
        }
        assert!(!policy.allows(None));
    }

    #[test]
    fn keys_or_a_star_allow_every_host() {
        assert!(HostPolicy::new(true, &[]).allows(Some("evil.example")));
        assert!(HostPolicy::new(false, &["*".to_string()]).allows(Some("evil.example")));
    }
}
