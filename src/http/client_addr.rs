//! The client's address behind trusted proxies. Behind an ingress every connection comes
//! from the ingress's pods, so the socket's address says nothing about the client: the
//! address the proxies recorded in `X-Forwarded-For` (or `Forwarded`) is used instead, but
//! only when the connection comes from a trusted proxy, and only as far back as the chain
//! of trusted proxies goes. Anything to the left of the first untrusted hop was written by
//! whoever sent the request and is ignored, so a spoofed header changes nothing.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::domain::{ForwardedHeader, IpRanges};

/// The header's name.
fn header_name(header: ForwardedHeader) -> HeaderName {
    match header {
        ForwardedHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
        ForwardedHeader::Forwarded => HeaderName::from_static("forwarded"),
    }
}

/// Which connections may say who the client is, and in which header. Only one header is
/// read: a proxy that writes `X-Forwarded-For` passes a client's `Forwarded` through
/// untouched, so reading both would let a client choose its own address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyTrust {
    /// The proxies' address ranges; empty trusts no one (the socket's address is used).
    pub trusted: IpRanges,
    /// The header they write.
    pub header: ForwardedHeader,
}

/// Who sent a request: the address every per-client rule uses, and the connection's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    ip: IpAddr,
    peer: SocketAddr,
}

impl ClientAddr {
    /// A client that connected directly from `peer`.
    pub fn direct(peer: SocketAddr) -> Self {
        Self {
            ip: peer.ip().to_canonical(),
            peer,
        }
    }

    /// The client's address (IPv4 clients of a dual-stack socket as IPv4).
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The connection's address: the client's, or the nearest proxy's.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Whether the address came from a trusted proxy's header.
    pub fn is_forwarded(&self) -> bool {
        self.ip != self.peer.ip().to_canonical()
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ip.fmt(f)
    }
}

impl ProxyTrust {
    /// The client of a request that came in on a connection from `peer` with `headers`: the
    /// rightmost address of the header that is not a trusted proxy's, when `peer` is a
    /// trusted proxy; else `peer`. When every hop is trusted, the leftmost one. An
    /// unreadable hop (`unknown`, an obfuscated name, garbage) ends the walk: the client
    /// is then the last trusted hop, the one that forwarded it.
    pub fn client_addr(&self, peer: SocketAddr, headers: &HeaderMap) -> ClientAddr {
        let mut client = ClientAddr::direct(peer);
        if !self.trusted.contains(client.ip) {
            return client;
        }
        // Header lines in order make one list (RFC 9110 §5.3): walked from the right.
        for line in headers.get_all(header_name(self.header)).iter().rev() {
            let hops = match self.header {
                ForwardedHeader::XForwardedFor => x_forwarded_for(line),
                ForwardedHeader::Forwarded => forwarded(line),
            };
            for hop in hops.into_iter().rev() {
                let Some(ip) = hop else {
                    return client;
                };
                client.ip = ip.to_canonical();
                if !self.trusted.contains(client.ip) {
                    return client;
                }
            }
        }
        client
    }
}

/// The hops of one `X-Forwarded-For` line, left to right (`None`: unreadable). Blank
/// entries are skipped.
fn x_forwarded_for(line: &HeaderValue) -> Vec<Option<IpAddr>> {
    let Ok(line) = line.to_str() else {
        return vec![None];
    };
    line.split(',')
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .map(node_ip)
        .collect()
}

/// The `for=` of each element of one `Forwarded` line, left to right (`None`: unreadable or
/// absent). Quoted strings may hold `,` and `;`, so the line is tokenized, not split.
fn forwarded(line: &HeaderValue) -> Vec<Option<IpAddr>> {
    let Ok(line) = line.to_str() else {
        return vec![None];
    };
    let mut hops = Vec::new();
    // The current element's `for` address (`None`: absent or unreadable so far).
    let mut element_for: Option<IpAddr> = None;
    let mut pair = String::new();
    let mut chars = line.chars();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => pair.extend(chars.next()),
            ';' if !quoted => end_pair(&mut pair, &mut element_for),
            ',' if !quoted => {
                end_pair(&mut pair, &mut element_for);
                hops.push(element_for.take());
            }
            c => pair.push(c),
        }
    }
    end_pair(&mut pair, &mut element_for);
    hops.push(element_for.take());
    hops
}

/// Ends one `name=value` pair of a `Forwarded` element: keeps its address if it is `for`.
fn end_pair(pair: &mut String, element_for: &mut Option<IpAddr>) {
    if let Some((name, value)) = pair.split_once('=')
        && name.trim().eq_ignore_ascii_case("for")
    {
        *element_for = node_ip(value.trim());
    }
    pair.clear();
}

/// The address of one hop: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`; `None` for anything else (`unknown`, `_hidden`).
fn node_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|addr| addr.ip()))
        .or_else(|_| {
            text.strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or_default()
                .parse::<IpAddr>()
        })
        .ok()
}

