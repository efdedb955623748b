//! `creditrisk bench ingest`: durable bulk ingest throughput over gRPC, client and server on
//! this machine, with the server's peak memory.
//!
//! The server runs as a child process (this same binary, `serve`) on a fresh temporary data
//! directory, so its peak resident memory (VmHWM) is its own. Every event counted was
//! acknowledged, i.e. flushed to disk.

use super::client::{connect, explain, Target};
use crate::domain::CreditCode;
use crate::server::pb;
use crate::storage::Engine as _;
use anyhow::Context;
use std::io::BufRead;
use std::time::Instant;

/// A server child process that is terminated when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl ServerProcess {
    /// Starts this binary's `serve` on `127.0.0.1:0` over `data_dir` and waits until it listens.
    pub fn start(data_dir: &std::path::Path, extra: &[&str]) -> anyhow::Result<ServerProcess> {
        Self::start_exe(&std::env::current_exe()?, data_dir, extra)
    }

    /// Starts `exe serve` (the creditrisk binary at that path) like [`ServerProcess::start`].
    pub fn start_exe(
        exe: &std::path::Path,
        data_dir: &std::path::Path,
        extra: &[&str],
    ) -> anyhow::Result<ServerProcess> {
        let mut child = std::process::Command::new(exe)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("cannot start the server")?;
        let out = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("creditrisk listening on ")
            .with_context(|| format!("unexpected server output `{}`", line.trim()))?
            .to_string();
        Ok(ServerProcess {
            child,
            url: format!("http://{addr}"),
        })
    }

    /// The admin token the server wrote to `DATA_DIR/admin.token` on its first start.
    pub fn admin_token(data_dir: &std::path::Path) -> anyhow::Result<String> {
        let path = data_dir.join(crate::access::bootstrap::ADMIN_TOKEN_FILE);
        Ok(std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?
            .trim()
            .to_string())
    }

    /// A target for this server with a new token of `role` (id `id`, subject `subject`),
    /// issued with the admin token from `data_dir`.
    pub async fn target_as(
        &self,
        data_dir: &std::path::Path,
        id: &str,
        role: crate::audit::access::Role,
        subject: &str,
    ) -> anyhow::Result<Target> {
        let admin = Target::new(&self.url, Some(Self::admin_token(data_dir)?));
        let (token, _) = super::token::issue_token(&admin, id, role, subject, None).await?;
        Ok(Target::new(&self.url, Some(token)))
    }

    /// Peak resident memory of the server so far, in KiB (Linux).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Kills the server with SIGKILL (no chance to flush) and waits for it.
    pub fn kill9(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        Ok(self.child.wait()?)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A valid synthetic credit code for number `n`.
pub fn synthetic_code(n: u64) -> CreditCode {
    const A: &[u8; 31] = crate::domain::code::ALPHABET;
    let mut first = *b"91510104000000000";
    let mut x = n;
    for i in (8..17).rev() {
        first[i] = A[(x % 31) as usize];
        x /= 31;
    }
    // Every byte is from the alphabet, so a check character exists.
    CreditCode::with_check(&first).unwrap_or_else(|| unreachable!("alphabet bytes only"))
}

/// A synthetic enterprise for bench and tests.
pub fn synthetic_enterprise(n: u64) -> pb::Enterprise {
    pb::Enterprise {
        credit_code: synthetic_code(n).to_string(),
        name: format!("成都测试{n}有限公司"),
        kind: pb::EntityKind::Enterprise as i32,
        registering_authority: "510104".into(),
        jurisdiction: "510104".into(),
        industry: "F5211".into(),
        established: "2015-03-01".into(),
        registered_capital_yuan: 1_000_000,
        status: pb::EnterpriseStatus::Active as i32,
        legal_representative: format!("person-{}", n % 977),
        address: "成都市锦江区测试路1号".into(),
        ..Default::default()
    }
}

/// A synthetic event `i` of enterprise `n`.
pub fn synthetic_event(prefix: &str, i: u64, n: u64) -> pb::CreditEvent {
    use pb::credit_event::Body;
    let body = if i.is_multiple_of(3) {
        Body::Penalty(pb::Penalty {
            decision_number: format!("成锦市监罚〔2024〕{i}号"),
            amount_yuan: (i % 50) as i64 * 1000,
            severity: pb::PenaltySeverity::General as i32,
            kind: "fine".into(),
        })
    } else {
        Body::Complaint(pb::Complaint {
            verified: i.is_multiple_of(2),
        })
    };
    pb::CreditEvent {
        event_id: format!("{prefix}-{i}"),
        credit_code: synthetic_code(n).to_string(),
        effective_date: format!("2024-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
        source_department: "samr-chengdu".into(),
        body: Some(body),
        seq: 0,
    }
}

/// Runs the ingest benchmark on sled and prints its figures; with `postgres` (a server URL
/// whose database exists, e.g. `postgres://u:pw@127.0.0.1:5432/postgres`), runs it again on a
/// fresh database of that server (dropped afterwards) and prints those figures beside.
pub async fn ingest(
    events: u64,
    enterprises: u64,
    chunk: usize,
    postgres: Option<String>,
) -> anyhow::Result<()> {
    ingest_on(events, enterprises, chunk, None).await?;
    if let Some(raw) = postgres {
        let server =
            crate::storage::PgUrl::parse(&raw).map_err(|e| anyhow::anyhow!("--postgres: {e}"))?;
        let db = crate::storage::postgres::TestDatabase::create(&server, "bench")?;
        let (base, _) = raw
            .split_once('?')
            .map_or((raw.as_str(), ""), |(b, q)| (b, q));
        let (head, _) = base
            .rsplit_once('/')
            .context("--postgres: a URL ending in `/DATABASE`")?;
        let url = format!("{head}/{}", db.name());
        ingest_on(events, enterprises, chunk, Some((url, db.url().clone()))).await?;
    }
    Ok(())
}

/// One ingest run: on sled in a temporary folder, or on the PostgreSQL database given as
/// (URL as written, parsed).
async fn ingest_on(
    events: u64,
    enterprises: u64,
    chunk: usize,
    postgres: Option<(String, crate::storage::PgUrl)>,
) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("creditrisk-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let storage: Vec<&str> = match &postgres {
        Some((raw, _)) => vec!["--storage", raw],
        None => vec![],
    };
    let server = ServerProcess::start(&dir, &storage)?;
    // Admins cannot ingest: the benchmark issues itself an ingest token.
    let target = server
        .target_as(
            &dir,
            "bench-ingest",
            crate::audit::access::Role::Ingest,
            "bench",
        )
        .await?;
    let mut client = connect(&target).await?;
    for start in (0..enterprises).step_by(5000) {
        let recs = (start..(start + 5000).min(enterprises))
            .map(synthetic_enterprise)
            .collect();
        client
            .upsert_enterprises(pb::UpsertEnterprisesRequest { records: recs })
            .await
            .map_err(explain)?;
    }
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let chunks = events.div_ceil(chunk as u64);
    let started = Instant::now();
    let producer = tokio::spawn(async move {
        for c in 0..chunks {
            let lo = c * chunk as u64;
            let hi = (lo + chunk as u64).min(events);
            let records = (lo..hi)
                .map(|i| synthetic_event("bench", i, i % enterprises))
                .collect();
            if tx.send(pb::AppendEventsRequest { records }).await.is_err() {
                break;
            }
        }
    });
    let mut stream = client
        .bulk_append_events(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map_err(explain)?
        .into_inner();
    let mut acked = 0u64;
    while let Some(ack) = stream.message().await.map_err(explain)? {
        anyhow::ensure!(
            ack.ok,
            "chunk {} rejected: {}",
            ack.chunk,
            ack.error_message
        );
        acked += ack.summary.map(|s| s.accepted as u64).unwrap_or(0);
    }
    producer.await?;
    let secs = started.elapsed().as_secs_f64();
    let rss = server.peak_rss_kib().unwrap_or(0);
    server.stop()?;
    let disk = match &postgres {
        Some((_, url)) => crate::storage::PgEngine::open(url)?
            .size_on_disk()?
            .unwrap_or(0),
        None => dir_size(&dir),
    };
    // Reopening reads the event-id index back into memory: time to listening, and memory then.
    let t = Instant::now();
    let reopened = ServerProcess::start(&dir, &storage)?;
    let reopen_s = t.elapsed().as_secs_f64();
    let reopen_rss = reopened.peak_rss_kib().unwrap_or(0);
    reopened.stop()?;
    let _ = std::fs::remove_dir_all(&dir);
    let engine = match &postgres {
        Some((_, url)) => format!("PostgreSQL {url}"),
        None => "sled".to_string(),
    };
    println!("durable bulk ingest over gRPC (client and server on this machine), on {engine}");
    println!("  events acknowledged : {acked}");
    println!("  enterprises         : {enterprises}");
    println!("  chunk size          : {chunk}");
    println!("  elapsed             : {secs:.2} s");
    println!(
        "  throughput          : {:.0} events/s",
        acked as f64 / secs
    );
    println!("  server peak RSS     : {:.1} MiB", rss as f64 / 1024.0);
    println!(
        "  data on disk        : {:.1} MiB{}",
        disk as f64 / 1024.0 / 1024.0,
        if postgres.is_some() {
            " (the whole database)"
        } else {
            ""
        }
    );
    println!(
        "  restart             : listening after {reopen_s:.2} s, peak RSS then {:.1} MiB",
        reopen_rss as f64 / 1024.0
    );
    Ok(())
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            total += if path.is_dir() {
                dir_size(&path)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            };
        }
    }
    total
}

