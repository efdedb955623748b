//! `creditrisk bench overview`: the console's overview page over a store of N enterprises with
//! a stored whole-population run, timed over HTTP like a browser asks for it.
//!
//! The store is the one `bench classify` makes (same population, same marker file, so a kept
//! `--data-dir` serves both). If it has no finished whole-population run with a stored tier
//! mix, one is made first (timed and printed, not part of the page figures). Then the console
//! is served on 127.0.0.1:0 in this process, a planner logs in through the login form, and
//! `/overview` is fetched `requests` times, each on a fresh connection (connect, request, whole
//! answer read): min, median and max are printed. The page must answer 200 and show the run's
//! total, or the benchmark fails.

use super::bench::population_store;
use crate::access::NewToken;
use crate::audit::access::Role;
use anyhow::{bail, Context};
use std::net::SocketAddr;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Most requests timed in one benchmark.
pub const MAX_REQUESTS: usize = 1000;

/// One HTTP/1.1 exchange on a fresh connection: (status, set-cookie values, body).
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookies: &str,
    body: &str,
) -> anyhow::Result<(u16, Vec<String>, String)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n");
    if !cookies.is_empty() {
        req.push_str(&format!("Cookie: {cookies}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let text = String::from_utf8(raw).context("the answer is not UTF-8")?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("the answer has no header end")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .context("the answer has no status")?;
    let cookies = lines
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.split(';').next().map(str::to_string))
        .collect();
    Ok((status, cookies, body.to_string()))
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_field(body: &str) -> Option<&str> {
    let at = body.find("name=\"csrf\" value=\"")? + 19;
    let rest = &body[at..];
    Some(&rest[..rest.find('"')?])
}

/// Runs the benchmark; see the module doc.
pub async fn overview(
    entities: usize,
    seed: u64,
    keep: Option<std::path::PathBuf>,
    requests: usize,
) -> anyhow::Result<()> {
    if requests == 0 || requests > MAX_REQUESTS {
        bail!("--requests `{requests}` is out of range: 1 to {MAX_REQUESTS}");
    }
    let dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("creditrisk-bench-overview-{}", std::process::id()))
    });
    let (app, stopper, loaded) = population_store(&dir, keep.is_some(), entities, seed).await?;
    if let Some((gen_s, load_s, ne, nv)) = loaded {
        println!(
            "generated {ne} enterprises, {nv} events in {gen_s:.1} s; loaded in {load_s:.1} s"
        );
    }
    // A finished whole-population run with its stored mix, made now if there is none (looked
    // for directly: `tier_report` would fall back to a scan of every enterprise).
    let c = app.classifier().clone();
    let has_run = tokio::task::spawn_blocking(move || -> crate::Result<bool> {
        for r in c.runs()? {
            if r.jurisdiction.is_none()
                && r.finished
                && crate::classify::report::stored_mix(&c, r.id)?.is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    })
    .await??;
    if !has_run {
        let (records, writer) = (app.records().clone(), app.writer().clone());
        let c = app.classifier().clone();
        let (run, secs) = tokio::task::spawn_blocking(move || -> crate::Result<_> {
            let t = Instant::now();
            crate::storage::segments::compact(&records, &writer)?;
            let run = c.start_run(None, crate::demo::demo_as_of(), crate::clock::now_ms())?;
            let run = c.execute_run(run, &mut |_| {})?;
            Ok((run, t.elapsed().as_secs_f64()))
        })
        .await??;
        println!(
            "made the whole-population run {} ({} enterprises) in {secs:.1} s",
            run.id, run.done
        );
    }
    let c = app.classifier().clone();
    let report = tokio::task::spawn_blocking(move || c.tier_report(None)).await??;
    let Some(run) = report.run.clone() else {
        bail!("no finished whole-population run with a stored tier mix after running one");
    };
    let total = report.mix.total();
    // A planner token and the console on a free local port.
    let now = crate::clock::now_ms();
    let new = NewToken {
        id: format!("bench-overview-{now}"),
        role: Role::Planner,
        subject: "bench".into(),
        expires_unix_ms: Some(now + 3_600_000),
    };
    let token = app.tokens().issue(&new, "bench", now).await?.0.token;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let router = crate::web::router(app.clone(), crate::web::Options::default());
    let server = tokio::spawn(crate::web::serve(listener, router, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    // Log in through the form, as a browser does.
    let (_, login_cookies, page) = http(addr, "GET", "/login", "", "").await?;
    let csrf = csrf_field(&page).context("the login page has no csrf field")?;
    let (status, cookies, _) = http(
        addr,
        "POST",
        "/login",
        &login_cookies.join("; "),
        &format!("csrf={csrf}&token={token}"),
    )
    .await?;
    let session = cookies
        .into_iter()
        .find(|c| c.starts_with(crate::web::SESSION_COOKIE))
        .with_context(|| format!("login failed with status {status}"))?;
    let mut times = Vec::with_capacity(requests);
    let mut bytes = 0;
    for _ in 0..requests {
        let t = Instant::now();
        let (status, _, body) = http(addr, "GET", "/overview", &session, "").await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if status != 200 || !body.contains(&format!(": {total}</p>")) {
            bail!("the overview answered {status} without the run's total {total}");
        }
        bytes = body.len();
    }
    let _ = stop_tx.send(true);
    server.await??;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "overview over {total} enterprises (run {}, as of {}), {requests} requests over HTTP, \
         each on a new connection, page {bytes} bytes",
        run.id, run.as_of
    );
    println!(
        "  min {:.1} ms, median {median:.1} ms, max {:.1} ms",
        times[0],
        times[times.len() - 1]
    );
    drop(app);
    tokio::task::spawn_blocking(move || stopper.close()).await?;
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
