//! An accepted connection ([`ConnIo`]): its socket with buffered writes and, on the gRPC
//! listener, a deadline for the HTTP/2 preface enforced on its reads; and the accept loop's
//! rate-limited log lines.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, BufWriter, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::activity::Activity;
use super::counters::{Close, Incoming};

/// Length of the HTTP/2 client preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`).
const PREFACE_LEN: usize = 24;

/// The accept loop logs a failure kind at most once per this interval.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Lets one line through per [`LOG_INTERVAL`] and counts the ones held back.
#[derive(Debug, Default)]
pub(super) struct RateLimitedLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    /// `Some(lines held back since the last one)` when a line may be logged now.
    pub(super) fn should_log(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < LOG_INTERVAL => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// Capacity of a connection's write buffer (see [`ConnIo`]): a few answers with their
/// headers and trailers.
const WRITE_BUFFER: usize = 16 * 1024;

/// An accepted connection: the socket, and its preface deadline.
///
/// Writes go through a buffer, written to the socket when HTTP/2 flushes, and the
/// connection says it has no vectored writes. Measured with the load benchmark: h2 copies
/// a DATA frame into its own write buffer only up to 256 bytes when the socket takes
/// vectored writes (1 024 bytes when it does not); a larger frame is sent by itself with
/// the headers before it, and the frames queued after it (the call's trailers, the next
/// answers) wait for another write. A data answer of a few hundred bytes thus cost two
/// system calls where a health check costs part of one, and about 1.2x its CPU per call.
/// Without vectored writes, answers up to 1 024 bytes travel in h2's buffer with their
/// trailers and with the other answers ready; a larger one is written by h2 in two parts,
/// which this buffer joins into one system call.
pub struct ConnIo {
    stream: BufWriter<TcpStream>,
    preface_left: usize,
    handshake: Option<Pin<Box<Sleep>>>,
    handshake_timeout: Duration,
    counters: Arc<Incoming>,
    reads_are_activity: Option<Activity>,
}

impl ConnIo {
    /// `stream`, which must send the HTTP/2 preface within `handshake_timeout` when set.
    pub fn new(
        stream: TcpStream,
        handshake_timeout: Option<Duration>,
        counters: Arc<Incoming>,
    ) -> Self {
        Self {
            stream: BufWriter::with_capacity(WRITE_BUFFER, stream),
            preface_left: if handshake_timeout.is_some() {
                PREFACE_LEN
            } else {
                0
            },
            handshake: handshake_timeout.map(|t| Box::pin(tokio::time::sleep(t))),
            handshake_timeout: handshake_timeout.unwrap_or_default(),
            counters,
            reads_are_activity: None,
        }
    }

    /// This connection, whose reads count as activity of the connection: on HTTP/1, bytes
    /// that arrive are a request's head, whose time the header read timeout bounds, not the
    /// idle timeout. (Not on HTTP/2, where pings arrive on idle connections.)
    #[must_use]
    pub fn reads_are_activity(mut self, activity: Activity) -> Self {
        self.reads_are_activity = Some(activity);
        self
    }

    /// An error when the preface is late; until it has arrived, arms the timer that wakes
    /// the reader at the deadline. No call can be in flight before the preface, so closing
    /// then loses none.
    fn check_handshake(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.preface_left == 0 {
            // Done with: the timer is no longer needed.
            self.handshake = None;
            return Ok(());
        }
        let Some(handshake) = self.handshake.as_mut() else {
            return Ok(());
        };
        if handshake.as_mut().poll(cx).is_pending() {
            return Ok(());
        }
        self.counters.count_closed(Close::HandshakeTimeout);
        tracing::debug!(
            peer = ?self.stream.get_ref().peer_addr().ok(),
            "closing a connection that sent no preface in time"
        );
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "no HTTP/2 preface within {} ms",
                self.handshake_timeout.as_millis()
            ),
        ))
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check_handshake(cx)?;
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let read = buf.filled().len() - before;
            this.preface_left = this.preface_left.saturating_sub(read);
            if let (true, Some(activity)) = (read > 0, &this.reads_are_activity) {
                activity.bytes_arrived();
            }
        }
        result
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        // h2 then copies frames up to 1 024 bytes into its buffer (see ConnIo).
        false
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A connected pair on loopback: the accepted side as a `ConnIo`, and the peer.
    async fn pair() -> (ConnIo, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        let io = ConnIo::new(accepted, Some(Duration::from_secs(10)), Arc::default());
        (io, peer)
    }

    #[tokio::test]
    async fn writes_reach_the_peer_whole_and_in_order_once_flushed() {
        let (mut io, mut peer) = pair().await;
        assert!(
            !io.is_write_vectored(),
            "h2 copies frames up to 1 024 bytes only when writes are not vectored"
        );
        // Small parts that stay in the buffer, then one larger than the buffer.
        let large: Vec<u8> = (0..3 * WRITE_BUFFER).map(|i| (i % 251) as u8).collect();
        let mut sent = Vec::new();
        for part in [&b"headers"[..], &[7; 900], &large, b"trailers"] {
            io.write_all(part).await.unwrap();
            sent.extend_from_slice(part);
        }
        io.flush().await.unwrap();
        let mut received = vec![0; sent.len()];
        peer.read_exact(&mut received).await.unwrap();
        assert_eq!(received, sent);
    }

    #[tokio::test]
    async fn a_small_write_waits_for_the_flush() {
        let (mut io, mut peer) = pair().await;
        io.write_all(b"DATA").await.unwrap();
        let mut byte = [0; 1];
        let early = tokio::time::timeout(Duration::from_millis(50), peer.read(&mut byte)).await;
        assert!(early.is_err(), "nothing is sent before the flush");
        io.flush().await.unwrap();
        let mut received = [0; 4];
        peer.read_exact(&mut received).await.unwrap();
        assert_eq!(&received, b"DATA");
    }
}