/// Peak resident memory of this process, in MiB (Linux).
pub fn own_peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// `bench classify`: generates and loads a demo population in-process (durably, through the
/// writer), then times a full re-classification from storage (features, rules, storing results)
/// and a simulation of the same rule set as a candidate.
///
/// With `keep`, the store stays in that directory, and a later run over the same directory with
/// the same population skips generating and loading it (the marker file says what was loaded).
/// Which part of `bench classify` to time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Everything: run, replay, draw, simulation, reopen.
    All,
    /// Only the full re-classification and its replay.
    RunAndReplay,
    /// Only the simulation.
    Simulation,
    /// Only group warning signals from the store (after a run, if none finished).
    Groups,
}

pub async fn classify(
    entities: usize,
    seed: u64,
    keep: Option<std::path::PathBuf>,
    part: Part,
) -> anyhow::Result<()> {
    use crate::app::App;
    let dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("creditrisk-bench-classify-{}", std::process::id()))
    });
    let rules_dir = std::path::Path::new("rules/default");
    let (app, stopper, loaded) = population_store(&dir, keep.is_some(), entities, seed).await?;
    let (gen_s, load_s, ne, nv) = loaded.unwrap_or_default();
    // As `serve` does: the run evaluates the enterprise warning signals in each chunk's job.
    app.warnings()
        .ensure_default_rules(crate::clock::now_ms())
        .await?;
    // Event segments, as the server's background compaction keeps them (`storage::segments`).
    let (records, writer) = (app.records().clone(), app.writer().clone());
    let (compaction, compact_s) = tokio::task::spawn_blocking(move || -> crate::Result<_> {
        let t = Instant::now();
        let c = crate::storage::segments::compact(&records, &writer)?;
        Ok((c, t.elapsed().as_secs_f64()))
    })
    .await??;
    let as_of = crate::demo::demo_as_of();
    if part == Part::Simulation {
        let (sim, sim_s) = simulate(&app, rules_dir, as_of).await?;
        println!(
            "simulation over {} enterprises: {sim_s:.1} s ({} changed)",
            sim.enterprises, sim.changed
        );
        tokio::task::spawn_blocking(move || stopper.close()).await?;
        return Ok(());
    }
    if part == Part::Groups {
        groups_from_store(&app, as_of).await?;
        tokio::task::spawn_blocking(move || stopper.close()).await?;
        return Ok(());
    }
    let c = app.classifier().clone();
    let log_before = app.auditor().size()?;
    let alerts_before = app.warnings().open_numbers()?.len();
    let (run, class_s) = tokio::task::spawn_blocking(move || -> crate::Result<_> {
        let t = Instant::now();
        let run = c.start_run(None, as_of, crate::clock::now_ms())?;
        let run = c.execute_run(run, &mut |_| {})?;
        Ok((run, t.elapsed().as_secs_f64()))
    })
    .await??;
    let alerts = app.warnings().open_numbers()?.len() - alerts_before;
    // Replay of the run just made: every classification recomputed and checked against the log.
    let auditor = app.auditor();
    let log_after = auditor.size()?;
    let (replay, replay_s) = tokio::task::spawn_blocking(move || -> crate::Result<_> {
        let t = Instant::now();
        let p = auditor.replay_range(log_before, Some(log_after), None, None, &mut |_| true)?;
        Ok((p, t.elapsed().as_secs_f64()))
    })
    .await??;
    if part == Part::RunAndReplay {
        println!(
            "full re-classification of {} enterprises: {class_s:.1} s ({} tier changes, \
             {alerts} enterprise alerts raised)",
            run.done, run.changed
        );
        println!(
            "replay of that run: {replay_s:.1} s ({} matched, {} mismatched); peak RSS {:.0} MiB",
            replay.matched,
            replay.mismatched,
            own_peak_rss_mib()
        );
        tokio::task::spawn_blocking(move || stopper.close()).await?;
        return Ok(());
    }
    // A draw with teams over the whole population, from the store: snapshot, draw, store.
    let draws = app.draws()?.clone();
    let run_id = run.id;
    let items = std::fs::read_to_string("rules/items.toml")?;
    let items = crate::drawsvc::Draws::parse_items("rules/items.toml", &items)?;
    let (draw, snap_s, draw_s) = tokio::task::spawn_blocking(move || -> crate::Result<_> {
        draws.upsert_items(items)?;
        let cut = draws.records().next_seq()?.saturating_sub(1);
        let t = Instant::now();
        let snap = crate::drawsvc::snapshot::candidates(draws.records(), cut, as_of, as_of.year())?;
        let snap_s = t.elapsed().as_secs_f64();
        drop(snap);
        let spec = crate::drawsvc::DrawSpec {
            draw_id: Some(format!("bench-{run_id}")),
            item_id: "annual-report-2026".into(),
            seed: Some("bench seed".into()),
            as_of,
            inspection_date: as_of,
            departments: vec![],
            jurisdictions: vec![],
            overrides: Default::default(),
        };
        let t = Instant::now();
        let d = draws.create(&spec, "bench", crate::clock::now_ms())?;
        Ok((d, snap_s, t.elapsed().as_secs_f64()))
    })
    .await??;
    let (sim, sim_s) = simulate(&app, rules_dir, as_of).await?;
    let rss = own_peak_rss_mib();
    tokio::task::spawn_blocking(move || stopper.close()).await?;
    drop(app);
    // Reopening reads the event-id index back into memory (see `storage::event_ids`).
    let t = Instant::now();
    let (again, stopper) = App::open(&dir, 2048)?;
    let reopen_s = t.elapsed().as_secs_f64();
    tokio::task::spawn_blocking(move || stopper.close()).await?;
    drop(again);
    let disk = dir_size(&dir);
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let n = run.done.max(1) as f64;
    println!("classification benchmark ({entities} demo enterprises, as of {as_of})");
    println!("  generate            : {gen_s:.1} s ({ne} enterprises, {nv} events)");
    println!(
        "  durable load        : {load_s:.1} s ({:.0} records/s)",
        (ne + nv) as f64 / load_s
    );
    println!(
        "  compaction          : {compact_s:.1} s ({} of {} event segments written, {} events{})",
        compaction.segments,
        compaction.total,
        compaction.events,
        if compaction.first_build {
            ", first build"
        } else {
            ""
        }
    );
    println!("  full re-classification from storage (features, rules, durable results):");
    println!(
        "    elapsed           : {class_s:.1} s ({:.0} enterprises/s)",
        n / class_s
    );
    println!("    enterprise alerts : {alerts} raised by the run (warning signals in its jobs)");
    println!(
        "    tiers             : A {:.1}% B {:.1}% C {:.1}% D {:.1}%",
        100.0 * run.tiers[0] as f64 / n,
        100.0 * run.tiers[1] as f64 / n,
        100.0 * run.tiers[2] as f64 / n,
        100.0 * run.tiers[3] as f64 / n
    );
    println!("  simulation (candidate = same rules, nothing stored):");
    println!(
        "    elapsed           : {sim_s:.1} s, {} enterprises, {} changed",
        sim.enterprises, sim.changed
    );
    println!("  replay of that run (recompute, compare bytes, check log digest and inclusion):");
    println!(
        "    elapsed           : {replay_s:.1} s ({:.0} enterprises/s), {} matched, {} mismatched",
        replay.replayed as f64 / replay_s,
        replay.matched,
        replay.mismatched
    );
    println!("  draw with teams over the whole population, from the store (annual-report item):");
    println!(
        "    candidate snapshot: {snap_s:.1} s ({} candidates)",
        draw.record.total_candidates
    );
    println!(
        "    snapshot + draw + store: {draw_s:.1} s ({} selected, {} exclusions)",
        draw.record.selected.len(),
        draw.record.exclusions.len()
    );
    println!("  reopen of the store : {reopen_s:.1} s ({nv} event ids read back into memory)");
    println!("  peak RSS (whole process, data generation included): {rss:.0} MiB");
    println!(
        "  data on disk        : {:.0} MiB",
        disk as f64 / 1024.0 / 1024.0
    );
    Ok(())
}

