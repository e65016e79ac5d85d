//! Loopback network pieces the connectivity tests put between the clients and
//! the API server, each keeping a record of what went through it:
//!
//! - [`LoopbackProxy`]: an HTTP `CONNECT` and SOCKS5 proxy (a kubeconfig's
//!   `proxy-url`). It tunnels only to the targets it was given, each mapped
//!   to where it really connects, so a client that skips it reaches nothing.
//! - [`SniRelay`]: a TCP relay on another loopback address (`127.0.0.2`, not
//!   in the API server's certificate) that records the TLS server name
//!   (SNI) of every connection.
//!
//! Threads and blocking sockets: each connection gets two copy threads.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// One tunnel a client asked the proxy for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunnel {
    /// `http-connect` or `socks5`.
    pub protocol: &'static str,
    /// The `host:port` the client asked for.
    pub target: String,
    /// Whether the proxy opened it (the target was one it serves).
    pub opened: bool,
}

/// An HTTP CONNECT and SOCKS5 proxy on 127.0.0.1 (see the module docs).
pub struct LoopbackProxy {
    addr: SocketAddr,
    tunnels: Arc<Mutex<Vec<Tunnel>>>,
}

impl LoopbackProxy {
    /// Starts the proxy; `routes` maps a requested `host:port` to the
    /// address it really connects to. Any other target is refused.
    pub fn start(routes: HashMap<String, SocketAddr>) -> LoopbackProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let record = tunnels.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let routes = routes.clone();
                let record = record.clone();
                thread::spawn(move || {
                    let _ = serve_proxy_client(client, &routes, &record);
                });
            }
        });
        LoopbackProxy { addr, tunnels }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The tunnels asked for so far.
    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.tunnels.lock().expect("proxy record").clone()
    }
}

fn serve_proxy_client(
    mut client: TcpStream,
    routes: &HashMap<String, SocketAddr>,
    record: &Mutex<Vec<Tunnel>>,
) -> std::io::Result<()> {
    let mut first = [0u8; 1];
    client.peek(&mut first)?;
    let (protocol, target) = if first[0] == 5 {
        ("socks5", socks5_handshake(&mut client)?)
    } else {
        ("http-connect", http_connect_request(&mut client)?)
    };
    let upstream = routes
        .get(&target)
        .and_then(|to| TcpStream::connect(to).ok());
    record.lock().expect("proxy record").push(Tunnel {
        protocol,
        target: target.clone(),
        opened: upstream.is_some(),
    });
    let Some(upstream) = upstream else {
        let refusal: &[u8] = if protocol == "socks5" {
            &[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]
        } else {
            b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"
        };
        return client.write_all(refusal);
    };
    let ok: &[u8] = if protocol == "socks5" {
        &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    } else {
        b"HTTP/1.1 200 Connection established\r\n\r\n"
    };
    client.write_all(ok)?;
    pipe(client, upstream);
    Ok(())
}

/// Reads `CONNECT host:port HTTP/1.1` and its headers; returns `host:port`.
fn http_connect_request(client: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        client.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.split_whitespace();
    match (words.next(), words.next()) {
        (Some("CONNECT"), Some(target)) => Ok(target.to_string()),
        _ => Err(std::io::Error::other(format!("not a CONNECT: {text}"))),
    }
}

/// The SOCKS5 greeting (no authentication) and CONNECT request; returns the target.
fn socks5_handshake(client: &mut TcpStream) -> std::io::Result<String> {
    let mut greeting = [0u8; 2];
    client.read_exact(&mut greeting)?;
    let mut methods = vec![0u8; usize::from(greeting[1])];
    client.read_exact(&mut methods)?;
    client.write_all(&[5, 0])?;
    let mut request = [0u8; 4];
    client.read_exact(&mut request)?;
    if request[1] != 1 {
        return Err(std::io::Error::other("only CONNECT"));
    }
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip)?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip)?;
            format!("[{}]", std::net::Ipv6Addr::from(ip))
        }
        other => return Err(std::io::Error::other(format!("address type {other}"))),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    Ok(format!("{host}:{}", u16::from_be_bytes(port)))
}

/// Copies both ways until either side closes.
fn pipe(client: TcpStream, upstream: TcpStream) {
    let (mut c_read, mut u_write) = (
        client.try_clone().expect("clone"),
        upstream.try_clone().expect("clone"),
    );
    let forward = thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let _ = std::io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Write);
    let _ = forward.join();
}

/// A TCP relay on 127.0.0.2 to `target` that records each connection's SNI.
pub struct SniRelay {
    addr: SocketAddr,
    names: Arc<Mutex<Vec<Option<String>>>>,
}

impl SniRelay {
    /// Starts the relay.
    pub fn start(target: SocketAddr) -> SniRelay {
        let listener = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2 (loopback)");
        let addr = listener.local_addr().expect("relay address");
        let names = Arc::new(Mutex::new(Vec::new()));
        let record = names.clone();
        thread::spawn(move || {
            for mut client in listener.incoming().flatten() {
                let record = record.clone();
                thread::spawn(move || {
                    let Ok(hello) = read_tls_record(&mut client) else {
                        return;
                    };
                    record.lock().expect("relay record").push(sni(&hello));
                    let Ok(mut upstream) = TcpStream::connect(target) else {
                        return;
                    };
                    if upstream.write_all(&hello).is_ok() {
                        pipe(client, upstream);
                    }
                });
            }
        });
        SniRelay { addr, names }
    }

    /// `127.0.0.2:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server name each connection asked for (`None`: no SNI).
    pub fn server_names(&self) -> Vec<Option<String>> {
        self.names.lock().expect("relay record").clone()
    }
}

/// The first TLS record (the ClientHello), header included.
fn read_tls_record(client: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut header = [0u8; 5];
    client.read_exact(&mut header)?;
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let mut record = header.to_vec();
    record.resize(5 + len, 0);
    client.read_exact(&mut record[5..])?;
    Ok(record)
}

/// The `server_name` extension of a ClientHello record, if any.
fn sni(record: &[u8]) -> Option<String> {
    let body = record.get(5..)?;
    // Handshake header (type 1, 3-byte length), version, random.
    let mut at = 4 + 2 + 32;
    let skip = |at: &mut usize, len_bytes: usize| -> Option<()> {
        let len = match len_bytes {
            1 => usize::from(*body.get(*at)?),
            _ => usize::from(u16::from_be_bytes([*body.get(*at)?, *body.get(*at + 1)?])),
        };
        *at += len_bytes + len;
        Some(())
    };
    skip(&mut at, 1)?; // session id
    skip(&mut at, 2)?; // cipher suites
    skip(&mut at, 1)?; // compression methods
    let ext_end = at + 2 + usize::from(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]));
    at += 2;
    while at + 4 <= ext_end {
        let kind = u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]);
        let len = usize::from(u16::from_be_bytes([*body.get(at + 2)?, *body.get(at + 3)?]));
        if kind == 0 {
            // list length (2), name type (1), name length (2), name
            let name_len =
                usize::from(u16::from_be_bytes([*body.get(at + 7)?, *body.get(at + 8)?]));
            let name = body.get(at + 9..at + 9 + name_len)?;
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        at += 4 + len;
    }
    None
}
