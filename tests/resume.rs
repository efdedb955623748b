//! A re-classification run killed with SIGKILL mid-way resumes from its last committed chunk
//! after a restart: it finishes with every enterprise classified exactly once by the run.

mod common;

use common::channel;
use creditrisk::cli::bench::ServerProcess;
use creditrisk::server::pb;
use pb::classification_service_client::ClassificationServiceClient;
use pb::record_service_client::RecordServiceClient;

const ENTITIES: u64 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_run_resumes_instead_of_starting_over() {
    let dir = tempfile::tempdir().unwrap();
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/default");
    let n = ENTITIES.to_string();
    let args = ["--demo", "--demo-entities", &n];
    // The child servers inherit this: they activate the default rules wherever the test runs.
    std::env::set_var("CREDITRISK_RULES_DIR", rules);
    let server = common::start_process(dir.path(), &args).unwrap();
    // Runs are the admin's; the demo start wrote admin.token.
    let admin = ServerProcess::admin_token(dir.path()).unwrap();
    let mut cls = ClassificationServiceClient::new(channel(&server.url, &admin).await);
    let mut stream = cls
        .reclassify(pb::ReclassifyRequest {
            scope: None,
            as_of: "2026-11-01".into(),
            run_id: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    server.kill9().unwrap();
    let run_id = first.run_id;
    assert!(
        first.done > 0 && first.done < ENTITIES,
        "killed mid-way: {first:?}"
    );

    let server = common::start_process(dir.path(), &args).unwrap();
    let ch = channel(&server.url, &admin).await;
    let mut cls = ClassificationServiceClient::new(ch.clone());
    let mut stream = cls
        .reclassify(pb::ReclassifyRequest {
            scope: None,
            as_of: String::new(),
            run_id,
        })
        .await
        .unwrap()
        .into_inner();
    let mut progress = Vec::new();
    while let Some(p) = stream.message().await.unwrap() {
        progress.push(p);
    }
    let last = progress.last().unwrap().clone();
    assert!(progress.iter().all(|p| p.resumed && p.run_id == run_id));
    assert!(last.finished);
    assert_eq!(last.done, ENTITIES, "every enterprise, once");
    assert_eq!(last.tiers.iter().sum::<u64>(), ENTITIES);
    assert_eq!(last.as_of, "2026-11-01", "the run keeps its inputs");
    assert_eq!(last.snapshot_seq, first.snapshot_seq);
    // Its first report already counts what was committed before the kill.
    assert!(
        progress[0].done > first.done,
        "resumed from its checkpoint: {:?}",
        progress[0]
    );

    // The first and last enterprises were each classified exactly once by this run.
    let mut rec = RecordServiceClient::new(ch);
    let page = rec
        .list_enterprises(pb::ListEnterprisesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for e in [
        page.enterprises.first().unwrap(),
        page.enterprises.last().unwrap(),
    ] {
        let hist = cls
            .list_classifications(pb::ListClassificationsRequest {
                credit_code: e.credit_code.clone(),
                page_size: 500,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .classifications;
        assert_eq!(
            hist.iter().filter(|c| c.run_id == run_id).count(),
            1,
            "{}",
            e.credit_code
        );
    }
    server.stop().unwrap();
}
