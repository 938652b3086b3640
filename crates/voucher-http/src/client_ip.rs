//! The client's address: the TCP peer, or, when the peer is a trusted
//! reverse proxy, the right-most `X-Forwarded-For` entry that is not itself
//! a trusted proxy. A client cannot choose its address by sending the
//! header: from an untrusted peer it is ignored, and behind a trusted proxy
//! only the entries the proxies appended are believed (a client's own
//! entries are to their left). The per-IP rate limit, the lockout and the
//! logs all use this address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use ipnet::IpNet;

/// The reverse proxies whose `X-Forwarded-For` is believed: addresses and
/// CIDR blocks. Empty by default: the peer address is the client's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// Why a trusted-proxy list cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or a CIDR block such as 10.0.0.0/8")]
pub struct TrustedProxiesError(String);

impl TrustedProxies {
    /// No proxy is trusted.
    pub fn none() -> TrustedProxies {
        TrustedProxies(Vec::new())
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for TrustedProxies {
    type Err = TrustedProxiesError;

    /// A comma-separated list of addresses (`10.0.0.1`, `::1`) and CIDR
    /// blocks (`10.0.0.0/8`, `fd00::/8`); blanks are ignored.
    fn from_str(text: &str) -> Result<TrustedProxies, TrustedProxiesError> {
        let mut nets = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => item
                    .parse::<IpAddr>()
                    .map(|ip| IpNet::from(ip.to_canonical()))
                    .map_err(|_| TrustedProxiesError(item.to_owned()))?,
            };
            nets.push(net.trunc());
        }
        Ok(TrustedProxies(nets))
    }
}

/// The client address of a request, set by the outermost middleware for
/// the layers and handlers inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// One `X-Forwarded-For` entry: an address, maybe with a port
/// (`203.0.113.7:4711`, `[2001:db8::1]:4711`), as some proxies write it.
fn forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

/// The client address of a request from `peer` with `headers`: the peer,
/// unless it is a trusted proxy, in which case the right-most
/// `X-Forwarded-For` entry that is not a trusted proxy. An entry that is
/// not an address stops the walk (the peer is used): the proxies write
/// addresses, so it can only come from a client. No peer (a test calling
/// the app directly) is the unspecified address.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let Some(peer) = peer.map(|ip| ip.to_canonical()) else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    if trusted.is_empty() || !trusted.contains(peer) {
        return peer;
    }
    // Every X-Forwarded-For header, in order, as one list.
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        match forwarded_entry(entry) {
            Some(ip) if trusted.contains(ip) => client = ip,
            Some(ip) => return ip,
            None => return peer,
        }
    }
    // Every hop was a trusted proxy: the left-most one is as far as the
    // chain goes.
    client
}

/// The address of a request's TCP peer, if it came over a socket.
pub(crate) fn peer(request: &axum::extract::Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

/// The key a per-address budget counts under: the address itself, or an
/// IPv6 address's /64 (one host usually holds a whole /64, so single
/// addresses would be free to rotate).
pub fn budget_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn lists_are_parsed() {
        let trusted: TrustedProxies = " 10.0.0.0/8, 192.0.2.1 ,fd00::/8,,".parse().unwrap();
        assert!(trusted.contains(ip("10.1.2.3")));
        assert!(trusted.contains(ip("192.0.2.1")));
        assert!(!trusted.contains(ip("192.0.2.2")));
        assert!(trusted.contains(ip("fd00::5")));
        assert!(trusted.contains(ip("::ffff:10.0.0.9")));
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.example".parse::<TrustedProxies>().is_err());
        // A block written with host bits is the block.
        let sloppy: TrustedProxies = "10.1.2.3/8".parse().unwrap();
        assert!(sloppy.contains(ip("10.200.0.1")));
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let spoofed = headers(&["1.2.3.4"]);
        // An untrusted peer: its header is ignored.
        assert_eq!(
            resolve(Some(ip("198.51.100.9")), &spoofed, &trusted),
            ip("198.51.100.9")
        );
        // Nothing trusted: the same.
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &spoofed, &TrustedProxies::none()),
            ip("10.0.0.1")
        );
        // A trusted peer: the right-most untrusted entry; the client's own
        // entries to its left are not believed.
        let chain = headers(&["6.6.6.6, 203.0.113.7", "10.0.0.2"]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &chain, &trusted),
            ip("203.0.113.7")
        );
        // Ports, IPv4-mapped addresses.
        let ports = headers(&["[2001:db8::1]:4711"]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &ports, &trusted),
            ip("2001:db8::1")
        );
        let mapped = headers(&["203.0.113.8:80"]);
        assert_eq!(
            resolve(Some(ip("::ffff:10.0.0.1")), &mapped, &trusted),
            ip("203.0.113.8")
        );
        // No header, or garbage where the client's address should be: the
        // peer.
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &headers(&["nonsense"]), &trusted),
            ip("10.0.0.1")
        );
        // Only proxies in the chain: the left-most of them.
        assert_eq!(
            resolve(
                Some(ip("10.0.0.1")),
                &headers(&["10.0.0.3, 10.0.0.2"]),
                &trusted
            ),
            ip("10.0.0.3")
        );
        assert_eq!(
            resolve(None, &spoofed, &trusted),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(
            budget_key(ip("2001:db8:1:2::5")),
            budget_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            budget_key(ip("2001:db8:1:2::5")),
            budget_key(ip("2001:db8:1:3::5"))
        );
        assert_eq!(budget_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }
}