/// Group warning signals from the store, as `EvaluateGroups` computes them: a whole run first
/// when none finished (the tier counts come from its stored mix), then three timed
/// evaluations (reading the window's facts, the tier counts, evaluating, storing the
/// firings), and the fact read alone.
async fn groups_from_store(
    app: &crate::app::App,
    as_of: crate::domain::Date,
) -> anyhow::Result<()> {
    let c = app.classifier().clone();
    if !c
        .runs()?
        .iter()
        .any(|r| r.finished && r.jurisdiction.is_none())
    {
        let t = Instant::now();
        let run = tokio::task::spawn_blocking(move || -> crate::Result<_> {
            let run = c.start_run(None, as_of, crate::clock::now_ms())?;
            c.execute_run(run, &mut |_| {})
        })
        .await??;
        println!(
            "whole run first (for the tier counts): {} enterprises, {:.1} s",
            run.done,
            t.elapsed().as_secs_f64()
        );
    }
    let w = app.warnings().clone();
    let (times, last, read_s, facts) = tokio::task::spawn_blocking(move || -> crate::Result<_> {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..3 {
            let t = Instant::now();
            let e = w.evaluate_groups(
                as_of,
                None,
                "bench",
                crate::clock::now_ms(),
                crate::clock::today(),
            )?;
            times.push(t.elapsed().as_secs_f64());
            last = Some(e);
        }
        let rules = w.rule_sets().applicable_blocking(as_of)?;
        let cut = w.records().next_seq()?.saturating_sub(1);
        let t = Instant::now();
        let facts = w
            .facts(as_of.add_days(-rules.window_days()), as_of, cut)?
            .len();
        Ok((times, last, t.elapsed().as_secs_f64(), facts))
    })
    .await??;
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let e = last.ok_or_else(|| anyhow::anyhow!("no evaluation ran"))?;
    println!(
        "group warning signals from the store as of {as_of}: median {:.2} s of {:?} \
         ({} facts in the window, read alone in {read_s:.2} s; {facts} facts; last run: {} raised, \
         {} updated, {} unchanged); peak RSS {:.0} MiB",
        sorted[1],
        times.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>(),
        e.facts,
        e.fired.raised.len(),
        e.fired.updated.len(),
        e.fired.unchanged.len(),
        own_peak_rss_mib()
    );
    Ok(())
}

