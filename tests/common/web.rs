//! The web console's test harness: a gRPC server and the console over one store on
//! 127.0.0.1:0, and a minimal browser (a cookie jar and HTTP/1.1 over a TCP stream), shared by
//! tests/web.rs and tests/web_pages.rs.

use super::{issue, Role};
use creditrisk::app::App;
use creditrisk::server::{self, Limits};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A gRPC server and the web console over the same store, with a token per role.
pub struct Servers {
    pub url: String,
    pub web: SocketAddr,
    pub tokens: BTreeMap<Role, String>,
    pub store: creditrisk::access::Tokens,
    pub _dir: tempfile::TempDir,
    pub shutdown: tokio::sync::watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Servers {
    pub async fn start() -> Servers {
        let dir = tempfile::tempdir().unwrap();
        let (mut app, stopper) = App::open(dir.path(), 64).unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        app.classifier()
            .rule_sets()
            .ensure_default(&root.join("rules/default"), 0)
            .await
            .unwrap();
        app.enable_draws(&root.join("rules")).unwrap();
        app.enable_auto_reclassify();
        let store = app.tokens().clone();
        let mut tokens = BTreeMap::new();
        for role in Role::ALL {
            let subject = if role == Role::Inspector {
                super::INSPECTOR
            } else {
                "test"
            };
            let t = issue(&store, role, subject, None, creditrisk::clock::now_ms()).await;
            tokens.insert(role, t);
        }
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let web_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", grpc.local_addr().unwrap());
        let web = web_l.local_addr().unwrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut rx = rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let router = creditrisk::web::router(app.clone(), creditrisk::web::Options::default());
        let task = tokio::spawn(async move {
            let w = tokio::spawn(creditrisk::web::serve(web_l, router, stopped()));
            server::serve_with(grpc, app, Limits::default(), None, stopped())
                .await
                .unwrap();
            w.await.unwrap().unwrap();
            tokio::task::spawn_blocking(move || stopper.close())
                .await
                .unwrap();
        });
        Servers {
            url,
            web,
            tokens,
            store,
            _dir: dir,
            shutdown: tx,
            task,
        }
    }

    pub async fn channel(&self, token: &str) -> creditrisk::cli::client::AuthChannel {
        super::channel(&self.url, token).await
    }

    pub async fn as_role(&self, role: Role) -> creditrisk::cli::client::AuthChannel {
        self.channel(&self.tokens[&role]).await
    }

    /// Both listeners stop on one signal and the store closes.
    pub async fn stop(self) {
        self.shutdown.send(true).unwrap();
        self.task.await.unwrap();
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field: {}", self.body));
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

/// A browser: a cookie jar and HTTP/1.1 over a fresh connection per request.
pub struct Browser {
    pub addr: SocketAddr,
    pub cookies: BTreeMap<String, String>,
}

pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Browser {
        Browser {
            addr,
            cookies: BTreeMap::new(),
        }
    }

    pub async fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> Resp {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: console\r\nConnection: close\r\n");
        if !cookie.is_empty() {
            req.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(body.unwrap_or(""));
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in &headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let pair = v.split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                if v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.into(), value.into());
                }
            }
        }
        Resp {
            status,
            headers,
            body: body.to_string(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.request("GET", path, None).await
    }

    pub async fn post(&mut self, path: &str, body: &str) -> Resp {
        self.request("POST", path, Some(body)).await
    }

    /// Logs in with `token` through the login form; the answer to the form's POST.
    pub async fn login(&mut self, token: &str) -> Resp {
        let page = self.get("/login").await;
        assert_eq!(page.status, 200, "{page:?}");
        let csrf = page.csrf();
        self.post("/login", &form(&[("csrf", &csrf), ("token", token)]))
            .await
    }
}

/// The numbers (cells of class `n`) of the table row with id `id`.
pub fn row_numbers(body: &str, id: &str) -> Vec<u64> {
    let at = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no row `{id}`"));
    let row = &body[at..at + body[at..].find("</tr>").unwrap()];
    row.split("<td class=\"n")
        .skip(1)
        .map(|c| {
            let c = &c[c.find('>').unwrap() + 1..];
            c[..c.find('<').unwrap()].parse().unwrap()
        })
        .collect()
}
