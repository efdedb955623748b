//! The `creditrisk` command: parses the command line, loads configuration, starts tracing and
//! calls into the library.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use creditrisk::audit::access::Role;
use creditrisk::cli;
use creditrisk::cli::client::Target;
use creditrisk::config::Config;
use creditrisk::server::pb;
use std::path::PathBuf;

// The writer allocates many small buffers (keys, values, sled nodes); glibc malloc spent a
// quarter of the ingest profile in its own bookkeeping. mimalloc is the usual cure.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "creditrisk",
    version,
    about = "Credit-risk tiers and double-random inspections"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct ServerArg {
    /// Server to talk to.
    #[arg(
        long,
        env = "CREDITRISK_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true,
        hide_env_values = true
    )]
    server: String,
    /// Bearer token (`cr_<id>_<secret>`) sent with every call.
    #[arg(long, env = "CREDITRISK_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// PEM CA certificate to verify a TLS server with (use an `https://` server address).
    #[arg(long, env = "CREDITRISK_TLS_CA", global = true, hide_env_values = true)]
    tls_ca: Option<PathBuf>,
    /// PEM client certificate, for servers that require mutual TLS (with --tls-client-key).
    #[arg(
        long,
        env = "CREDITRISK_TLS_CLIENT_CERT",
        global = true,
        hide_env_values = true,
        requires = "tls_client_key"
    )]
    tls_client_cert: Option<PathBuf>,
    /// PEM key of --tls-client-cert.
    #[arg(
        long,
        env = "CREDITRISK_TLS_CLIENT_KEY",
        global = true,
        hide_env_values = true,
        requires = "tls_client_cert"
    )]
    tls_client_key: Option<PathBuf>,
}

