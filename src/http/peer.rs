//! The address a request came from (its peer), for the login throttle and the logs: the
//! socket's peer, or the proxy's `X-Forwarded-For` entry when the operator trusts one.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// The caller's address: the socket's peer, or, when the service sits behind a proxy the operator
/// trusts, the last entry of `X-Forwarded-For`, which that proxy wrote. Entries to its left come
/// from the caller and could be forged, so they are never used, not even when the last entry
/// cannot be read: then the peer it is.
pub fn peer_address(peer: SocketAddr, headers: &HeaderMap, trust_proxy: bool) -> IpAddr {
    if !trust_proxy {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|entry| parse_address(entry.trim()))
        .unwrap_or_else(|| peer.ip())
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`.
fn parse_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let peer: SocketAddr = "10.1.1.1:5000".parse().unwrap();
        let forwarded = headers("1.2.3.4, 5.6.7.8");
        assert_eq!(peer_address(peer, &forwarded, false), peer.ip());
        assert_eq!(
            peer_address(peer, &forwarded, true),
            "5.6.7.8".parse::<IpAddr>().unwrap()
        );
        assert_eq!(peer_address(peer, &HeaderMap::new(), true), peer.ip());
    }

    #[test]
    fn only_the_last_entry_counts_whatever_its_form() {
        let peer: SocketAddr = "10.1.1.1:5000".parse().unwrap();
        let with_port = headers("198.51.100.7, 203.0.113.9:4711");
        assert_eq!(
            peer_address(peer, &with_port, true),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let v6 = headers("198.51.100.7, [2001:db8::1]:443");
        assert_eq!(
            peer_address(peer, &v6, true),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        // An unreadable last entry never lets an earlier, caller-written one through.
        let garbage = headers("198.51.100.7, not-an-address");
        assert_eq!(peer_address(peer, &garbage, true), peer.ip());
    }
}
