//! File descriptors, which every connection, database file and log line needs: the
//! process's limit (`RLIMIT_NOFILE`), the connection caps derived from it at start-up so
//! that descriptors stay in reserve for the database, the store and the probes, and
//! whether they are exhausted right now. SQLite reports an open that failed for lack of
//! descriptors as `SQLITE_CANTOPEN`, exactly as a missing file, without the errno; asking
//! the process itself is the reliable signal.

use std::io;

use rustix::io::Errno;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors kept out of the connection caps: the SQLite source and store (a file, its
/// journal or WAL, a temporary file each), the Oracle pool's sockets, the listeners, the
/// runtime's own (epoll, eventfd, signal pipe), stdout and stderr, with room to spare.
pub const RESERVE: u64 = 64;

/// Below this many free descriptors, the process counts as exhausted.
const EXHAUSTED_MARGIN: u64 = 4;

/// Whether `e` is the kernel saying the process (EMFILE) or the system (ENFILE) has no
/// descriptor left.
pub fn is_exhaustion(e: &io::Error) -> bool {
    e.raw_os_error().is_some_and(|code| {
        code == Errno::MFILE.raw_os_error() || code == Errno::NFILE.raw_os_error()
    })
}

/// Whether the process has (almost) no descriptor left now: opening one more fails with
/// EMFILE or ENFILE, or the open ones are within a few of the limit. Call it right after an
/// open failed to learn whether that failure was for lack of descriptors.
pub fn exhausted() -> bool {
    match std::fs::read_dir("/proc/self/fd") {
        Err(e) => is_exhaustion(&e),
        Ok(open) => {
            let open = open.count() as u64;
            soft_limit().is_some_and(|limit| open + EXHAUSTED_MARGIN >= limit)
        }
    }
}

/// The process's soft limit on open descriptors; `None` when unlimited.
pub fn soft_limit() -> Option<u64> {
    getrlimit(Resource::Nofile).current
}

/// Raises the soft limit to the hard one, as Go's runtime does at start-up (the usual soft
/// default of 1 024 is a `select()`-era ceiling, not a budget); returns the soft limit in
/// force afterwards, `None` when unlimited.
pub fn raise_soft_limit() -> Option<u64> {
    let limits = getrlimit(Resource::Nofile);
    if limits.current != limits.maximum {
        let raised = Rlimit {
            current: limits.maximum,
            maximum: limits.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(error = %e, "cannot raise the soft limit on open files");
        }
    }
    soft_limit()
}

/// The connection caps once descriptors are kept in reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// The gRPC listener's cap.
    pub grpc: u32,
    /// Each HTTP listener's cap.
    pub http: u32,
}

/// The caps that fit in `limit` descriptors with [`RESERVE`] kept aside (half of `limit`
/// when it is smaller than twice the reserve): the wanted caps when they fit, otherwise
/// each scaled down in proportion (at least one connection each). `http_listeners` is how
/// many HTTP listeners there are.
pub fn fit(limit: Option<u64>, wanted: Caps, http_listeners: u32) -> Caps {
    let Some(limit) = limit else {
        return wanted;
    };
    let available = if limit >= 2 * RESERVE {
        limit - RESERVE
    } else {
        limit / 2
    };
    let total = u64::from(wanted.grpc) + u64::from(wanted.http) * u64::from(http_listeners);
    if total <= available {
        return wanted;
    }
    let scale =
        |cap: u32| u32::try_from((u64::from(cap) * available / total).max(1)).unwrap_or(cap);
    Caps {
        grpc: scale(wanted.grpc),
        http: scale(wanted.http),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WANTED: Caps = Caps {
        grpc: 1024,
        http: 256,
    };

    #[test]
    fn caps_that_fit_are_kept() {
        assert_eq!(fit(Some(1_048_576), WANTED, 2), WANTED);
        assert_eq!(fit(None, WANTED, 2), WANTED);
    }

    #[test]
    fn caps_that_do_not_fit_shrink_in_proportion_and_leave_the_reserve() {
        let caps = fit(Some(256), WANTED, 2);
        assert_eq!(
            caps,
            Caps {
                grpc: 128,
                http: 32
            }
        );
        let used = u64::from(caps.grpc) + 2 * u64::from(caps.http);
        assert!(used + RESERVE <= 256, "{used} leaves the reserve");
        let tiny = fit(Some(16), WANTED, 2);
        assert!(tiny.grpc >= 1 && tiny.http >= 1);
        assert!(u64::from(tiny.grpc) + 2 * u64::from(tiny.http) <= 8 + 2);
    }

    #[test]
    fn exhaustion_is_emfile_or_enfile_only() {
        assert!(is_exhaustion(&io::Error::from_raw_os_error(
            Errno::MFILE.raw_os_error()
        )));
        assert!(is_exhaustion(&io::Error::from_raw_os_error(
            Errno::NFILE.raw_os_error()
        )));
        assert!(!is_exhaustion(&io::Error::from_raw_os_error(
            Errno::NOENT.raw_os_error()
        )));
        assert!(!is_exhaustion(&io::Error::other("no errno")));
    }

    #[test]
    fn a_process_with_descriptors_to_spare_is_not_exhausted() {
        assert!(!exhausted());
    }
}
