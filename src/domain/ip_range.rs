//! Address ranges in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or one address), as the
//! ANEEL endpoint's trusted-proxy and allow-list settings write them (a value type the
//! settings hand over to the HTTP guard). Small enough not to need a crate.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One range: a network address and its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Whether `ip` is in the range. IPv4 addresses mapped into IPv6 (`::ffff:10.0.0.1`, as
    /// a dual-stack socket reports IPv4 peers) match IPv4 ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                prefix_bits(u32::from(ip), self.prefix) == u32::from(network)
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                prefix_bits(u128::from(ip), self.prefix) == u128::from(network)
            }
            _ => false,
        }
    }
}

/// `bits` with all but its first `prefix` bits cleared.
fn prefix_bits<T>(bits: T, prefix: u8) -> T
where
    T: Copy
        + std::ops::Shl<u32, Output = T>
        + std::ops::Not<Output = T>
        + std::ops::BitAnd<Output = T>
        + From<u8>,
{
    let width = u32::try_from(std::mem::size_of::<T>() * 8).expect("an address's bit count");
    let host_bits = width - u32::from(prefix);
    if host_bits == width {
        return T::from(0);
    }
    // All ones, shifted left past the host bits.
    bits & (!T::from(0) << host_bits)
}

impl FromStr for IpRange {
    type Err = String;

    /// `address/prefix`, or one address (a range of one). A range whose address has bits set
    /// past the prefix is refused rather than silently widened or narrowed: `10.0.0.1/8` is
    /// most likely a typo, and which range was meant cannot be known.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))?;
        let width: u8 = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(prefix) => match prefix.parse::<u8>() {
                Ok(p) if p <= width && prefix.bytes().all(|b| b.is_ascii_digit()) => p,
                _ => {
                    return Err(format!(
                        "{text:?}: the prefix length must be a whole number from 0 to {width}"
                    ));
                }
            },
        };
        // Addresses are compared in their canonical form, so an IPv4-mapped range
        // (`::ffff:10.0.0.0/104`) becomes the IPv4 range it maps.
        let (network, prefix) = match network.to_canonical() {
            IpAddr::V4(v4) if network.is_ipv6() && prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
            _ => (network, prefix),
        };
        let range = IpRange { network, prefix };
        if !range.contains(network) {
            let exact = match network {
                IpAddr::V4(ip) => IpAddr::from(prefix_bits(u32::from(ip), prefix).to_be_bytes()),
                IpAddr::V6(ip) => IpAddr::from(prefix_bits(u128::from(ip), prefix).to_be_bytes()),
            };
            return Err(format!(
                "{text:?} has bits set past its /{prefix} prefix: write {exact}/{prefix} for \
                 the range, or the address alone for one address"
            ));
        }
        Ok(range)
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// A list of ranges; empty matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpRanges(Vec<IpRange>);

impl IpRanges {
    /// Whether `ip` is in any of the ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    /// Whether there is no range.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for IpRanges {
    type Err = String;

    /// Ranges separated by commas or blanks; the empty text is the empty list. The error
    /// names the first bad entry.
    fn from_str(text: &str) -> Result<Self, String> {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|entry| !entry.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(IpRanges)
    }
}

impl From<Vec<IpRange>> for IpRanges {
    fn from(ranges: Vec<IpRange>) -> Self {
        Self(ranges)
    }
}

impl fmt::Display for IpRanges {
    /// The ranges, comma-separated, as the settings take them (for the start-up log).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, range) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{range}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn ranges(text: &str) -> IpRanges {
        text.parse().unwrap()
    }

    #[test]
    fn a_range_holds_exactly_the_addresses_under_its_prefix() {
        let r =
            ranges("10.0.0.0/8, 192.168.1.0/24 2001:db8::/32,203.0.113.7 ::ffff:172.16.0.0/108");
        for inside in [
            "10.0.0.0",
            "10.255.255.255",
            "192.168.1.200",
            "2001:db8:ffff::1",
            "203.0.113.7",
            "::ffff:10.1.2.3",
            "172.31.255.255",
        ] {
            assert!(r.contains(ip(inside)), "{inside}");
        }
        for outside in [
            "11.0.0.0",
            "9.255.255.255",
            "192.168.2.1",
            "2001:db9::1",
            "203.0.113.8",
            "::a00:1",
            "172.32.0.0",
        ] {
            assert!(!r.contains(ip(outside)), "{outside}");
        }
        assert_eq!(
            r.to_string(),
            "10.0.0.0/8,192.168.1.0/24,2001:db8::/32,203.0.113.7/32,172.16.0.0/12"
        );
    }

    #[test]
    fn zero_and_full_prefixes_hold_every_address_and_one_address() {
        let all = ranges("0.0.0.0/0,::/0");
        assert!(all.contains(ip("255.255.255.255")));
        assert!(all.contains(ip("ffff::1")));
        let one = ranges("127.0.0.1/32,::1/128");
        assert!(one.contains(ip("127.0.0.1")) && one.contains(ip("::1")));
        assert!(!one.contains(ip("127.0.0.2")) && !one.contains(ip("::2")));
        assert!(!ranges("").contains(ip("127.0.0.1")));
        assert!(ranges(" , ").is_empty());
    }

    #[test]
    fn bad_ranges_are_refused_naming_the_entry_and_what_is_wrong() {
        for (text, want) in [
            (
                "10.0.0.0/8,10.0.0.0/33",
                "\"10.0.0.0/33\": the prefix length",
            ),
            ("2001:db8::/129", "from 0 to 128"),
            ("10.0.0.0/+8", "prefix length"),
            ("10.0.0.0/", "prefix length"),
            ("ten.0.0.0/8", "\"ten.0.0.0/8\" is not an IP address"),
            ("10.0.0.1/8", "write 10.0.0.0/8"),
            ("2001:db8::1/32", "write 2001:db8::/32"),
        ] {
            let e = text.parse::<IpRanges>().unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
