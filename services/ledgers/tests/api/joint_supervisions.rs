//! Joint supervisions (整改情况联合督查) over gRPC: the city's commission
//! leads, the organisation and propaganda departments, the office and a
//! stationed group take part; one finding per entry, each a supervision
//! posting on the entry's journal.

use crate::common;

use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::ledgers::*;
use fiveledger_proto::rounds::{Organisation, OrganisationKind};
use tonic::Code;

const PARTICIPANTS: [&str; 3] = [
    "organisations/nanning-zzb",
    "organisations/nanning-xcban",
    "organisations/nanning-jw-zhu1",
];

/// Two handed-over entries of Xingning and one still open (a second
/// inspection's list, not fed back); the directory knows the city's bodies.
async fn fixture(app: &TestApp) -> (String, String, String) {
    seed_rounds(app);
    {
        let mut data = app.upstream.data.lock().expect("lock");
        for (id, path, kind) in [
            (
                "nanning-jw",
                "guangxi/nanning/nanning-jw",
                OrganisationKind::DisciplineCommission,
            ),
            (
                "nanning-zzb",
                "guangxi/nanning/nanning-zzb",
                OrganisationKind::OrganisationDepartment,
            ),
            (
                "nanning-xcb",
                "guangxi/nanning/nanning-xcb",
                OrganisationKind::PropagandaDepartment,
            ),
            (
                "nanning-xcban",
                "guangxi/nanning/nanning-xcban",
                OrganisationKind::InspectionOffice,
            ),
            (
                "nanning-jw-zhu1",
                "guangxi/nanning/nanning-jw/nanning-jw-zhu1",
                OrganisationKind::DisciplineCommission,
            ),
            (
                "nanning-jyj",
                "guangxi/nanning/nanning-jyj",
                OrganisationKind::FunctionalDepartment,
            ),
            (
                "liuzhou-zzb",
                "guangxi/liuzhou/liuzhou-zzb",
                OrganisationKind::OrganisationDepartment,
            ),
        ] {
            data.organisations.insert(
                format!("organisations/{id}"),
                Organisation {
                    name: format!("organisations/{id}"),
                    path: path.into(),
                    kind: kind as i32,
                    ..Default::default()
                },
            );
        }
    }
    app.upstream
        .freeze(
            INSPECTION,
            vec![problem("p1", "xingning"), problem("p2", "xingning")],
        )
        .await;
    app.wait_for("", 2).await;
    let inspection = app.upstream.data.lock().expect("lock").inspections[INSPECTION].clone();
    app.upstream.feedback(&inspection).await;
    let handed = app.wait_for("state = ENTRY_STATE_HANDED_OVER", 2).await;
    let mut later = problem("p3", "xingning");
    later.inspection = REGULAR.into();
    app.upstream.freeze(REGULAR, vec![later]).await;
    let all = app.wait_for("", 3).await;
    let open = all
        .iter()
        .find(|e| e.problem == "problems/p3")
        .map(|e| e.name.clone())
        .expect("open entry");
    (handed[0].name.clone(), handed[1].name.clone(), open)
}

fn commission_of_the_city() -> String {
    testing::token(
        "jw-li",
        "guangxi/nanning/nanning-jw",
        &[Role::DisciplineCommission],
    )
}

fn create(
    entries: &[&str],
    participants: &[&str],
    request_id: &str,
) -> CreateJointSupervisionRequest {
    CreateJointSupervisionRequest {
        joint_supervision: Some(JointSupervision {
            title: "2026年第三季度整改情况联合督查".into(),
            participants: participants.iter().map(|p| p.to_string()).collect(),
            entries: entries.iter().map(|e| e.to_string()).collect(),
            ..Default::default()
        }),
        joint_supervision_id: String::new(),
        request_id: request_id.into(),
    }
}