impl ServerArg {
    fn target(&self) -> Target {
        Target {
            server: self.server.clone(),
            token: self.token.clone(),
            ca: self.tls_ca.clone(),
            identity: self
                .tls_client_cert
                .clone()
                .zip(self.tls_client_key.clone()),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC service.
    Serve {
        /// Config file (TOML); see creditrisk.example.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on (overrides config and environment).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Data directory (overrides config and environment).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Where the store lives: `postgres://user:pass@host:port/db` or `sled:DIR` (overrides
        /// config and environment; default sled in the data directory).
        #[arg(long, value_name = "URL")]
        // A string, parsed in `run`: clap's own error would repeat the value, password included.
        storage: Option<String>,
        /// Address of the web console (overrides config and environment; `--demo` alone
        /// serves it on 127.0.0.1:8080).
        #[arg(long)]
        web_listen: Option<std::net::SocketAddr>,
        /// Load the synthetic demo population into an empty store.
        #[arg(long)]
        demo: bool,
        /// Size of the demo population.
        #[arg(long)]
        demo_entities: Option<usize>,
    },
    /// Write a deterministic synthetic data set as JSON lines.
    DemoData {
        /// Number of enterprises.
        #[arg(long, default_value_t = 10_000)]
        entities: usize,
        /// Seed.
        #[arg(long, default_value_t = 20231)]
        seed: u64,
        /// Output file (standard output if absent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Stream a data file (JSON lines, or CSV of enterprises) into a running server.
    Import {
        /// The file, or `-` for standard input.
        file: PathBuf,
        /// Token for the inspector records (the roster is the admin's); default: --token.
        #[arg(long, env = "CREDITRISK_ROSTER_TOKEN", hide_env_values = true)]
        roster_token: Option<String>,
        /// Where rejected rows go, with their line and reasons [default: FILE.rejects.jsonl, or
        /// FILE.rejects.csv for a CSV file, beside it].
        #[arg(long, value_name = "PATH")]
        rejects: Option<PathBuf>,
        /// Check the whole file first and send nothing if a row is bad; stop at the first
        /// chunk the server refuses (earlier chunks stay stored).
        #[arg(long)]
        all_or_nothing: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Enterprises.
    #[command(subcommand)]
    Enterprise(EnterpriseCmd),
    /// Credit events.
    #[command(subcommand)]
    Events(EventsCmd),
    /// The inspector roster.
    #[command(subcommand)]
    Inspector(InspectorCmd),
    /// Inspections.
    #[command(subcommand)]
    Inspection(InspectionCmd),
    /// Rule sets: local checks and server management.
    #[command(subcommand)]
    Rules(RulesCmd),
    /// Classify one enterprise (stored unless --candidate is given).
    Classify {
        /// Credit code of the enterprise.
        code: String,
        /// As of this date (default today).
        #[arg(long, default_value = "", hide_default_value = true)]
        as_of: String,
        /// Classify against this rule-set folder instead, storing nothing.
        #[arg(long)]
        candidate: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Why an enterprise has its tier, and what would move it to the next better tier.
    Explain {
        /// Credit code of the enterprise.
        code: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Every stored classification of an enterprise, newest first.
    History {
        /// Credit code of the enterprise.
        code: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Re-classify a jurisdiction (or everything), streaming progress; resumable by --run-id.
    Reclassify {
        /// Only this jurisdiction (division code or zone id) [default: every one].
        #[arg(long, default_value = "", hide_default_value = true)]
        jurisdiction: String,
        /// As of this date, `YYYY-MM-DD` [default: today].
        #[arg(long, default_value = "", hide_default_value = true)]
        as_of: String,
        /// Resume this interrupted run.
        #[arg(long, default_value_t = 0)]
        run_id: u64,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Run a candidate rule-set folder over a scope without storing anything.
    Simulate {
        /// Candidate rule-set folder (as `rules check` reads).
        dir: PathBuf,
        /// Only this jurisdiction (division code or zone id) [default: every one].
        #[arg(long, default_value = "", hide_default_value = true)]
        jurisdiction: String,
        /// As of this date, `YYYY-MM-DD` [default: today].
        #[arg(long, default_value = "", hide_default_value = true)]
        as_of: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Reports: the tier mix by district and by industry section.
    #[command(subcommand)]
    Report(ReportCmd),
    /// Follow tier changes (resumable from a cursor; reconnects after a server restart).
    ///
    /// Connection notes go to standard error; it ends only for a refused token or a bad
    /// argument (or Ctrl-C).
    Watch {
        /// Print the changes after this cursor (0: from the first); each printed line starts with its cursor.
        #[arg(long, default_value_t = 0)]
        cursor: u64,
        /// Only this jurisdiction (division code or zone id) [default: every one].
        #[arg(long, default_value = "", hide_default_value = true)]
        jurisdiction: String,
        /// any, worse or better.
        #[arg(long, default_value = "any")]
        direction: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Double-random draws: items, preview, create, export, results, publication; offline verify.
    #[command(subcommand)]
    Draw(DrawCmd),
    /// Audit: signed heads, bundles for offline verification, replay; offline verify.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Early warning: alerts and their lifecycle, group evaluation, back-tests, replay.
    #[command(subcommand)]
    Warnings(WarningsCmd),
    /// Access tokens (admin): issue, revoke, list.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Benchmarks that print their figures.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Whole-store tools.
    #[command(subcommand)]
    Store(StoreCmd),
}

#[derive(Subcommand)]
enum StoreCmd {
    /// Copy a whole store into a new, empty one (sled to PostgreSQL, back, or sled to sled),
    /// then check key counts and the audit log's size and root on both sides. Stop the server
    /// first. The keys in the data folder (`pseudonym.key`, `log-signing.key`) are not in the
    /// store: keep them with the data folder the new store is served with.
    Copy {
        /// The source: `sled:DATA_DIR` or `postgres://user:pass@host:port/db`.
        #[arg(long)]
        from: String,
        /// The target, which must be empty: `sled:DATA_DIR` or a PostgreSQL URL.
        #[arg(long)]
        to: String,
        /// Keys per batch.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
    },
}

#[derive(Subcommand)]
enum WarningsCmd {
    /// Alerts in id order, filtered.
    List {
        /// blue, yellow, orange or red.
        #[arg(long, default_value = "", hide_default_value = true)]
        level: String,
        /// raised, assessed, warned, disposing or closed.
        #[arg(long, default_value = "", hide_default_value = true)]
        state: String,
        /// A department notified (e.g. market-regulation).
        #[arg(long, default_value = "", hide_default_value = true)]
        department: String,
        /// District (jurisdiction) concerned.
        #[arg(long, default_value = "", hide_default_value = true)]
        district: String,
        /// Key sector concerned.
        #[arg(long, default_value = "", hide_default_value = true)]
        sector: String,
        /// Warning rule id.
        #[arg(long, default_value = "", hide_default_value = true)]
        rule: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// One alert with its evidence, actions and history, as JSON.
    Show {
        /// Alert id (`W<n>`).
        id: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// 研判: confirm or dismiss a raised alert.
    Assess {
        /// Alert id.
        id: String,
        /// confirmed or dismissed.
        #[arg(long)]
        decision: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
        /// Print the whole alert as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Record the departments notified of a confirmed alert.
    Warn {
        /// Alert id.
        id: String,
        /// Department notified (repeat for several).
        #[arg(long = "department", required = true)]
        departments: Vec<String>,
        /// Print the whole alert as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// 处置: add a disposal action with a deadline.
    Dispose {
        /// Alert id.
        id: String,
        /// targeted-inspection, interview, rectification-order or joint-inspection.
        #[arg(long, visible_alias = "action")]
        kind: String,
        /// Last day for its outcome (YYYY-MM-DD).
        #[arg(long)]
        deadline: String,
        /// What is to be done.
        #[arg(long, default_value = "", hide_default_value = true)]
        note: String,
        /// Also make a joint targeted draw for the alert (joint-inspection or
        /// targeted-inspection); prints `draw ID` after the alert.
        #[arg(long, requires = "inspection_date")]
        draw: bool,
        /// With --draw: the planned inspection date (YYYY-MM-DD).
        #[arg(long, default_value = "", hide_default_value = true)]
        inspection_date: String,
        /// With --draw: the draw's seed (default: the server makes one).
        #[arg(long, default_value = "", hide_default_value = true)]
        seed: String,
        /// With --draw, for a group alert: sample the group (district, industry) instead of
        /// inspecting every enterprise behind the alert.
        #[arg(long)]
        group_scope: bool,
        /// With --draw: the date the draw reads records as of (default: the alert's
        /// evaluation date).
        #[arg(long, default_value = "", hide_default_value = true)]
        draw_as_of: String,
        /// Print the whole alert as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Record the outcome of a disposal action.
    Outcome {
        /// Alert id.
        id: String,
        /// The action's number (from 1).
        #[arg(long)]
        action: u32,
        /// What came of it.
        #[arg(long)]
        outcome: String,
        /// Print the whole alert as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Close a dismissed alert, or one whose every action has an outcome.
    Close {
        /// Alert id.
        id: String,
        /// Why.
        #[arg(long, default_value = "", hide_default_value = true)]
        reason: String,
        /// Print the whole alert as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Differentiated supervision: raise the inspection ratios of a confirmed group alert's
    /// group for a period (a group ratio override whose basis is the alert).
    RaiseRatio {
        /// Alert id.
        id: String,
        /// Ratios per mille for tiers A,B,C,D (none below the policy's), e.g. 50,100,300,1000.
        #[arg(long, value_parser = creditrisk::cli::warnings::parse_ratios)]
        ratios: [u32; 4],
        /// First inspection date it applies to (YYYY-MM-DD).
        #[arg(long = "from")]
        valid_from: String,
        /// Last inspection date it applies to (YYYY-MM-DD).
        #[arg(long = "until")]
        valid_until: String,
        /// Print the whole alert as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Overdue alerts (escalated first when the caller may change alerts).
    Overdue {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Follow alert changes (resumable from a cursor; reconnects after a server restart).
    Watch {
        /// Print the changes after this cursor (0: from the first).
        #[arg(long, default_value_t = 0)]
        cursor: u64,
        /// Only changes leaving an alert at this level or above.
        #[arg(long, default_value = "", hide_default_value = true)]
        min_level: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Evaluate group signals as of a date and snapshot cut; stores what fires as alerts.
    Evaluate {
        /// Evaluation date [default: today].
        #[arg(long, default_value = "", hide_default_value = true)]
        as_of: String,
        /// Snapshot cut (newest ingest seq read) [default: everything].
        #[arg(long, default_value_t = 0, hide_default_value = true)]
        cut: u64,
        #[command(flatten)]
        server: ServerArg,
    },
    /// What a warning rule set would have fired, month by month; stores nothing.
    Backtest {
        /// First month (YYYY-MM).
        #[arg(long)]
        from: String,
        /// Last month (YYYY-MM), at most 120 months after --from.
        #[arg(long)]
        to: String,
        /// A warning rule folder to try [default: the stored --rule-set, or the one in force].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Hash of a stored warning rule set.
        #[arg(long, default_value = "", hide_default_value = true)]
        rule_set: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Recompute an alert's evidence from its stored inputs: MATCH or MISMATCH.
    Replay {
        /// Alert id.
        id: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// A group alert with its rule, facts (or tier counts) and evidence as JSON, for
    /// `tools/verify_alert.py`.
    Export {
        /// Alert id.
        id: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Check and store a warning rule folder (admin); prints its hash.
    Upload {
        /// The folder (`warnings.toml` and rule files).
        dir: PathBuf,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Put a stored warning rule set in force from its effective date (admin).
    Activate {
        /// Its hash.
        hash: String,
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Issue a token; prints it once (the server keeps only its hash).
    Issue {
        /// Token id: 1 to 64 letters, digits or `-`; never reused.
        #[arg(long)]
        id: String,
        /// ingest, planner, inspector, auditor or admin.
        #[arg(long)]
        role: Role,
        /// The inspector id an inspector token acts for; free text for other roles.
        #[arg(long, default_value = "", hide_default_value = true)]
        subject: String,
        /// Expire after this many days (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id.
        id: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Every token ever issued (no secrets).
    List {
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Subcommand)]
enum DrawCmd {
    /// Re-run a draw from its publication bundle (JSON) and check every field. Offline.
    Verify {
        /// Publication bundle (JSON) written by `draw export`.
        bundle: PathBuf,
    },
    /// Inspection items.
    #[command(subcommand)]
    Items(ItemsCmd),
    /// Dry run: the counts per tier a draw would use; nothing is stored.
    Preview(DrawSpecArgs),
    /// Draw enterprises and teams, and store the draw.
    Create(DrawSpecArgs),
    /// One stored draw: summary, then one line per drawn enterprise.
    Get {
        /// Draw id.
        id: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Every stored draw's summary.
    List {
        #[command(flatten)]
        server: ServerArg,
    },
    /// Write the publication bundle, CSV lists and the XLSX inspection list into a folder.
    Export {
        /// Draw id.
        id: String,
        /// Folder to write into (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Language of the XLSX inspection list: zh (Chinese headers) or en.
        #[arg(long, default_value = "zh", value_parser = ["zh", "en"])]
        lang: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// An inspector's assignments (default: the caller's own, for an inspector token).
    Assignments {
        /// Inspector id [default: the caller's own, for an inspector token].
        #[arg(default_value = "", hide_default_value = true)]
        inspector: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Record results (JSON lines: credit_code, date, inspector_ids, result_codes).
    Results {
        /// Draw id.
        id: String,
        /// File, or `-` for standard input.
        file: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Mark results as published.
    Publish {
        /// Draw id.
        id: String,
        /// Publication date (default today).
        #[arg(long, default_value = "", hide_default_value = true)]
        on: String,
        /// Credit codes whose results to mark published.
        codes: Vec<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Results not published within 20 working days, and drawn enterprises without a result.
    Overdue {
        /// The day to judge by (default today).
        #[arg(long, default_value = "", hide_default_value = true)]
        today: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// The public result list of a draw.
    Public {
        /// Draw id.
        id: String,
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Subcommand)]
enum ItemsCmd {
    /// Send an item list file (`[[item]]` tables, as in rules/items.toml).
    Upload {
        /// Item list file (TOML).
        file: PathBuf,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Every item.
    List {
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Args)]
struct DrawSpecArgs {
    /// Inspection item id.
    #[arg(long)]
    item: String,
    /// Planned inspection date.
    #[arg(long)]
    inspection_date: String,
    /// Snapshot date (default today).
    #[arg(long, default_value = "", hide_default_value = true)]
    as_of: String,
    /// Seed, normally produced in public; omitted: the server makes one.
    #[arg(long, default_value = "", hide_default_value = true)]
    seed: String,
    /// Draw id; omitted: the server makes one.
    #[arg(long, default_value = "", hide_default_value = true)]
    id: String,
    /// Participating department (repeat for a joint draw; default: the item's).
    #[arg(long = "department")]
    departments: Vec<String>,
    /// Narrow the item's jurisdictions (repeatable).
    #[arg(long = "jurisdiction")]
    jurisdictions: Vec<String>,
    #[command(flatten)]
    server: ServerArg,
}

impl DrawSpecArgs {
    fn spec(self) -> (Target, pb::DrawSpec) {
        (
            self.server.target(),
            pb::DrawSpec {
                draw_id: self.id,
                item_id: self.item,
                seed: self.seed,
                as_of: self.as_of,
                inspection_date: self.inspection_date,
                departments: self.departments,
                jurisdictions: self.jurisdictions,
                overrides: None,
            },
        )
    }
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check an audit bundle offline: head signatures, consistency with the saved head,
    /// inclusion of its entries.
    Verify {
        /// Audit bundle (JSON) written by `audit bundle`.
        bundle: PathBuf,
        /// The server's Ed25519 public key (hex) to pin.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// The newest (or a given size's) signed tree head, as JSON; save it to check later.
    Head {
        /// Tree size (0: the newest).
        #[arg(long, default_value_t = 0)]
        size: u64,
        /// Write the head to this file as well as printing it.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// The Ed25519 public key that verifies heads.
    PublicKey {
        #[command(flatten)]
        server: ServerArg,
    },
    /// Every alert entry about `alert/W1`, `enterprise/CODE` or `group/KEY`, each checked
    /// against the signed head (inclusion proof, head signature).
    AlertEntries {
        /// `alert/W1`, `enterprise/CODE` or `group/KEY`.
        subject: String,
        /// The server's Ed25519 public key (hex) to pin [default: ask the server].
        #[arg(long)]
        public_key: Option<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Build an audit bundle against a saved head, for `audit verify`.
    Bundle {
        /// A head saved earlier with `audit head --out`.
        #[arg(long)]
        saved_head: PathBuf,
        /// Log index of an entry to prove included (repeatable).
        #[arg(long = "entry")]
        entries: Vec<u64>,
        /// Subject of an entry to prove included, e.g. `draw/ID` (repeatable).
        #[arg(long = "subject")]
        subjects: Vec<String>,
        /// File to write the bundle to.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Replay stored results and compare bit for bit.
    #[command(subcommand)]
    Replay(ReplayCmd),
}

#[derive(Subcommand)]
enum ReplayCmd {
    /// One classification: by seq, or the newest as of a date (default: the newest).
    Classification {
        /// Credit code of the enterprise.
        code: String,
        /// Sequence number of the stored classification (0: pick by --as-of).
        #[arg(long, default_value_t = 0)]
        seq: u64,
        /// The newest classification as of this date, `YYYY-MM-DD` [default: the newest].
        #[arg(long, default_value = "", hide_default_value = true)]
        as_of: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// One draw.
    Draw {
        /// Draw id.
        id: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Every classification and draw in a log range or a month (changes made then, UTC+8).
    Range {
        /// First log index (0: the start).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Last log index (0: the end).
        #[arg(long, default_value_t = 0)]
        to: u64,
        /// `YYYY-MM`.
        #[arg(long)]
        month: Option<String>,
        /// Check the range against the signed head of this tree size (default: the newest).
        #[arg(long, default_value_t = 0)]
        head: u64,
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Subcommand)]
enum RulesCmd {
    /// Load and check a rule-set folder without a server.
    Check {
        /// Rule-set folder.
        dir: PathBuf,
    },
    /// Run the case files against a rule set without a server.
    Test {
        /// Rule-set folder.
        #[arg(long, default_value = "rules/default")]
        rules: PathBuf,
        /// Folder of case files (TOML).
        #[arg(long, default_value = "rules/tests")]
        cases: PathBuf,
    },
    /// Upload a rule-set folder (and optionally activate it).
    Upload {
        /// Rule-set folder.
        dir: PathBuf,
        /// Make it the active rule set once stored.
        #[arg(long)]
        activate: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Activate a stored rule set by hash.
    Activate {
        /// Rule-set hash, as `rules list` prints it.
        hash: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// List stored rule sets.
    List {
        #[command(flatten)]
        server: ServerArg,
    },
    /// Write the rule files built into the binary (default rule set, supervision policy,
    /// calendars, demo items) to a folder, to edit and use as rules_dir / supervision_dir.
    Export {
        /// Folder to write into (created if missing; existing files are kept unless --force).
        dir: PathBuf,
        /// Overwrite files that exist.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum EnterpriseCmd {
    /// Print one enterprise.
    Get {
        /// Credit code.
        code: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// List enterprises (JSON lines).
    List {
        /// Only this jurisdiction (division code or zone id) [default: every one].
        #[arg(long, default_value = "", hide_default_value = true)]
        jurisdiction: String,
        /// Only this GB/T 4754 section letter [default: every section].
        #[arg(long, default_value = "", hide_default_value = true)]
        section: String,
        /// Only enterprises whose current credit-risk tier is this (A, B, C or D) [default: any tier].
        #[arg(long, default_value = "", hide_default_value = true)]
        tier: String,
        /// Enterprises per page (at most 1000).
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        /// Continue from this page token (printed to stderr after a page) [default: the first page].
        #[arg(long, default_value = "", hide_default_value = true)]
        page_token: String,
        /// Follow every page.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Create or replace enterprises from JSON lines (a file or `-`).
    Put {
        /// JSON lines of enterprises (as `enterprise get` prints them), or `-` for standard input.
        file: String,
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Subcommand)]
enum ReportCmd {
    /// Counts per tier, overall, by district (jurisdiction) and by industry section, as of a
    /// run (default: the latest whole-population run, else the current tiers).
    Tiers {
        /// Run id (as `reclassify` prints it) [default: the latest whole-population run].
        #[arg(long)]
        run: Option<u64>,
        /// Print the response as JSON instead of tables.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Subcommand)]
enum EventsCmd {
    /// Print an enterprise's events in ingest order.
    List {
        /// Credit code of the enterprise.
        code: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Append events from JSON lines (a file or `-`), atomically.
    Append {
        /// JSON lines of events (as `events list` prints them), or `-` for standard input.
        file: String,
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Subcommand)]
enum InspectorCmd {
    /// List inspectors.
    List {
        /// Only inspectors of this department [default: every one].
        #[arg(long, default_value = "", hide_default_value = true)]
        department: String,
        /// Only inspectors of this jurisdiction [default: every one].
        #[arg(long, default_value = "", hide_default_value = true)]
        jurisdiction: String,
        /// Only active inspectors.
        #[arg(long)]
        active_only: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Create or replace inspectors from JSON lines.
    Put {
        /// JSON lines of inspectors (as `inspector list` prints them), or `-` for standard input.
        file: String,
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Subcommand)]
enum InspectionCmd {
    /// Record inspections from JSON lines.
    Record {
        /// JSON lines of inspections, or `-` for standard input.
        file: String,
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Durable bulk ingest over gRPC against a child server process.
    Ingest {
        /// Events to send.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Enterprises the events are spread over.
        #[arg(long, default_value_t = 20_000)]
        enterprises: u64,
        /// Events per chunk of the bulk stream.
        #[arg(long, default_value_t = 1000)]
        chunk: usize,
        /// Also run on a fresh database of this PostgreSQL server (a URL naming a database
        /// that exists, e.g. `postgres://u:pw@127.0.0.1:5432/postgres`), after sled.
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
    },
    /// Load a demo population in-process, then time a full re-classification and a simulation.
    Classify {
        /// Enterprises in the demo population.
        #[arg(long, default_value_t = 100_000)]
        entities: usize,
        /// Seed of the demo population.
        #[arg(long, default_value_t = 20231)]
        seed: u64,
        /// Keep the store in this directory; when it already holds this population (same
        /// entities and seed, from an earlier run), skip generating and loading it.
        #[arg(long)]
        data_dir: Option<std::path::PathBuf>,
        /// Only load (or reuse) and compact, then time the simulation.
        #[arg(long, conflicts_with = "run_and_replay")]
        simulate_only: bool,
        /// Only load (or reuse) and compact, then time the full re-classification and the
        /// replay of that run.
        #[arg(long)]
        run_and_replay: bool,
        /// Only load (or reuse) and compact, run a full re-classification if the store has
        /// none finished, then time group warning signals from the store (facts and tier
        /// counts read as `EvaluateGroups` reads them).
        #[arg(long, conflicts_with_all = ["simulate_only", "run_and_replay"])]
        groups_only: bool,
    },
    /// Time the web console's overview page over HTTP on a store of N enterprises with a
    /// stored whole-population run (made or reused like `bench classify`'s).
    Overview {
        /// Enterprises in the demo population.
        #[arg(long, default_value_t = 100_000)]
        entities: usize,
        /// Seed of the demo population.
        #[arg(long, default_value_t = 20231)]
        seed: u64,
        /// Keep the store in this directory and reuse it when it holds this population (the
        /// same folder as `bench classify --data-dir` works).
        #[arg(long)]
        data_dir: Option<std::path::PathBuf>,
        /// Overview requests timed (1 to 1000).
        #[arg(long, default_value_t = 20)]
        requests: usize,
    },
    /// Time group warning signals over the facts of N enterprises (demo rates), in-process.
    Warnings {
        /// Enterprises whose facts are evaluated.
        #[arg(long, default_value_t = 4_000_000)]
        entities: usize,
        /// Seed of the demo population the facts are taken from.
        #[arg(long, default_value_t = 20231)]
        seed: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. }) {
        restore_sigpipe();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let done = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(cli.command)));
    if let Err(e) = done {
        // One line, causes joined with `: ` (no backtrace: these are the user's errors, and
        // RUST_BACKTRACE is often set in operators' shells).
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

/// Client commands end quietly when the reader of their output goes away (`cr ... | head`), as
/// Unix tools do, instead of panicking on a broken pipe: Rust ignores SIGPIPE by default. The
/// server keeps ignoring it (a client hanging up must never stop it).
fn restore_sigpipe() {
    // SAFETY: called once at start, before any thread is spawned; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Serve {
            config,
            listen,
            data_dir,
            storage,
            web_listen,
            demo,
            demo_entities,
        } => {
            let mut c = Config::load(config.as_deref()).map_err(anyhow::Error::msg)?;
            if let Some(l) = listen {
                c.listen = l;
            }
            if let Some(d) = data_dir {
                c.data_dir = d;
            }
            if let Some(s) = storage {
                c.storage = Some(s.parse().map_err(|e| anyhow::anyhow!("--storage: {e}"))?);
            }
            if web_listen.is_some() {
                c.web_listen = web_listen;
            }
            c.demo |= demo;
            if let Some(n) = demo_entities {
                c.demo_entities = n;
            }
            cli::serve::run(c).await
        }
        Command::DemoData {
            entities,
            seed,
            out,
        } => match out {
            Some(p) => {
                let mut f = std::fs::File::create(&p)
                    .with_context(|| format!("cannot create `{}`", p.display()))?;
                cli::import::write_demo(entities, seed, &mut f)
            }
            None => cli::import::write_demo(entities, seed, &mut std::io::stdout().lock()),
        },
        Command::Import {
            file,
            roster_token,
            rejects,
            all_or_nothing,
            server,
        } => {
            let opts = cli::import::Options {
                rejects,
                all_or_nothing,
                progress: true,
            };
            let s =
                cli::import::run(&server.target(), roster_token.as_deref(), &file, &opts).await?;
            s.print();
            if s.rejected > 0 || s.stopped.is_some() {
                std::process::exit(2);
            }
            Ok(())
        }
        Command::Enterprise(c) => match c {
            EnterpriseCmd::Get { code, server } => {
                cli::client::get_enterprise(&server.target(), &code).await
            }
            EnterpriseCmd::List {
                jurisdiction,
                section,
                tier,
                page_size,
                page_token,
                all,
                server,
            } => {
                let req = pb::ListEnterprisesRequest {
                    page_size,
                    page_token,
                    jurisdiction,
                    industry_section: section,
                    tier,
                    ..Default::default()
                };
                cli::client::list_enterprises(&server.target(), req, all).await
            }
            EnterpriseCmd::Put { file, server } => {
                cli::client::put_enterprises(&server.target(), &file).await
            }
        },
        Command::Events(c) => match c {
            EventsCmd::List { code, server } => {
                cli::client::list_events(&server.target(), &code).await
            }
            EventsCmd::Append { file, server } => {
                cli::client::append_events(&server.target(), &file).await
            }
        },
        Command::Inspector(c) => match c {
            InspectorCmd::List {
                department,
                jurisdiction,
                active_only,
                server,
            } => {
                let req = pb::ListInspectorsRequest {
                    department,
                    jurisdiction,
                    active_only,
                    ..Default::default()
                };
                cli::client::list_inspectors(&server.target(), req).await
            }
            InspectorCmd::Put { file, server } => {
                cli::client::put_inspectors(&server.target(), &file).await
            }
        },
        Command::Inspection(InspectionCmd::Record { file, server }) => {
            cli::client::record_inspections(&server.target(), &file).await
        }
        Command::Draw(c) => match c {
            DrawCmd::Verify { bundle } => exit_unless(cli::verify::draw(&bundle)?),
            DrawCmd::Items(ItemsCmd::Upload { file, server }) => {
                cli::draws::upload_items(&server.target(), &file).await
            }
            DrawCmd::Items(ItemsCmd::List { server }) => {
                cli::draws::list_items(&server.target()).await
            }
            DrawCmd::Preview(a) => {
                let (server, spec) = a.spec();
                cli::draws::preview(&server, spec).await
            }
            DrawCmd::Create(a) => {
                let (server, spec) = a.spec();
                cli::draws::create(&server, spec).await
            }
            DrawCmd::Get { id, server } => cli::draws::get(&server.target(), &id).await,
            DrawCmd::List { server } => cli::draws::list(&server.target()).await,
            DrawCmd::Export {
                id,
                out,
                lang,
                server,
            } => cli::draws::export(&server.target(), &id, &out, &lang).await,
            DrawCmd::Assignments { inspector, server } => {
                cli::draws::assignments(&server.target(), &inspector).await
            }
            DrawCmd::Results { id, file, server } => {
                cli::draws::results(&server.target(), &id, &file).await
            }
            DrawCmd::Publish {
                id,
                on,
                codes,
                server,
            } => cli::draws::publish(&server.target(), &id, &on, codes).await,
            DrawCmd::Overdue { today, server } => {
                cli::draws::overdue(&server.target(), &today).await
            }
            DrawCmd::Public { id, server } => cli::draws::public(&server.target(), &id).await,
        },
        Command::Audit(c) => match c {
            AuditCmd::Verify { bundle, public_key } => {
                exit_unless(cli::verify::audit(&bundle, public_key.as_deref())?)
            }
            AuditCmd::Head { size, out, server } => {
                cli::audit::head(&server.target(), size, out.as_deref()).await
            }
            AuditCmd::PublicKey { server } => cli::audit::public_key(&server.target()).await,
            AuditCmd::AlertEntries {
                subject,
                public_key,
                server,
            } => cli::audit::alert_entries(&server.target(), &subject, public_key.as_deref()).await,
            AuditCmd::Bundle {
                saved_head,
                entries,
                subjects,
                out,
                server,
            } => cli::audit::bundle(&server.target(), &saved_head, &entries, &subjects, &out).await,
            AuditCmd::Replay(ReplayCmd::Classification {
                code,
                seq,
                as_of,
                server,
            }) => exit_unless(
                cli::audit::replay_classification(&server.target(), &code, seq, &as_of).await?,
            ),
            AuditCmd::Replay(ReplayCmd::Draw { id, server }) => {
                exit_unless(cli::audit::replay_draw(&server.target(), &id).await?)
            }
            AuditCmd::Replay(ReplayCmd::Range {
                from,
                to,
                month,
                head,
                server,
            }) => exit_unless(
                cli::audit::replay_range(&server.target(), from, to, month.as_deref(), head)
                    .await?,
            ),
        },
        Command::Rules(c) => match c {
            RulesCmd::Check { dir } => exit_unless(cli::rules::check(&dir)),
            RulesCmd::Test { rules, cases } => exit_unless(cli::rules::test(&rules, &cases)),
            RulesCmd::Upload {
                dir,
                activate,
                server,
            } => cli::rules::upload(&server.target(), &dir, activate).await,
            RulesCmd::Activate { hash, server } => {
                cli::rules::activate(&server.target(), &hash).await
            }
            RulesCmd::List { server } => cli::rules::list(&server.target()).await,
            RulesCmd::Export { dir, force } => cli::rules::export(&dir, force),
        },
        Command::Classify {
            code,
            as_of,
            candidate,
            server,
        } => cli::rules::classify(&server.target(), &code, &as_of, candidate.as_deref()).await,
        Command::Explain { code, server } => cli::rules::explain(&server.target(), &code).await,
        Command::History { code, server } => cli::rules::history(&server.target(), &code).await,
        Command::Reclassify {
            jurisdiction,
            as_of,
            run_id,
            server,
        } => cli::rules::reclassify(&server.target(), &jurisdiction, &as_of, run_id).await,
        Command::Simulate {
            dir,
            jurisdiction,
            as_of,
            server,
        } => cli::rules::simulate(&server.target(), &dir, &jurisdiction, &as_of).await,
        Command::Report(ReportCmd::Tiers { run, json, server }) => {
            cli::rules::report_tiers(&server.target(), run, json).await
        }
        Command::Watch {
            cursor,
            jurisdiction,
            direction,
            server,
        } => cli::rules::watch(&server.target(), cursor, &jurisdiction, &direction).await,
        Command::Warnings(c) => run_warnings(c).await,
        Command::Token(c) => match c {
            TokenCmd::Issue {
                id,
                role,
                subject,
                expires_in_days,
                server,
            } => cli::token::issue(&server.target(), &id, role, &subject, expires_in_days).await,
            TokenCmd::Revoke { id, server } => cli::token::revoke(&server.target(), &id).await,
            TokenCmd::List { server } => cli::token::list(&server.target()).await,
        },
        Command::Bench(BenchCmd::Classify {
            entities,
            seed,
            data_dir,
            simulate_only,
            run_and_replay,
            groups_only,
        }) => {
            let part = match (simulate_only, run_and_replay, groups_only) {
                (true, _, _) => cli::bench::Part::Simulation,
                (_, true, _) => cli::bench::Part::RunAndReplay,
                (_, _, true) => cli::bench::Part::Groups,
                _ => cli::bench::Part::All,
            };
            cli::bench::classify(entities, seed, data_dir, part).await
        }
        Command::Bench(BenchCmd::Ingest {
            events,
            enterprises,
            chunk,
            postgres,
        }) => cli::bench::ingest(events, enterprises, chunk, postgres).await,
        Command::Store(StoreCmd::Copy { from, to, batch }) => {
            tokio::task::spawn_blocking(move || cli::store::copy(&from, &to, batch)).await?
        }
        Command::Bench(BenchCmd::Overview {
            entities,
            seed,
            data_dir,
            requests,
        }) => cli::bench_overview::overview(entities, seed, data_dir, requests).await,
        Command::Bench(BenchCmd::Warnings { entities, seed }) => {
            cli::bench::warnings(entities, seed)
        }
    }
}

fn exit_unless(ok: bool) -> anyhow::Result<()> {
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

async fn run_warnings(c: WarningsCmd) -> anyhow::Result<()> {
    use cli::warnings::{self as w, Transition};
    match c {
        WarningsCmd::List {
            level,
            state,
            department,
            district,
            sector,
            rule,
            json,
            server,
        } => {
            let f = w::ListArgs {
                level,
                state,
                department,
                district,
                sector,
                rule,
            };
            w::list(&server.target(), f, json).await
        }
        WarningsCmd::Show { id, server } => w::show(&server.target(), &id).await,
        WarningsCmd::Assess {
            id,
            decision,
            reason,
            json,
            server,
        } => {
            let t = Transition::Assess { decision, reason };
            w::transition(&server.target(), &id, t, json).await
        }
        WarningsCmd::Warn {
            id,
            departments,
            json,
            server,
        } => {
            let t = Transition::Warn { departments };
            w::transition(&server.target(), &id, t, json).await
        }
        WarningsCmd::Dispose {
            id,
            kind,
            deadline,
            note,
            draw,
            inspection_date,
            seed,
            group_scope,
            draw_as_of,
            json,
            server,
        } => {
            let t = Transition::Dispose {
                kind,
                deadline,
                note,
                draw,
                inspection_date,
                seed,
                group_scope,
                draw_as_of,
            };
            w::transition(&server.target(), &id, t, json).await
        }
        WarningsCmd::Outcome {
            id,
            action,
            outcome,
            json,
            server,
        } => {
            let t = Transition::Outcome { action, outcome };
            w::transition(&server.target(), &id, t, json).await
        }
        WarningsCmd::Close {
            id,
            reason,
            json,
            server,
        } => w::transition(&server.target(), &id, Transition::Close { reason }, json).await,
        WarningsCmd::RaiseRatio {
            id,
            ratios,
            valid_from,
            valid_until,
            json,
            server,
        } => {
            let t = Transition::RaiseRatio {
                ratios,
                valid_from,
                valid_until,
            };
            w::transition(&server.target(), &id, t, json).await
        }
        WarningsCmd::Overdue { json, server } => w::overdue(&server.target(), json).await,
        WarningsCmd::Watch {
            cursor,
            min_level,
            server,
        } => w::watch(&server.target(), cursor, &min_level).await,
        WarningsCmd::Evaluate { as_of, cut, server } => {
            w::evaluate(&server.target(), &as_of, cut).await
        }
        WarningsCmd::Backtest {
            from,
            to,
            dir,
            rule_set,
            server,
        } => w::backtest(&server.target(), &from, &to, dir.as_deref(), &rule_set).await,
        WarningsCmd::Replay { id, server } => w::replay(&server.target(), &id).await,
        WarningsCmd::Export { id, server } => w::export(&server.target(), &id).await,
        WarningsCmd::Upload { dir, server } => w::upload(&server.target(), &dir).await,
        WarningsCmd::Activate { hash, server } => w::activate(&server.target(), &hash).await,
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every option and argument of every subcommand says what it is, and none shows an empty
    /// default (`[default: ""]`).
    #[test]
    fn every_argument_has_help_and_no_empty_default() {
        fn walk(cmd: &clap::Command, path: &str, bad: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    bad.push(format!("{path} {id}: no help"));
                }
                if !a.is_hide_default_value_set()
                    && a.get_default_values().iter().any(|v| v.is_empty())
                {
                    bad.push(format!("{path} {id}: empty default"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    bad.push(format!("{path} {}: no about", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), bad);
            }
        }
        let mut bad = Vec::new();
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        walk(&cmd, "creditrisk", &mut bad);
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }
}
