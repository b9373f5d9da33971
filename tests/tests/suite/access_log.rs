//! The access log of confidential reads, over gRPC with the real services:
//! every clue read (and every read of a list before feedback, of clue
//! figures and of statistics that include them) leaves a record naming
//! the reader and a digest of its token; a record altered in the database
//! is named by verification; a county commission sees only its county's
//! readers; callers without the commission's role are refused.

use crate::common;

use common::*;
use fiveledger_e2e::{
    EVENT_TIMEOUT, TestSuite, eventually, paths, spawn_suite, spawn_suite_with, tokens,
};
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{authed, token};
use fiveledger_proto::access::access_log_service_client::AccessLogServiceClient;
use fiveledger_proto::access::{
    AccessRecord, ListAccessRecordsRequest, VerifyAccessLogRequest, VerifyAccessLogResponse,
};
use fiveledger_proto::issues::clue_service_client::ClueServiceClient;
use fiveledger_proto::issues::{self};
use fiveledger_proto::ledgers::GetStatisticsRequest;
use fiveledger_proto::rounds;
use fiveledger_proto::types::Severity;
use sea_orm::ConnectionTrait;
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::Channel;

const XN: &str = "rounds/r9/inspections/xn";
const XINGNING_JW: &str = "guangxi/nanning/xingning/xingning-jw";
const QINGXIU_JW: &str = "guangxi/nanning/qingxiu/qingxiu-jw";