fn finding(name: &str, entry: &str, request_id: &str) -> PostJointFindingRequest {
    PostJointFindingRequest {
        name: name.into(),
        entry: entry.into(),
        finding: "整改措施未落实到位，台账与实际不符".into(),
        evidence: evidence("督查记录.pdf"),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn a_joint_supervision_posts_one_finding_per_entry_for_its_bodies() {
    let app = spawn().await;
    let (e1, e2, open) = fixture(&app).await;
    let mut joint = app.joint();
    let lead = commission_of_the_city();
    // Refused before anything is stored: an entry not yet handed over, an
    // unknown one, a participant of another city (as unknown).
    for (entries, participants) in [
        (vec![e1.as_str(), open.as_str()], PARTICIPANTS.to_vec()),
        (
            vec![e1.as_str(), "entries/no-such-entry"],
            PARTICIPANTS.to_vec(),
        ),
        (vec![e1.as_str()], vec!["organisations/liuzhou-zzb"]),
    ] {
        let status = joint
            .create_joint_supervision(authed(&lead, create(&entries, &participants, "")))
            .await
            .expect_err("out of scope");
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
    // Only a commission leads one.
    let status = joint
        .create_joint_supervision(authed(&office(), create(&[&e1], &PARTICIPANTS, "")))
        .await
        .expect_err("not a commission");
    assert_eq!(status.code(), Code::PermissionDenied);
    let campaign = joint
        .create_joint_supervision(authed(&lead, create(&[&e1, &e2], &PARTICIPANTS, "js-1")))
        .await
        .expect("created")
        .into_inner();
    assert_eq!(campaign.lead_path, "guangxi/nanning/nanning-jw");
    assert_eq!(campaign.level_path, "guangxi/nanning");
    assert_eq!(campaign.participant_paths.len(), 3);
    let name = campaign.name.clone();
    // The organisation department posts on the first entry: a supervision
    // posting on its journal, named by the finding.
    let zzb = testing::token(
        "zzb-liu",
        "guangxi/nanning/nanning-zzb",
        &[Role::Supervisor],
    );
    let before = app.get(&e1).await.posting_count;
    let after = joint
        .post_joint_finding(authed(&zzb, finding(&name, &e1, "f-1")))
        .await
        .expect("posted")
        .into_inner();
    assert_eq!(after.findings.len(), 1);
    let posted = &after.findings[0];
    assert_eq!(posted.posted_for_path, "guangxi/nanning/nanning-zzb");
    let entry = app.get(&e1).await;
    assert_eq!(entry.posting_count, before + 1);
    let last = entry.postings.last().expect("posting");
    assert_eq!(last.kind(), PostingKind::Supervision);
    assert_eq!(last.name, posted.posting);
    assert_eq!(last.actor, "zzb-liu");
    // A second finding on the same entry, by another participant: refused.
    let stationed = testing::token(
        "zhu1-he",
        "guangxi/nanning/nanning-jw/nanning-jw-zhu1",
        &[Role::DisciplineCommission],
    );
    let status = joint
        .post_joint_finding(authed(&stationed, finding(&name, &e1, "f-2")))
        .await
        .expect_err("second finding");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "FINDING_ALREADY_POSTED");
    assert_eq!(
        app.get(&e1).await.posting_count,
        before + 1,
        "nothing written"
    );
    // A body of the level that is not among the participants (the city's
    // propaganda department): refused; a body that neither works at the
    // level nor takes part does not see it.
    let propaganda = testing::token(
        "xcb-zhao",
        "guangxi/nanning/nanning-xcb",
        &[Role::Supervisor],
    );
    let before2 = app.get(&e2).await.posting_count;
    let status = joint
        .post_joint_finding(authed(&propaganda, finding(&name, &e2, "f-3")))
        .await
        .expect_err("not a participant");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "NOT_A_PARTICIPANT");
    let department = testing::token(
        "jyj-chen",
        "guangxi/nanning/nanning-jyj",
        &[Role::Supervisor],
    );
    let status = joint
        .post_joint_finding(authed(&department, finding(&name, &e2, "f-3")))
        .await
        .expect_err("not in its sight");
    assert_eq!(status.code(), Code::NotFound);
    // An entry not in the campaign.
    let status = joint
        .post_joint_finding(authed(&stationed, finding(&name, &open, "f-4")))
        .await
        .expect_err("not among its entries");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&status), "entry");
    assert_eq!(app.get(&e2).await.posting_count, before2, "nothing written");
    // The stationed group posts on the second; a retry answers the same.
    let first = joint
        .post_joint_finding(authed(&stationed, finding(&name, &e2, "f-5")))
        .await
        .expect("the stationed group")
        .into_inner();
    let again = joint
        .post_joint_finding(authed(&stationed, finding(&name, &e2, "f-5")))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(app.get(&e2).await.posting_count, before2 + 1);
    // Read back by the office of the level; another city's body sees none.
    let read = joint
        .get_joint_supervision(authed(
            &office(),
            GetJointSupervisionRequest { name: name.clone() },
        ))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read.findings.len(), 2);
    let outsider = testing::token("lz-zzb", "guangxi/liuzhou/liuzhou-zzb", &[Role::Supervisor]);
    let status = joint
        .get_joint_supervision(authed(&outsider, GetJointSupervisionRequest { name }))
        .await
        .expect_err("another city");
    assert_eq!(status.code(), Code::NotFound);
}
