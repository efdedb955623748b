//! The web console: server-rendered pages for planners, inspectors, auditors and the public,
//! served by the same binary on a second port (`web_listen`; see `docs/web.md`).
//!
//! Why server-rendered HTML (axum + maud): no build step, no JavaScript, no CDN; the pages work
//! offline and on a phone, and maud escapes every interpolated value by default, so a name
//! like `<script>` is shown as text. Charts are inline SVG with the numbers beside them.
//!
//! # No second authorization path
//!
//! A browser logs in by exchanging an access token (`cr_<id>_<secret>`) for a session
//! ([`session`]). Every page names the gRPC method whose permission it needs; each request
//! re-authenticates the session's token with [`crate::server::auth::identify`] (what the gRPC
//! access layer runs) and then calls [`crate::audit::access::authorize`] with that method, so
//! the role table in the README holds for the console too. The only pages without login are
//! the login page itself and the public result page of a draw (公示), which shows what the
//! draw service publishes: published results, the seed and the bundle.
//!
//! Pages call the same operations as the gRPC handlers ([`crate::app::App`],
//! [`crate::drawsvc::Draws`], [`crate::classify::Classifier::tier_report`]); storage reads go to
//! the blocking pool like theirs do.

pub mod audit;
pub mod enterprise;
pub mod overview;
pub mod pages;
pub mod review;
pub mod rules;
pub mod session;
pub mod tls;
pub mod warnings;

use crate::app::App;
use crate::audit::access::{authorize, Principal};
use crate::audit::AuthError;
use crate::domain::names::Lang;
use crate::error::Error;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use session::{LoginLimiter, Session, Sessions};
use std::future::Future;
use std::net::SocketAddr;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "cr_session";
/// Name of the cookie holding the login form's CSRF token (before there is a session).
pub const LOGIN_COOKIE: &str = "cr_login";
/// Name of the cookie holding the chosen language.
pub const LANG_COOKIE: &str = "cr_lang";
/// Largest form body accepted, in bytes.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// How the console is served.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Mark cookies `Secure` (set when the console speaks HTTPS: see [`serve_tls`]).
    pub secure_cookies: bool,
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct Web {
    app: App,
    sessions: Sessions,
    limiter: LoginLimiter,
    options: Options,
    /// One simulation at a time from the console (see [`review`]).
    simulations: std::sync::Arc<tokio::sync::Semaphore>,
}