/// Opens (or makes) a store in `dir` holding the demo population of `entities` enterprises
/// from `seed`, with draws enabled and the default rules stored. With `keep`, a store that
/// already holds this population (the marker file `bench-population` says which was loaded)
/// is reused; otherwise the folder is emptied and the population generated and loaded. The
/// third value is `Some((generate s, load s, enterprises, events))` when it was loaded now.
pub async fn population_store(
    dir: &std::path::Path,
    keep: bool,
    entities: usize,
    seed: u64,
) -> anyhow::Result<(
    crate::app::App,
    crate::app::Stopper,
    Option<(f64, f64, usize, usize)>,
)> {
    let marker = dir.join("bench-population");
    let population = format!("{entities} {seed}");
    let reuse = keep && std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == population);
    if !reuse {
        let _ = std::fs::remove_dir_all(dir);
    }
    let (mut app, stopper) = crate::app::App::open(dir, 2048)?;
    app.enable_draws(std::path::Path::new("rules"))?;
    app.classifier()
        .rule_sets()
        .ensure_default(
            std::path::Path::new("rules/default"),
            crate::clock::now_ms(),
        )
        .await?;
    if reuse {
        println!("reusing the population loaded in `{}`", dir.display());
        return Ok((app, stopper, None));
    }
    let loaded = load_population(&app, entities, seed).await?;
    std::fs::write(&marker, &population)?;
    Ok((app, stopper, Some(loaded)))
}

