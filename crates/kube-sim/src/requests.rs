//! The request record: every API request the HTTP front end received, with
//! what identifies its client (User-Agent, `Authorization`, the
//! `Impersonate-*` headers, TLS and its SNI) and the status it got. Tests
//! use it to check which server a client talked to and with which
//! credentials; the event log ([`crate::store::LogEntry`]) says what the
//! requests did to the objects.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// Records kept; older ones are dropped first.
pub const RECORD_LIMIT: usize = 50_000;

/// One API request (the `/_sim/...` control endpoints are not recorded).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RequestRecord {
    /// Position among this server's requests (from 0; keeps counting past [`RECORD_LIMIT`]).
    pub seq: u64,
    /// RFC 3339 time with milliseconds, when the request arrived.
    pub time: String,
    /// HTTP method.
    pub method: String,
    /// Path, as sent.
    pub path: String,
    /// Query string, as sent (empty when none).
    pub query: String,
    /// Whether it asked for a watch (`watch=true|1` or a `/watch/` path).
    pub watch: bool,
    /// The User-Agent up to its first `/` (the actor of the event log).
    pub actor: String,
    /// The `Authorization` header, verbatim (a test's fake credentials).
    pub authorization: Option<String>,
    /// The `Impersonate-User` header.
    pub impersonate_user: Option<String>,
    /// Every `Impersonate-Group` header, in order.
    pub impersonate_groups: Vec<String>,
    /// Whether it came over TLS.
    pub tls: bool,
    /// The server name the client sent in its TLS ClientHello (none for
    /// plain HTTP, and for a client that verifies an IP address).
    pub sni: Option<String>,
    /// The status code of the response (for a watch: of its first line);
    /// 0 while the request is still held (a gate) or being served.
    pub code: u16,
}

/// The bounded, ordered request record of one server.
#[derive(Default)]
pub struct Requests {
    inner: Mutex<(u64, VecDeque<RequestRecord>)>,
}

impl Requests {
    /// Append `record` as it arrives, numbering it; drops the oldest beyond
    /// [`RECORD_LIMIT`]. Returns its number.
    pub fn push(&self, mut record: RequestRecord) -> u64 {
        let mut g = crate::sync::lock(&self.inner);
        let seq = g.0;
        record.seq = seq;
        g.0 += 1;
        if g.1.len() >= RECORD_LIMIT {
            g.1.pop_front();
        }
        g.1.push_back(record);
        seq
    }

    /// Set the response code of request `seq` (if it is still kept).
    pub fn answered(&self, seq: u64, code: u16) {
        let mut g = crate::sync::lock(&self.inner);
        let first = g.1.front().map_or(0, |r| r.seq);
        if let Some(r) = seq
            .checked_sub(first)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| g.1.get_mut(i))
        {
            r.code = code;
        }
    }

    /// Every kept record, oldest first.
    pub fn all(&self) -> Vec<RequestRecord> {
        crate::sync::lock(&self.inner).1.iter().cloned().collect()
    }

    /// How many requests arrived so far (kept or not).
    pub fn count(&self) -> u64 {
        crate::sync::lock(&self.inner).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str) -> RequestRecord {
        RequestRecord {
            seq: 99,
            time: String::new(),
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            watch: false,
            actor: "t".into(),
            authorization: None,
            impersonate_user: None,
            impersonate_groups: Vec::new(),
            tls: false,
            sni: None,
            code: 0,
        }
    }

    #[test]
    fn numbers_in_arrival_order_and_keeps_the_newest() {
        let r = Requests::default();
        for i in 0..RECORD_LIMIT + 2 {
            r.push(record(&format!("/{i}")));
        }
        r.answered(3, 404);
        r.answered(0, 500);
        let all = r.all();
        assert_eq!(all.len(), RECORD_LIMIT);
        assert_eq!(all[1].code, 404);
        assert_eq!(all[0].seq, 2);
        assert_eq!(all[0].path, "/2");
        assert_eq!(r.count(), RECORD_LIMIT as u64 + 2);
    }
}