/// The console's routes over `app`. The `/metrics` endpoint (issue 13) is merged here too.
pub fn router(app: App, options: Options) -> Router {
    // `/metrics` takes no login (Prometheus scrapes it): see docs/metrics.md.
    let metrics = crate::metrics::router(app.clone());
    let web = Web {
        app,
        sessions: Sessions::default(),
        limiter: LoginLimiter::default(),
        options,
        simulations: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
    };
    Router::new()
        .route("/", get(|| async { see_other("/overview") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/overview", get(overview::overview))
        .route("/draws", get(pages::draws))
        .route("/draws/{id}", get(pages::draw))
        .route("/public/draws/{id}", get(pages::public_draw))
        .route("/public/draws/{id}/bundle.json", get(pages::public_bundle))
        .route("/inspector", get(pages::inspector))
        .route("/inspector/results", post(pages::record_result))
        .route("/enterprises/{code}", get(enterprise::enterprise))
        .route("/warnings", get(warnings::board))
        .route("/warnings/{id}", get(warnings::alert))
        .route("/warnings/{id}/{op}", post(warnings::change))
        .route("/audit", get(audit::audit))
        .route("/rules", get(rules::rules))
        .route("/rules/diff", get(review::diff_page))
        .route(
            "/rules/simulate",
            get(review::simulate_page).post(review::simulate),
        )
        .fallback(not_found)
        .with_state(web)
        .merge(metrics)
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Serves `router` over HTTPS on `listener` with `config` (see [`tls`]) until `shutdown`
/// resolves, then lets requests in flight finish. Build the router with
/// [`Options::secure_cookies`] set.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    config: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // `tap_io` with nothing to do: axum gives the peer address (ConnectInfo, which the login
    // rate limit reads) for any listener wrapped this way.
    let listener = tls::TlsListener::new(listener, config)?.tap_io(|_| {});
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// One request's view of who asks and in which language.
pub struct Ctx {
    web: Web,
    /// Language of the page.
    pub lang: Lang,
    /// Set when `?lang=` chose the language: the answer stores it in a cookie.
    lang_chosen: bool,
    /// The session id and session, if the browser has a live one.
    session: Option<(String, Session)>,
    /// Path of the request (for the language switch and the return after login).
    path: String,
    /// The query without `lang`, percent-encoded again (kept by the language switch).
    query: String,
}

impl Ctx {
    fn new(web: &Web, headers: &HeaderMap, uri: &Uri) -> Ctx {
        let cookies = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let query = session::parse_form(uri.query().unwrap_or(""));
        let asked = query
            .iter()
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| Lang::parse(v).ok());
        let lang = asked
            .or_else(|| session::cookie(cookies, LANG_COOKIE).and_then(|v| Lang::parse(v).ok()))
            .unwrap_or_default();
        let now = crate::clock::now_ms();
        let session = session::cookie(cookies, SESSION_COOKIE)
            .and_then(|id| web.sessions.get(id, now).map(|s| (id.to_string(), s)));
        Ctx {
            web: web.clone(),
            lang,
            lang_chosen: asked.is_some(),
            session,
            path: uri.path().to_string(),
            query: query
                .iter()
                .filter(|(k, _)| k != "lang")
                .map(|(k, v)| format!("{}={}&", pct(k), pct(v)))
                .collect(),
        }
    }

    /// The text of this page's language.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(zh, en)
    }

    /// The application.
    pub fn app(&self) -> &App {
        &self.web.app
    }

    /// The caller, allowed to call gRPC `method` (full path). Without a live session: a
    /// redirect to the login page; with a token no longer valid: the same, session ended; with
    /// a role the policy does not allow: the refusal page (403).
    // The error is the finished page a handler returns as is; made once per refused request.
    #[allow(clippy::result_large_err)]
    pub fn authorize(&self, method: &str) -> Result<Principal, Response> {
        let Some((id, s)) = &self.session else {
            let next = pct(&self.path);
            return Err(see_other(&format!("/login?next={next}")));
        };
        let header = format!("Bearer {}", s.token);
        let p = match crate::server::auth::identify(
            self.web.app.tokens(),
            Some(&header),
            crate::clock::now_ms(),
        ) {
            Ok(p) => p,
            Err(Error::Access(_)) => {
                // Revoked or expired since the login: the session ends with it.
                self.web.sessions.remove(id);
                let mut r = see_other("/login");
                self.set_cookie(
                    &mut r,
                    &format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"),
                );
                return Err(r);
            }
            Err(e) => return Err(self.error(e)),
        };
        match authorize(&p, method) {
            Ok(()) => Ok(p),
            Err(_) => Err(self.refusal(&p, method)),
        }
    }

    /// Whether `p` may call `method` (for optional parts of a page).
    pub fn may(&self, p: &Principal, method: &str) -> bool {
        authorize(p, method).is_ok()
    }

    /// The session's CSRF token, for the hidden field of a form.
    pub fn csrf(&self) -> Option<String> {
        self.session.as_ref().map(|(_, s)| s.csrf.clone())
    }

    /// Reads a posted form (bounded to 64 KiB) and checks its CSRF token: the start of every
    /// form handler.
    // The error is the finished page a handler returns as is; made once per refused request.
    #[allow(clippy::result_large_err)]
    pub async fn posted_form(
        &self,
        body: axum::body::Body,
    ) -> Result<Vec<(String, String)>, Response> {
        let form = read_form(body).await.map_err(|s| s.into_response())?;
        self.check_csrf(&form)?;
        Ok(form)
    }

    /// Checks a posted form's CSRF token against the session's.
    #[allow(clippy::result_large_err)]
    pub fn check_csrf(&self, form: &[(String, String)]) -> Result<(), Response> {
        let sent = field(form, "csrf");
        match &self.session {
            Some((_, s)) if session::same(sent, &s.csrf) => Ok(()),
            _ => Err(self.csrf_refusal()),
        }
    }

    fn csrf_refusal(&self) -> Response {
        self.page_with(
            StatusCode::FORBIDDEN,
            self.t("请求被拒绝", "Request refused"),
            None,
            html! {
                h1 { (self.t("请求被拒绝", "Request refused")) }
                p role="alert" { (self.t(
                    "表单缺少有效的 CSRF 令牌（防跨站请求伪造），未做任何更改。请重新打开页面后再提交。",
                    "the form lacks a valid CSRF token (cross-site request forgery protection); nothing was changed: reload the page and submit again")) }
            },
        )
    }

    /// The 403 page for role `p.role` and `method`, naming what the role may not do.
    pub fn refusal(&self, p: &Principal, method: &str) -> Response {
        let what = pages::method_words(method, self.lang);
        let name = method.rsplit('/').next().unwrap_or(method);
        self.page_with(
            StatusCode::FORBIDDEN,
            self.t("无权访问", "Not allowed"),
            Some(p),
            html! {
                h1 { (self.t("无权访问", "Not allowed")) }
                p role="alert" {
                    (self.t("角色 ", "The role ")) code { (p.role.as_str()) }
                    (self.t(" 无权", " may not ")) (what)
                    " (" code { (name) } ")."
                }
                p { (self.t("访问权限与 gRPC 接口相同，见 README 的角色表。",
                    "Access is the same as over gRPC: see the role table in the README.")) }
            },
        )
    }

    /// An error of an operation as a page: 404, 400 or 500 with the error's message.
    pub fn error(&self, e: Error) -> Response {
        let status = match &e {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::InvalidInput(_) | Error::Conflict(_) | Error::FailedPrecondition(_) => {
                StatusCode::BAD_REQUEST
            }
            Error::Access(a) if a.is_denial() => StatusCode::FORBIDDEN,
            Error::Access(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "web page failed");
        }
        let title = self.t("出错了", "Something went wrong");
        self.page_with(
            status,
            title,
            None,
            html! { h1 { (title) } p role="alert" { (e.to_string()) } },
        )
    }

    /// A full page (status 200) for `who`.
    pub fn page(&self, title: &str, who: Option<&Principal>, body: Markup) -> Response {
        self.page_with(StatusCode::OK, title, who, body)
    }

    /// A full page with `status`: the layout, the navigation for `who`, and `body`.
    pub fn page_with(
        &self,
        status: StatusCode,
        title: &str,
        who: Option<&Principal>,
        body: Markup,
    ) -> Response {
        let other = match self.lang {
            Lang::Zh => ("en", "English"),
            Lang::En => ("zh", "中文"),
        };
        let csrf = self.session.as_ref().map(|(_, s)| s.csrf.as_str());
        let markup = html! {
            (DOCTYPE)
            html lang=(self.lang.pick("zh-CN", "en")) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (self.t("信用风险分级监管", "Credit-risk supervision")) }
                    style { (maud::PreEscaped(CSS)) }
                }
                body {
                    header {
                        nav aria-label=(self.t("主导航", "Main")) {
                            ul {
                                @if let Some(p) = who {
                                    @if self.may(p, pages::REPORT_TIERS) {
                                        li { a href="/overview" { (self.t("总览", "Overview")) } }
                                    }
                                    @if self.may(p, pages::LIST_DRAWS) {
                                        li { a href="/draws" { (self.t("抽查", "Draws")) } }
                                    }
                                    @if self.may(p, pages::LIST_ASSIGNMENTS) {
                                        li { a href="/inspector" { (self.t("我的检查任务", "My assignments")) } }
                                    }
                                    @if self.may(p, warnings::LIST_ALERTS) {
                                        li { a href="/warnings" { (self.t("预警", "Warnings")) } }
                                    }
                                    @if self.may(p, rules::LIST_RULE_SETS) {
                                        li { a href="/rules" { (self.t("规则", "Rules")) } }
                                    }
                                    @if self.may(p, audit::GET_SIGNED_HEAD) {
                                        li { a href="/audit" { (self.t("审计", "Audit")) } }
                                    }
                                }
                                li { a href={ (self.path) "?" (self.query) "lang=" (other.0) } lang=(other.0) { (other.1) } }
                                @if let (Some(p), Some(csrf)) = (who, csrf) {
                                    li {
                                        form method="post" action="/logout" class="inline" {
                                            input type="hidden" name="csrf" value=(csrf);
                                            span { code { (p.token_id) } " (" (p.role.as_str()) ") " }
                                            button type="submit" { (self.t("退出", "Log out")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    main { (body) }
                }
            }
        };
        let mut r = (status, markup.into_string()).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        secure_headers(h);
        if self.lang_chosen {
            self.set_cookie(
                &mut r,
                &format!(
                    "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Strict",
                    self.lang.as_str()
                ),
            );
        }
        r
    }

    fn set_cookie(&self, r: &mut Response, cookie: &str) {
        let secure = if self.web.options.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        if let Ok(v) = HeaderValue::from_str(&format!("{cookie}{secure}")) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

const CSS: &str = "\
body{font-family:system-ui,'PingFang SC','Noto Sans CJK SC',sans-serif;margin:0;color:#1b1f24;background:#fff;line-height:1.5}\
header{background:#0b3d91;color:#fff;padding:.5rem 1rem}header a,header code{color:#fff}\
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}\
main{padding:1rem;max-width:60rem}\
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #8c959f;padding:.25rem .5rem;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
a{color:#0550ae}form.inline{display:inline}\
label{display:block;margin:.5rem 0 .25rem}input,button{font-size:1rem;padding:.4rem}\
fieldset{margin:.5rem 0;border:1px solid #8c959f}fieldset label{display:flex;gap:.5rem;align-items:flex-start}\
.card{border:1px solid #8c959f;border-radius:4px;padding:.75rem;margin:.75rem 0}\
.ok{color:#116329}.err{color:#a40e26}pre{background:#f6f8fa;padding:.5rem;overflow-x:auto}\
.legend span{display:inline-block;width:.9rem;height:.9rem;margin:0 .25rem 0 .75rem;vertical-align:middle}\
.chart{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}td.pct,td.same{text-align:right;font-variant-numeric:tabular-nums}td.same{background:#f6f8fa}\
select{font-size:1rem;padding:.3rem;max-width:100%}\
@media (max-width:480px){main{padding:.5rem}table{font-size:.9rem}}";

/// Headers every page carries: no scripts at all, no framing, no sniffing.
fn secure_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A 303 redirect to `to`.
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The first value of `name` in a parsed form, or `""`.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// A request's context (language, session) for handlers in [`pages`].
pub fn ctx(web: &Web, headers: &HeaderMap, uri: &Uri) -> Ctx {
    Ctx::new(web, headers, uri)
}

/// Reads a form body (at most 64 KiB).
pub async fn read_form(body: axum::body::Body) -> Result<Vec<(String, String)>, StatusCode> {
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| StatusCode::BAD_REQUEST)?;
    Ok(session::parse_form(text))
}

async fn not_found(State(web): State<Web>, headers: HeaderMap, uri: Uri) -> Response {
    let c = Ctx::new(&web, &headers, &uri);
    c.error(Error::NotFound(format!("page `{}`", uri.path())))
}

fn login_form(c: &Ctx, csrf: &str, next: &str, message: Option<&str>) -> Markup {
    html! {
        h1 { (c.t("登录", "Log in")) }
        @if let Some(m) = message { p.err role="alert" { (m) } }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="next" value=(next);
            label for="token" { (c.t("访问令牌（cr_…）", "Access token (cr_…)")) }
            input id="token" name="token" type="password" autocomplete="current-password" required size="60";
            p { button type="submit" { (c.t("登录", "Log in")) } }
        }
        p { (c.t("令牌由管理员签发（creditrisk token issue）；演示模式的令牌在数据目录的 demo-tokens.env 中。",
                 "Tokens are issued by an admin (creditrisk token issue); demo tokens are in demo-tokens.env in the data folder.")) }
    }
}

fn login_response(c: &Ctx, status: StatusCode, next: &str, message: Option<&str>) -> Response {
    let csrf = match session::random_hex(32) {
        Ok(t) => t,
        Err(e) => return c.error(e),
    };
    let mut r = c.page_with(
        status,
        c.t("登录", "Log in"),
        None,
        login_form(c, &csrf, next, message),
    );
    c.set_cookie(
        &mut r,
        &format!("{LOGIN_COOKIE}={csrf}; Path=/login; Max-Age=3600; HttpOnly; SameSite=Strict"),
    );
    r
}

async fn login_page(State(web): State<Web>, headers: HeaderMap, uri: Uri) -> Response {
    let c = Ctx::new(&web, &headers, &uri);
    let query = session::parse_form(uri.query().unwrap_or(""));
    login_response(&c, StatusCode::OK, field(&query, "next"), None)
}

/// Where to go after login: `next` if it is a local path, else the role's first page.
fn landing(next: &str, p: &Principal) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else if authorize(p, pages::LIST_ASSIGNMENTS).is_ok() {
        "/inspector".into()
    } else {
        "/overview".into()
    }
}

async fn login(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Body,
) -> Response {
    let c = Ctx::new(&web, &headers, &uri);
    let form = match read_form(body).await {
        Ok(f) => f,
        Err(s) => return s.into_response(),
    };
    let cookies = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = session::cookie(cookies, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !session::same(field(&form, "csrf"), expected) {
        return c.csrf_refusal();
    }
    let next = field(&form, "next");
    let now = crate::clock::now_ms();
    let ip = peer.ip();
    if web.limiter.is_limited(ip, now) {
        tracing::info!(%ip, "login refused: too many failures");
        return login_response(
            &c,
            StatusCode::TOO_MANY_REQUESTS,
            next,
            Some(c.t(
                "登录失败次数过多，请一分钟后再试。",
                "too many failed logins from this address: try again in a minute",
            )),
        );
    }
    let token = field(&form, "token").trim();
    let header = format!("Bearer {token}");
    match crate::server::auth::identify(web.app.tokens(), Some(&header), now) {
        Ok(p) => {
            if let Some((old, _)) = &c.session {
                web.sessions.remove(old);
            }
            let (id, _) = match web.sessions.create(token.to_string(), now) {
                Ok(x) => x,
                Err(e) => return c.error(e),
            };
            tracing::info!(caller = %p.token_id, "web login");
            let mut r = see_other(&landing(next, &p));
            c.set_cookie(
                &mut r,
                &format!(
                    "{SESSION_COOKIE}={id}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict",
                    session::SESSION_MS / 1000
                ),
            );
            c.set_cookie(
                &mut r,
                &format!("{LOGIN_COOKIE}=; Path=/login; Max-Age=0; HttpOnly; SameSite=Strict"),
            );
            r
        }
        Err(Error::Access(e)) => {
            web.limiter.failed(ip, now);
            tracing::info!(%ip, reason = %e, "web login refused");
            let msg = match e {
                AuthError::Expired | AuthError::Revoked => e.to_string(),
                _ => c
                    .t("令牌无效，未能登录。", "the token was not accepted")
                    .to_string(),
            };
            login_response(&c, StatusCode::UNAUTHORIZED, next, Some(&msg))
        }
        Err(e) => c.error(e),
    }
}

async fn logout(
    State(web): State<Web>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Body,
) -> Response {
    let c = Ctx::new(&web, &headers, &uri);
    if let Err(r) = c.posted_form(body).await {
        return r;
    }
    if let Some((id, _)) = &c.session {
        web.sessions.remove(id);
    }
    let mut r = see_other("/login");
    c.set_cookie(
        &mut r,
        &format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"),
    );
    r
}