/// Generates the demo population and loads it durably through the writer: (generate seconds,
/// load seconds, enterprises, events).
async fn load_population(
    app: &crate::app::App,
    entities: usize,
    seed: u64,
) -> anyhow::Result<(f64, f64, usize, usize)> {
    let t = Instant::now();
    let data = crate::demo::generate(entities, seed);
    let gen_s = t.elapsed().as_secs_f64();
    let (ne, nv) = (data.enterprises.len(), data.events.len());
    let t = Instant::now();
    for c in data.enterprises.chunks(10_000) {
        app.upsert_enterprises(c.to_vec()).await?;
    }
    for c in data.inspectors.chunks(10_000) {
        app.upsert_inspectors(c.to_vec(), "bench").await?;
    }
    let mut pending = std::collections::VecDeque::new();
    for c in data.events.chunks(10_000) {
        pending.push_back(app.enqueue_events(c.to_vec()).await?);
        if pending.len() > 4 {
            if let Some(p) = pending.pop_front() {
                p.await?;
            }
        }
    }
    for p in pending {
        p.await?;
    }
    Ok((gen_s, t.elapsed().as_secs_f64(), ne, nv))
}

/// Times a simulation of the default rules (as a candidate) over every enterprise.
async fn simulate(
    app: &crate::app::App,
    rules_dir: &'static std::path::Path,
    as_of: crate::domain::Date,
) -> anyhow::Result<(crate::classify::Simulation, f64)> {
    let c = app.classifier().clone();
    Ok(tokio::task::spawn_blocking(move || -> crate::Result<_> {
        let candidate = crate::rules::RuleSet::load(rules_dir)
            .map_err(|e| crate::Error::Internal(format!("{} rule errors", e.len())))?;
        let t = Instant::now();
        let (sim, _) = c.simulate_blocking(None, &candidate, as_of, 100)?;
        Ok((sim, t.elapsed().as_secs_f64()))
    })
    .await??)
}

