//! A minimal HTTP/2 client over a raw socket, enough to do what well-behaved clients
//! never do: ignore the server's stream limit, send only the preface, watch for GOAWAY.

use std::time::Duration;

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A generous bound so a broken server fails the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Reads until the server closes the connection (EOF or reset).
pub async fn closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("the server never closed the connection")
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// A connection to `addr` from the loopback address `from` (127.0.0.2 stands for a second
/// client).
pub async fn connect_from(from: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Sends the HTTP/2 preface and an empty SETTINGS frame: all an HTTP/2 connection needs
/// to be established, with no stream. Fails when the server has already closed it.
pub async fn send_preface(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(PREFACE).await?;
    stream.write_all(&frame(FRAME_SETTINGS, 0, 0, &[])).await
}

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub const FRAME_DATA: u8 = 0;
pub const FRAME_HEADERS: u8 = 1;
pub const FRAME_RST_STREAM: u8 = 3;
pub const FRAME_SETTINGS: u8 = 4;
pub const FRAME_GOAWAY: u8 = 7;
pub const NO_ERROR: u32 = 0;
pub const ACK: u8 = 0x1;
pub const END_STREAM: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 3;
pub const REFUSED_STREAM: u32 = 7;

pub fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend_from_slice(&stream_id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// HPACK "literal header field without indexing, new name", no Huffman coding.
pub fn literal(block: &mut Vec<u8>, name: &str, value: &str) {
    block.push(0);
    block.push(u8::try_from(name.len()).unwrap());
    block.extend_from_slice(name.as_bytes());
    block.push(u8::try_from(value.len()).unwrap());
    block.extend_from_slice(value.as_bytes());
}

/// HEADERS and DATA of a `grpc.health.v1.Health/Watch` call for the overall health.
pub fn watch_request(stream_id: u32, addr: std::net::SocketAddr) -> Vec<u8> {
    let mut block = Vec::new();
    literal(&mut block, ":method", "POST");
    literal(&mut block, ":scheme", "http");
    literal(&mut block, ":path", "/grpc.health.v1.Health/Watch");
    literal(&mut block, ":authority", &addr.to_string());
    literal(&mut block, "content-type", "application/grpc");
    literal(&mut block, "te", "trailers");
    let mut out = frame(FRAME_HEADERS, END_HEADERS, stream_id, &block);
    // An empty HealthCheckRequest: not compressed, length 0.
    out.extend(frame(FRAME_DATA, END_STREAM, stream_id, &[0, 0, 0, 0, 0]));
    out
}

/// Reads frames until one matches (type, flags, stream id, payload); returns its payload.
pub async fn read_until(
    stream: &mut TcpStream,
    want: impl Fn(u8, u8, u32, &[u8]) -> bool,
) -> Vec<u8> {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let mut header = [0u8; 9];
            stream.read_exact(&mut header).await.expect("frame header");
            let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
            let id = u32::from_be_bytes(header[5..9].try_into().unwrap()) & 0x7fff_ffff;
            let mut payload = vec![0u8; len];
            stream
                .read_exact(&mut payload)
                .await
                .expect("frame payload");
            if want(header[3], header[4], id, &payload) {
                return payload;
            }
        }
    })
    .await
    .expect("the expected frame never came")
}

pub fn settings_value(payload: &[u8], id: u16) -> Option<u32> {
    payload.chunks_exact(6).find_map(|s| {
        (u16::from_be_bytes([s[0], s[1]]) == id)
            .then(|| u32::from_be_bytes([s[2], s[3], s[4], s[5]]))
    })
}
