//! A tiny scripted HTTP/1.1 server on 127.0.0.1:0: each test decides every response byte.
//!
//! One request per connection (`Connection: close`), so dropped connections and truncated bodies
//! are easy to script. It records every request and measures peak concurrency per mailbox.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Lower-cased header names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    pub fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn is_token(&self) -> bool {
        self.path().ends_with("/oauth2/v2.0/token")
    }
    /// The form fields of a token request.
    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
    /// The mailbox segment after `/mailboxes/`, percent-decoded, if any.
    pub fn mailbox(&self) -> Option<String> {
        let mut it = self.path().split('/');
        while let Some(s) = it.next() {
            if s.eq_ignore_ascii_case("mailboxes") {
                return it.next().map(|m| {
                    percent_encoding::percent_decode_str(m)
                        .decode_utf8_lossy()
                        .into_owned()
                });
            }
        }
        None
    }
}

/// What the server does with a request.
#[derive(Clone, Debug)]
pub enum Action {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Close the connection without answering.
    Drop,
    /// Announce `declared` bytes of body, send `body` (shorter), close.
    Truncate {
        status: u16,
        declared: usize,
        body: Vec<u8>,
    },
    /// No Content-Length: the body ends when the connection closes.
    CloseDelimited { status: u16, body: Vec<u8> },
    /// Wait, then act.
    Delay(Duration, Box<Action>),
}

pub fn json(status: u16, v: serde_json::Value) -> Action {
    Action::Respond {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: v.to_string().into_bytes(),
    }
}

pub fn with_header(a: Action, k: &str, v: &str) -> Action {
    match a {
        Action::Respond {
            status,
            mut headers,
            body,
        } => {
            headers.push((k.into(), v.into()));
            Action::Respond {
                status,
                headers,
                body,
            }
        }
        other => other,
    }
}

pub fn status(status: u16) -> Action {
    Action::Respond {
        status,
        headers: vec![],
        body: vec![],
    }
}

pub fn token(tok: &str, expires_in: u64) -> Action {
    json(
        200,
        serde_json::json!({"token_type":"Bearer","expires_in":expires_in,"ext_expires_in":expires_in,"access_token":tok}),
    )
}

type Handler = Arc<dyn Fn(&Recorded) -> Action + Send + Sync>;

pub struct Mock {
    pub addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    peaks: Arc<Mutex<HashMap<String, (usize, usize)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mock {
    pub async fn start(handler: impl Fn(&Recorded) -> Action + Send + Sync + 'static) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let peaks = Arc::new(Mutex::new(HashMap::new()));
        let handler: Handler = Arc::new(handler);
        let (r2, p2) = (requests.clone(), peaks.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (h, r, p) = (handler.clone(), r2.clone(), p2.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, h, r, p).await;
                });
            }
        });
        Mock {
            addr,
            requests,
            peaks,
            task,
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn graph_url(&self) -> String {
        format!("{}/beta", self.base())
    }
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
    /// Requests other than token requests.
    pub fn graph_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| !r.is_token())
            .collect()
    }
    pub fn token_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.is_token())
            .collect()
    }
    /// Peak number of requests in flight at once for a mailbox ("" = no mailbox in the path).
    pub fn peak(&self, mailbox: &str) -> usize {
        self.peaks
            .lock()
            .unwrap()
            .get(&mailbox.to_ascii_lowercase())
            .map(|p| p.1)
            .unwrap_or(0)
    }
}

async fn serve(
    mut sock: TcpStream,
    handler: Handler,
    requests: Arc<Mutex<Vec<Recorded>>>,
    peaks: Arc<Mutex<HashMap<String, (usize, usize)>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    let head_end = loop {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let target = first.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    let rec = Recorded {
        method,
        target,
        headers,
        body,
    };
    let key = if rec.is_token() {
        "token".to_owned()
    } else {
        rec.mailbox().unwrap_or_default().to_ascii_lowercase()
    };
    {
        let mut p = peaks.lock().unwrap();
        let e = p.entry(key.clone()).or_insert((0, 0));
        e.0 += 1;
        e.1 = e.1.max(e.0);
    }
    requests.lock().unwrap().push(rec.clone());
    let mut action = handler(&rec);
    let result = async {
        loop {
            match action {
                Action::Delay(d, next) => {
                    tokio::time::sleep(d).await;
                    action = *next;
                }
                Action::Drop => return Ok(()),
                Action::Respond {
                    status,
                    headers,
                    body,
                } => {
                    let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
                    for (k, v) in headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    sock.write_all(out.as_bytes()).await?;
                    sock.write_all(&body).await?;
                    sock.flush().await?;
                    return Ok::<(), std::io::Error>(());
                }
                Action::Truncate {
                    status,
                    declared,
                    body,
                } => {
                    let out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n");
                    sock.write_all(out.as_bytes()).await?;
                    sock.write_all(&body).await?;
                    sock.flush().await?;
                    return Ok(());
                }
                Action::CloseDelimited { status, body } => {
                    let out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n");
                    sock.write_all(out.as_bytes()).await?;
                    sock.write_all(&body).await?;
                    sock.flush().await?;
                    return Ok(());
                }
            }
        }
    }
    .await;
    {
        let mut p = peaks.lock().unwrap();
        if let Some(e) = p.get_mut(&key) {
            e.0 -= 1;
        }
    }
    let _ = sock.shutdown().await;
    result
}