/// `creditrisk bench warnings`: group warning signals over the facts of `entities`
/// enterprises, with the demo population's rates.
///
/// The facts are the demo population's (20,000 enterprises, or fewer, with its injected
/// incidents) inside the longest window of the rules, repeated with fresh credit codes until
/// `entities` enterprises are covered, so every group has the demo's rates scaled up; the tier
/// counts are the demo's classification, scaled the same way. Only
/// [`crate::warn::WarningRuleSet::evaluate_groups`] is timed (three runs, the median printed).
pub fn warnings(entities: usize, seed: u64) -> anyhow::Result<()> {
    use crate::rules::{classify_tier, RuleSet};
    use crate::warn::{Fact, GroupTiers, Level, WarningRuleSet};
    use std::collections::BTreeMap;
    anyhow::ensure!(entities > 0, "--entities must be at least 1");
    let t0 = Instant::now();
    let base_n = entities.min(20_000);
    let data = crate::demo::generate(base_n, seed);
    let as_of = crate::demo::demo_as_of();
    let warnings = WarningRuleSet::built_in()
        .map_err(|e| anyhow::anyhow!("built-in warning rules: {:?}", e.first()))?;
    let rules = RuleSet::from_files(crate::rules::embedded::rule_set_files())
        .map_err(|e| anyhow::anyhow!("built-in rules: {:?}", e.first()))?;
    let vectors = crate::demo::features(&data, as_of);
    let tiers: Vec<_> = vectors
        .iter()
        .map(|v| classify_tier(rules.compiled(), v, as_of).0)
        .collect();
    let since = as_of.add_days(-warnings.window_days());
    let base: Vec<Fact> = crate::demo::warning_facts(&data)
        .into_iter()
        .filter(|f| f.date > since)
        .collect();
    let index: BTreeMap<CreditCode, u64> = data
        .enterprises
        .iter()
        .enumerate()
        .map(|(i, e)| (e.credit_code, i as u64))
        .collect();
    let copies = entities.div_ceil(base_n);
    let mut facts = Vec::with_capacity(base.len() * copies);
    for c in 0..copies as u64 {
        for f in &base {
            let i = index.get(&f.credit_code).copied().unwrap_or(0);
            let n = c * base_n as u64 + i;
            if n >= entities as u64 {
                continue;
            }
            let mut g = f.clone();
            g.credit_code = synthetic_code(n);
            g.seq = facts.len() as u64 + 1;
            facts.push(g);
        }
    }
    let mut group_tiers: GroupTiers = crate::demo::group_tiers(&data, &tiers);
    for t in group_tiers.values_mut() {
        for x in t.iter_mut() {
            *x *= copies as u64;
        }
    }
    let prep = t0.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let mut fired = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        fired = warnings.evaluate_groups(as_of, &facts, &group_tiers);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let mut by_level: BTreeMap<Level, usize> = BTreeMap::new();
    for f in &fired {
        *by_level.entry(f.level).or_default() += 1;
    }
    println!(
        "warnings: {entities} enterprises, {} facts in the last {} days ({:.3} per enterprise), \
         {} (district, section) tier groups; prepared in {prep:.1} s",
        facts.len(),
        warnings.window_days(),
        facts.len() as f64 / entities as f64,
        group_tiers.len()
    );
    println!(
        "evaluate_groups: median {:.3} s of 3 (min {:.3}, max {:.3}), {:.0} facts/s; {} firings: {}",
        times[1],
        times[0],
        times[2],
        facts.len() as f64 / times[1].max(1e-9),
        fired.len(),
        by_level
            .iter()
            .map(|(l, n)| format!("{l} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("peak memory of this process: {:.0} MiB", own_peak_rss_mib());
    Ok(())
}