/// Middleware: puts the request's [`ClientAddr`] in its extensions (for the layers and
/// handlers after it) and in the response's (for the request log). Needs the connection's
/// address (`into_make_service_with_connect_info::<SocketAddr>`).
pub async fn resolve(
    State(trust): State<std::sync::Arc<ProxyTrust>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = trust.client_addr(peer, request.headers());
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    response.extensions_mut().insert(client);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROXY: &str = "10.0.0.5:40000";

    fn trust(ranges: &str, header: ForwardedHeader) -> ProxyTrust {
        ProxyTrust {
            trusted: ranges.parse().unwrap(),
            header,
        }
    }

    fn client(trust: &ProxyTrust, peer: &str, lines: &[(&str, &str)]) -> ClientAddr {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
        trust.client_addr(peer.parse().unwrap(), &headers)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_and_what_it_claims_is_ignored() {
        let t = trust("10.0.0.0/8", ForwardedHeader::XForwardedFor);
        let xff = |value| client(&t, PROXY, &[("x-forwarded-for", value)]);
        assert_eq!(xff("203.0.113.9").ip(), ip("203.0.113.9"));
        // The client claimed 1.1.1.1; the ingress appended the address it saw.
        assert_eq!(xff("1.1.1.1, 203.0.113.9").ip(), ip("203.0.113.9"));
        // Two trusted proxies: the hop before them.
        assert_eq!(
            xff("1.1.1.1, 203.0.113.9, 10.1.1.1").ip(),
            ip("203.0.113.9")
        );
        // Every hop trusted: the furthest one.
        assert_eq!(xff("10.9.9.9,10.1.1.1").ip(), ip("10.9.9.9"));
        // Several lines are one list, in order.
        let two_lines = client(
            &t,
            PROXY,
            &[
                ("x-forwarded-for", "1.1.1.1"),
                ("x-forwarded-for", "203.0.113.9"),
            ],
        );
        assert_eq!(two_lines.ip(), ip("203.0.113.9"));
        assert!(two_lines.is_forwarded());
        assert_eq!(two_lines.peer(), PROXY.parse().unwrap());
        assert_eq!(two_lines.to_string(), "203.0.113.9");
    }

    #[test]
    fn an_untrusted_peer_or_a_missing_header_leaves_the_socket_address() {
        let t = trust("10.0.0.0/8", ForwardedHeader::XForwardedFor);
        let spoofed = client(&t, "192.0.2.50:1234", &[("x-forwarded-for", "10.0.0.1")]);
        assert_eq!(spoofed.ip(), ip("192.0.2.50"));
        assert!(!spoofed.is_forwarded());
        assert_eq!(client(&t, PROXY, &[]).ip(), ip("10.0.0.5"));
        // The other header is passed through by the proxy untouched: never read.
        let other = client(&t, PROXY, &[("forwarded", "for=203.0.113.9")]);
        assert_eq!(other.ip(), ip("10.0.0.5"));
        let nobody = trust("", ForwardedHeader::XForwardedFor);
        let direct = client(
            &nobody,
            "127.0.0.1:5",
            &[("x-forwarded-for", "203.0.113.9")],
        );
        assert_eq!(direct.ip(), ip("127.0.0.1"));
    }

    #[test]
    fn an_unreadable_hop_stops_at_the_proxy_that_forwarded_it() {
        let t = trust("10.0.0.0/8", ForwardedHeader::XForwardedFor);
        let xff = |value: &str| client(&t, PROXY, &[("x-forwarded-for", value)]).ip();
        assert_eq!(xff("203.0.113.9, unknown"), ip("10.0.0.5"));
        assert_eq!(xff("203.0.113.9, garbage, 10.1.1.1"), ip("10.1.1.1"));
        assert_eq!(xff("203.0.113.9:5555, ,"), ip("203.0.113.9"));
        assert_eq!(xff("[2001:db8::7]:443"), ip("2001:db8::7"));
        assert_eq!(xff("::ffff:203.0.113.9"), ip("203.0.113.9"));
        let latin1 = client(&t, PROXY, &[("x-forwarded-for", "203.0.113.9, \u{e9}")]);
        assert_eq!(latin1.ip(), ip("10.0.0.5"));
    }

    #[test]
    fn forwarded_elements_are_read_by_their_for_parameter_quoted_or_not() {
        let t = trust("10.0.0.0/8, 2001:db8:ffff::/48", ForwardedHeader::Forwarded);
        let fwd = |value: &str| client(&t, PROXY, &[("forwarded", value)]).ip();
        assert_eq!(
            fwd("for=1.1.1.1, For=\"[2001:db8:cafe::17]:4711\";proto=https"),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            fwd("for=203.0.113.9;by=10.0.0.5, for=\"[2001:db8:ffff::1]\""),
            ip("203.0.113.9")
        );
        assert_eq!(fwd("proto=https;for=\"203.0.113.9:80\""), ip("203.0.113.9"));
        // A quoted `,` does not split elements; an obfuscated or missing `for` stops.
        assert_eq!(fwd("for=\"_a,b\""), ip("10.0.0.5"));
        assert_eq!(fwd("for=203.0.113.9, proto=http"), ip("10.0.0.5"));
        assert_eq!(fwd("for=203.0.113.9, for=unknown"), ip("10.0.0.5"));
        // X-Forwarded-For is ignored when Forwarded is the configured header.
        let other = client(&t, PROXY, &[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(other.ip(), ip("10.0.0.5"));
    }
}
