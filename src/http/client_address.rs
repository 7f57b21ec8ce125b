use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// The caller's address: the socket peer, or, when the service sits behind a proxy the operator
/// trusts, the address that proxy appended last to `X-Forwarded-For` (entries to its left come
/// from the caller and could be forged).
pub fn client_address(peer: SocketAddr, headers: &HeaderMap, trust_proxy: bool) -> IpAddr {
    if trust_proxy
        && let Some(forwarded) = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
            .next_back()
    {
        return forwarded;
    }
    peer.ip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let peer: SocketAddr = "10.1.1.1:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4, 5.6.7.8".parse().unwrap());
        assert_eq!(client_address(peer, &headers, false), peer.ip());
        assert_eq!(
            client_address(peer, &headers, true),
            "5.6.7.8".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_address(peer, &HeaderMap::new(), true), peer.ip());
    }
}