fn county_commission(path: &str) -> String {
    let subject = format!("jw-{}", path.rsplit('/').next().unwrap_or("x"));
    token(&subject, path, &[Role::DisciplineCommission])
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Every record of one service's log `token` may list (all pages).
async fn records(channel: &Channel, token: &str, filter: &str) -> Vec<AccessRecord> {
    let mut client = AccessLogServiceClient::new(channel.clone());
    let (mut out, mut page_token) = (Vec::new(), String::new());
    loop {
        let page = client
            .list_access_records(authed(
                token,
                ListAccessRecordsRequest {
                    page_size: 2,
                    page_token: page_token.clone(),
                    filter: filter.into(),
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("listing the access log: {s:?}"))
            .into_inner();
        out.extend(page.records);
        if page.next_page_token.is_empty() {
            return out;
        }
        page_token = page.next_page_token;
    }
}

/// Reads `clue` as the bearer of `token`, `times` times.
async fn read_clue(t: &TestSuite, token: &str, clue: &issues::Clue, times: usize) {
    let mut clues = ClueServiceClient::new(t.issues.clone());
    for _ in 0..times {
        let request = issues::GetClueRequest {
            name: clue.name.clone(),
        };
        clues
            .get_clue(authed(token, request))
            .await
            .unwrap_or_else(|s| panic!("reading the clue: {s:?}"));
    }
}

async fn verify(channel: &Channel, token: &str) -> VerifyAccessLogResponse {
    AccessLogServiceClient::new(channel.clone())
        .verify_access_log(authed(token, VerifyAccessLogRequest {}))
        .await
        .unwrap_or_else(|s| panic!("verifying the access log: {s:?}"))
        .into_inner()
}

/// Round 9 (Xingning and Qingxiu stationed), the counties' commissions, a
/// clue held by Xingning's commission and a problem on Xingning's list.
async fn world(t: &TestSuite) -> (issues::Clue, issues::Problem) {
    t.two_stationed_inspections("r9", 9).await;
    for (id, parent, display) in [
        ("xingning-jw", "xingning", "兴宁区纪委监委"),
        ("qingxiu-jw", "qingxiu", "青秀区纪委监委"),
    ] {
        t.organisation(
            id,
            rounds::OrganisationKind::DisciplineCommission,
            parent,
            display,
        )
        .await;
    }
    let clue = ClueServiceClient::new(t.issues.clone())
        .create_clue(authed(
            &tokens::office(),
            issues::CreateClueRequest {
                clue: Some(issues::Clue {
                    inspection: XN.into(),
                    subject_name: "某某".into(),
                    subject_post: "街道党工委书记".into(),
                    summary: "涉嫌违规收受礼金".into(),
                    source: "来信来访".into(),
                    receiving_body: "organisations/xingning-jw".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("a clue")
        .into_inner();
    assert_eq!(clue.receiving_body_path, XINGNING_JW);
    let problem = t
        .problem(
            &tokens::office(),
            XN,
            "p1",
            "party-leadership",
            Severity::Major,
            "问题 p1",
            "",
            "",
        )
        .await
        .expect("a problem");
    (clue, problem)
}

#[tokio::test]
async fn every_confidential_read_is_recorded_with_its_reader_and_token_digest() {
    let t = spawn_suite(Default::default()).await;
    let (clue, problem) = world(&t).await;
    let office = tokens::office();
    let city_commission = tokens::commission();
    let county = county_commission(XINGNING_JW);
    let mut clues = ClueServiceClient::new(t.issues.clone());

    // The reads: (token, subject, method, resource named).
    let get = |token: &str| {
        authed(
            token,
            issues::GetClueRequest {
                name: clue.name.clone(),
            },
        )
    };
    clues.get_clue(get(&office)).await.expect("office reads");
    clues.get_clue(get(&county)).await.expect("holder reads");
    clues
        .get_clue(get(&city_commission))
        .await
        .expect("city commission reads");
    let listed = clues
        .list_clues(authed(
            &office,
            issues::ListCluesRequest {
                filter: format!("inspection = \"{XN}\""),
                ..Default::default()
            },
        ))
        .await
        .expect("office lists")
        .into_inner();
    assert_eq!(listed.clues.len(), 1);
    clues
        .get_clue_statistics(authed(
            &city_commission,
            issues::GetClueStatisticsRequest {
                organisation_path: paths::CITY.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("clue figures");
    // A problem of a list not yet handed over.
    t.problems()
        .get_problem(authed(
            &office,
            issues::GetProblemRequest {
                name: problem.name.clone(),
            },
        ))
        .await
        .expect("office reads its problem");
    // A clue nobody may see is not a read: refused, and not recorded.
    let refused = clues.get_clue(get(&county_commission(QINGXIU_JW))).await;
    assert_eq!(refused.expect_err("out of scope").code(), Code::NotFound);

    let all = records(&t.issues, &tokens::admin(), "").await;
    let seen: Vec<(&str, &str, Vec<String>)> = all
        .iter()
        .map(|r| {
            (
                r.subject.as_str(),
                r.method.rsplit('/').next().unwrap_or_default(),
                r.resources.clone(),
            )
        })
        .collect();
    let c = || vec![clue.name.clone()];
    assert_eq!(
        seen,
        vec![
            ("office-nn", "GetClue", c()),
            ("jw-xingning-jw", "GetClue", c()),
            ("jw-wang", "GetClue", c()),
            ("office-nn", "ListClues", c()),
            ("jw-wang", "GetClueStatistics", vec![]),
            ("office-nn", "GetProblem", vec![problem.name.clone()]),
        ],
        "{all:#?}"
    );
    // Who, under which token (never the token itself), in which scope.
    assert_eq!(all[0].token_digest, digest(&office));
    assert_eq!(all[1].token_digest, digest(&county));
    assert!(all.iter().all(|r| !r.token_digest.contains('.')));
    assert_eq!(all[0].organisation_path, paths::CITY);
    assert_eq!(all[0].roles, vec!["inspection_office"]);
    assert_eq!(all[1].scope_path, "guangxi/nanning/xingning");
    assert_eq!(all[3].query, format!("inspection = \"{XN}\""));
    assert!(all[4].query.contains(paths::CITY), "{:?}", all[4].query);
    let seqs: Vec<i64> = all.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=6).collect::<Vec<_>>());
    assert!(all.windows(2).all(|w| w[1].prev_hash == w[0].hash));

    // The filter: one reader.
    let mine = records(&t.issues, &city_commission, "subject = \"office-nn\"").await;
    assert_eq!(mine.len(), 3, "{mine:#?}");

    // Statistics with clue figures, read on the ledgers service, are
    // recorded there (and the clue figures it asked for on the caller's
    // behalf, by the issues service, under the caller's token).
    t.statistics()
        .get_statistics(authed(&city_commission, GetStatisticsRequest::default()))
        .await
        .expect("statistics");
    // So is a listing of the books (how they are exported).
    t.list_entries(&office, "").await.expect("entries");
    let ledger_records = records(&t.ledgers, &city_commission, "").await;
    assert_eq!(ledger_records.len(), 2, "{ledger_records:#?}");
    assert_eq!(ledger_records[1].subject, "office-nn");
    assert!(ledger_records[1].method.ends_with("/ListEntries"));
    assert_eq!(ledger_records[0].subject, "jw-wang");
    assert!(ledger_records[0].method.ends_with("/GetStatistics"));
    assert_eq!(ledger_records[0].token_digest, digest(&city_commission));
    let asked = records(&t.issues, &city_commission, "subject = \"jw-wang\"").await;
    assert_eq!(
        asked.last().map(|r| r.method.as_str()),
        Some("/fiveledger.issues.v1.ClueService/GetClueStatistics")
    );
    assert_eq!(
        asked.last().map(|r| r.token_digest.clone()),
        Some(digest(&city_commission))
    );
    assert!(verify(&t.ledgers, &city_commission).await.valid);
}

#[tokio::test]
async fn an_altered_record_is_named_by_verification() {
    let t = spawn_suite(Default::default()).await;
    let (clue, _) = world(&t).await;
    read_clue(&t, &tokens::office(), &clue, 3).await;
    let commission = tokens::commission();
    let sound = verify(&t.issues, &commission).await;
    assert!(sound.valid && sound.records == 3, "{sound:?}");

    // An operator rewrites who read the second record.
    let db = t.service_db("issues").await;
    db.writer()
        .execute_unprepared("UPDATE access_records SET subject = 'someone-else' WHERE seq = 2")
        .await
        .expect("alter a record");
    let broken = verify(&t.issues, &commission).await;
    assert!(!broken.valid, "{broken:?}");
    let fault = broken.first_fault.expect("a fault");
    assert_eq!(fault.record, "accessRecords/2");
    assert_eq!(fault.kind, "ALTERED");

    // Its hash rewritten too: the next record no longer chains to it.
    let row = records(&t.issues, &commission, "").await;
    let forged = {
        use fiveledger_platform::access_log::{Entity, hash};
        use sea_orm::EntityTrait;
        let mut m = Entity::find_by_id(2_i64)
            .one(db.reader())
            .await
            .expect("read")
            .expect("record 2");
        m.hash = hash(&m);
        m.hash
    };
    assert_ne!(forged, row[1].hash);
    db.writer()
        .execute_unprepared(&format!(
            "UPDATE access_records SET hash = '{forged}' WHERE seq = 2"
        ))
        .await
        .expect("forge its hash");
    let fault = verify(&t.issues, &commission)
        .await
        .first_fault
        .expect("a fault");
    assert_eq!(
        (fault.record.as_str(), fault.kind.as_str()),
        ("accessRecords/3", "CHAIN_BROKEN")
    );
}

#[tokio::test]
async fn a_county_commission_sees_only_its_county_and_others_are_refused() {
    let t = spawn_suite(Default::default()).await;
    let (clue, _) = world(&t).await;
    let xingning = county_commission(XINGNING_JW);
    read_clue(&t, &tokens::office(), &clue, 1).await;
    read_clue(&t, &xingning, &clue, 1).await;
    // Xingning's commission sees its own reader, not the city's.
    let theirs = records(&t.issues, &xingning, "").await;
    assert_eq!(
        theirs
            .iter()
            .map(|r| r.subject.as_str())
            .collect::<Vec<_>>(),
        vec!["jw-xingning-jw"]
    );
    assert!(
        records(&t.issues, &xingning, "subject = \"office-nn\"")
            .await
            .is_empty()
    );
    let v = verify(&t.issues, &xingning).await;
    assert!(v.valid && v.records == 1, "{v:?}");
    // Qingxiu's sees nothing; naming the city's subtree does not widen it.
    let qingxiu = county_commission(QINGXIU_JW);
    assert!(records(&t.issues, &qingxiu, "").await.is_empty());
    assert!(
        records(&t.issues, &qingxiu, "scope_path = \"guangxi/nanning\"")
            .await
            .is_empty()
    );
    // The city's commission sees both.
    assert_eq!(records(&t.issues, &tokens::commission(), "").await.len(), 2);

    // Without the commission's role: refused, on both services.
    for channel in [&t.issues, &t.ledgers] {
        for who in [
            tokens::office(),
            tokens::org_department(),
            fiveledger_platform::testing::service_token("ledgers"),
        ] {
            let mut client = AccessLogServiceClient::new(channel.clone());
            let listed = client
                .list_access_records(authed(&who, ListAccessRecordsRequest::default()))
                .await;
            assert_eq!(listed.expect_err("refused").code(), Code::PermissionDenied);
            let verified = client
                .verify_access_log(authed(&who, VerifyAccessLogRequest {}))
                .await;
            assert_eq!(
                verified.expect_err("refused").code(),
                Code::PermissionDenied
            );
        }
    }
    // A filter it does not know is named.
    let bad = AccessLogServiceClient::new(t.issues.clone())
        .list_access_records(authed(
            &tokens::commission(),
            ListAccessRecordsRequest {
                filter: "token = \"x\"".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("unknown field");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(reason(&bad), "INVALID_FILTER");
}

#[tokio::test]
async fn reads_still_queued_are_written_on_a_graceful_shutdown() {
    // A writer that would wait ten minutes before writing a batch.
    let t = spawn_suite_with(Default::default(), |s| {
        s.access_log.flush_ms = 600_000;
        s.access_log.max_batch = 1000;
    })
    .await;
    let (clue, _) = world(&t).await;
    read_clue(&t, &tokens::office(), &clue, 5).await;
    let db = t.service_db("issues").await;
    let count = || async {
        use fiveledger_platform::access_log::Entity;
        use sea_orm::{EntityTrait, PaginatorTrait};
        Entity::find().count(db.reader()).await.expect("count")
    };
    assert_eq!(count().await, 0, "nothing written yet");
    t.take_down("issues").await;
    eventually("the queued reads written", EVENT_TIMEOUT, || async {
        (count().await == 5).then_some(())
    })
    .await;
}

/// Only the access log's tables.
struct AccessLogTables;

impl sea_orm_migration::MigratorTrait for AccessLogTables {
    fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
        vec![Box::new(fiveledger_platform::access_log::Migration)]
    }
}

#[tokio::test]
async fn two_replicas_writing_at_once_keep_one_chain() {
    use fiveledger_platform::access_log::{self, Access, AccessLog, AccessLogSettings, Reader};
    use fiveledger_platform::auth::Caller;
    use fiveledger_platform::storage::Db;
    let env = fiveledger_platform::testing::TestEnv::new("accesslog");
    let connect = || async {
        Db::connect(
            &env.settings.database,
            &env.settings.data_dir.join("x.sqlite"),
        )
        .await
        .expect("db")
    };
    let (a, b) = (connect().await, connect().await);
    a.migrate::<AccessLogTables>().await.expect("migrate");
    let settings = AccessLogSettings {
        flush_ms: 1,
        max_batch: 8,
        ..Default::default()
    };
    let logs = [
        AccessLog::start(a.clone(), &settings),
        AccessLog::start(b.clone(), &settings),
    ];
    const PER_TASK: usize = 50;
    let mut tasks = Vec::new();
    for (n, log) in logs.iter().cycle().take(8).enumerate() {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let reader = Reader {
                caller: Caller::new(&format!("reader-{n}"), "guangxi", &[Role::InspectionOffice]),
                token_digest: digest(&n.to_string()),
            };
            for i in 0..PER_TASK {
                let access = Access::new("/test/Read").resources([format!("clues/c{n}-{i}")]);
                log.record(&reader, access).await;
                if i % 10 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    for log in &logs {
        log.close().await;
    }
    let root = Caller::new("jw", "", &[Role::DisciplineCommission]);
    let verified = access_log::verify(a.reader(), &root).await.expect("verify");
    assert!(verified.valid, "{verified:?}");
    assert_eq!(verified.records, (8 * PER_TASK) as i64);
}
