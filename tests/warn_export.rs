//! The independent checker `tools/verify_alert.py` (Python standard library only) on alert
//! exports: every group alert of the demo (all three methods: the spot-check clusters' rates,
//! the complaint surge's exact Poisson test, the C+D concentrations) recomputes to MATCH, and
//! altered exports (a stated count, a fact, the level) are each reported as MISMATCH naming what
//! differs. The exports are written to `$CREDITRISK_ALERT_DIR` when set (CI runs the checker on
//! them again), else to a temporary directory. Without `python3` the check prints
//! `SKIPPED: <reason>`.

use creditrisk::warnsvc::AlertFilter;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the checker on `files`; `None` (after printing SKIPPED) when python3 cannot run.
fn checker(files: &[PathBuf]) -> Option<(i32, String)> {
    let out = match Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/verify_alert.py"))
        .args(files)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            println!("SKIPPED: the independent alert checker did not run: cannot run python3: {e}");
            return None;
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.code().unwrap_or(-1), text))
}

#[tokio::test]
async fn every_demo_group_alert_checks_out_with_the_independent_script() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, stopper) = creditrisk::app::App::open(dir.path(), 64).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    app.classifier()
        .rule_sets()
        .ensure_default(&root.join("rules/default"), 0)
        .await
        .unwrap();
    app.enable_draws(&root.join("rules")).unwrap();
    creditrisk::cli::import::load_demo_if_empty(&app, 5_000, 20231, None)
        .await
        .unwrap();
    let w = app.warnings().clone();
    let exports = tokio::task::spawn_blocking(move || {
        let alerts = w.list(&AlertFilter::default(), None, 500).unwrap().items;
        alerts
            .iter()
            .filter(|a| a.subject.starts_with("group/"))
            .map(|a| {
                let e = w.export(&a.id, &None).unwrap();
                (a.id.clone(), serde_json::to_vec_pretty(&e).unwrap())
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    drop(app);
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let out_dir = match std::env::var_os("CREDITRISK_ALERT_DIR") {
        Some(d) => PathBuf::from(d),
        None => tmp.path().join("alerts"),
    };
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut files = Vec::new();
    let mut docs = Vec::new();
    let mut methods = std::collections::BTreeSet::new();
    for (id, json) in &exports {
        let path = out_dir.join(format!("{id}.json"));
        std::fs::write(&path, json).unwrap();
        let doc: Value = serde_json::from_slice(json).unwrap();
        methods.insert(doc["rule"]["method"].as_str().unwrap().to_string());
        files.push(path);
        docs.push(doc);
    }
    // The demo's group incidents: every method is represented.
    assert_eq!(
        methods.into_iter().collect::<Vec<_>>(),
        ["concentration", "poisson-change", "rate"]
    );
    println!("alert exports written to {}", out_dir.display());

    let Some((code, out)) = checker(&files) else {
        return;
    };
    println!("{out}");
    assert_eq!(code, 0, "the checker rejects an export:\n{out}");
    assert_eq!(out.matches(": MATCH ").count(), files.len(), "{out}");

    // Altered exports must fail, naming what differs.
    let rate = docs
        .iter()
        .find(|d| d["rule"]["method"] == "rate")
        .unwrap()
        .clone();
    let poisson = docs
        .iter()
        .find(|d| d["rule"]["method"] == "poisson-change")
        .unwrap()
        .clone();
    let mut stated = rate.clone();
    let k: u64 = stated["evidence"]["k"].as_str().unwrap().parse().unwrap();
    stated["evidence"]["k"] = Value::String((k + 1).to_string());
    let mut fact = poisson.clone();
    let facts = fact["facts"].as_array_mut().unwrap();
    let last_verified = facts.iter().rposition(|f| f["verified"] == true).unwrap();
    facts.remove(last_verified);
    let mut level = rate.clone();
    level["alert"]["levels"][0][1] = Value::String(
        if rate["alert"]["levels"][0][1] == "red" {
            "blue"
        } else {
            "red"
        }
        .into(),
    );
    let cases = [
        ("stated-k", stated, "evidence `k`"),
        ("dropped-fact", fact, "evidence `"),
        ("level", level, "level: stated"),
    ];
    for (name, doc, want) in cases {
        let path = tmp.path().join(format!("altered-{name}.json"));
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        let (code, out) = checker(&[path]).unwrap();
        println!("{out}");
        assert_eq!(code, 1, "{name}: {out}");
        assert!(
            out.contains("MISMATCH") && out.contains(want),
            "{name}: {out}"
        );
    }
}
