//! The notice to the leaders in charge before feedback (分管领导通报), and
//! the hand-offs at feedback (移交): each made to the body the source routes
//! it to, seen and acknowledged by that body alone, coloured until it is.

use super::*;

use fiveledger_proto::rounds::hand_off_service_client::HandOffServiceClient;
use fiveledger_proto::types::WarningColour as W;

/// The hand-offs the `HandOffMade` events in the outbox carry, in order.
async fn made_events(db: &Db) -> Vec<HandOff> {
    use prost::Message;
    use sea_orm::{ColumnTrait, QueryFilter};
    outbox::Entity::find()
        .filter(outbox::Column::EventType.eq("HandOffMade"))
        .order_by_asc(outbox::Column::Id)
        .all(db.reader())
        .await
        .expect("events")
        .into_iter()
        .map(|e| {
            let any = prost_types::Any::decode(e.payload.as_slice()).expect("any");
            let made: HandOffMade = any.to_msg().expect("HandOffMade");
            made.hand_off.expect("hand-off")
        })
        .collect()
}

fn hand_offs(app: &TestApp) -> HandOffServiceClient<Channel> {
    HandOffServiceClient::new(app.channel.clone())
}

/// The city's discipline commission, organisation department and a
/// functional department of the city, as their tokens name them.
fn commission() -> String {
    testing::token(
        "jw-zhang",
        "guangxi/nanning/nanning-jw",
        &[Role::DisciplineCommission],
    )
}

fn organisation_department() -> String {
    testing::token("zzb-li", "guangxi/nanning/nanning-zzb", &[Role::Supervisor])
}

fn bureau() -> String {
    testing::token("jyj-wu", "guangxi/nanning/nanning-jyj", &[Role::Supervisor])
}

/// A city bureau (a functional department of the level) and one of a
/// county outside the target's subtree.
async fn functional_departments(app: &TestApp) {
    let t = admin();
    app.org(
        &t,
        "nanning-jyj",
        OrganisationKind::FunctionalDepartment,
        "organisations/nanning",
        "南宁市教育局",
    )
    .await;
    app.org(
        &t,
        "qx-edu",
        OrganisationKind::FunctionalDepartment,
        "organisations/qingxiu",
        "青秀区教育局",
    )
    .await;
}

fn functional(org: &str) -> FunctionalHandOff {
    FunctionalHandOff {
        organisation: format!("organisations/{org}"),
        summary: "教育收费方面的重要问题".into(),
    }
}

impl Steps {
    /// Feedback on `on` (both parts), handing other important problems to
    /// the functional departments `to`.
    fn feedback_to(&self, on: NaiveDate, to: &[&str]) -> tonic::Request<GiveFeedbackRequest> {
        let mut request = self.feedback(day(on), day(on));
        request.get_mut().functional_hand_offs = to.iter().map(|o| functional(o)).collect();
        request
    }
}

async fn list(
    app: &TestApp,
    token: &str,
    parent: &str,
    filter: &str,
) -> Result<Vec<HandOff>, tonic::Status> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = hand_offs(app)
            .list_hand_offs(authed(
                token,
                ListHandOffsRequest {
                    parent: parent.into(),
                    page_size: 2,
                    page_token,
                    filter: filter.into(),
                },
            ))
            .await?
            .into_inner();
        out.extend(page.hand_offs);
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        page_token = page.next_page_token;
    }
}

fn ids(list: &[HandOff]) -> Vec<String> {
    list.iter()
        .map(|h| h.name.rsplit('/').next().unwrap_or_default().to_owned())
        .collect()
}

async fn acknowledge(
    app: &TestApp,
    token: &str,
    name: &str,
    on: Option<NaiveDate>,
) -> Result<HandOff, tonic::Status> {
    hand_offs(app)
        .acknowledge_hand_off(authed(
            token,
            AcknowledgeHandOffRequest {
                name: name.into(),
                date: on.and_then(day),
                note: "已签收".into(),
                etag: String::new(),
                request_id: String::new(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn record_result(
    app: &TestApp,
    token: &str,
    name: &str,
    on: Option<NaiveDate>,
    request_id: &str,
) -> Result<HandOff, tonic::Status> {
    hand_offs(app)
        .record_hand_off_result(authed(
            token,
            RecordHandOffResultRequest {
                name: name.into(),
                date: on.and_then(day),
                conclusion: "已立案审查2人".into(),
                etag: String::new(),
                request_id: request_id.into(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The staffed inspection of a started round, reported, its leaders in
/// charge notified: ready for feedback.
async fn notified(app: &TestApp) -> (Clients, Steps) {
    let (mut c, s) = staffed_inspection(app).await;
    start_round(&mut c, "r9").await;
    advance_to(&mut c, &s, InspectionPhase::Reported).await;
    c.inspections
        .notify_leaders_in_charge(s.notice())
        .await
        .expect("notice");
    (c, s)
}

async fn steps_named(c: &mut Clients, name: &str, step: &str) -> Vec<String> {
    c.inspections
        .get_inspection_timeline(authed(
            &office("guangxi/nanning"),
            GetInspectionTimelineRequest { name: name.into() },
        ))
        .await
        .expect("timeline")
        .into_inner()
        .steps
        .into_iter()
        .filter(|st| st.step == step)
        .map(|st| st.description)
        .collect()
}

#[tokio::test]
async fn feedback_is_refused_until_the_leaders_in_charge_are_notified() {
    let app = spawn().await;
    let (mut c, s) = staffed_inspection(&app).await;
    start_round(&mut c, "r9").await;
    advance_to(&mut c, &s, InspectionPhase::Reported).await;
    let db = app.db().await;
    let reported = get(&mut c, &s.name).await;
    let events = outbox_len(&db).await;

    // Feedback first: refused, naming the missing step; nothing written.
    let i = &mut c.inspections;
    let status = i
        .give_feedback(s.feedback(s.at(92), s.at(94)))
        .await
        .expect_err("not notified");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "LEADERS_IN_CHARGE_NOT_NOTIFIED");
    assert!(
        status.message().contains("NotifyLeadersInCharge"),
        "{status:?}"
    );
    assert_eq!(first_violation(&status).subject, s.name);

    // A notice must reach both the party's and the government's leader.
    let mut party_only = s.notice();
    party_only
        .get_mut()
        .notice
        .as_mut()
        .expect("notice")
        .leaders
        .truncate(1);
    let status = i
        .notify_leaders_in_charge(party_only)
        .await
        .expect_err("one side");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "LEADER_IN_CHARGE_MISSING");
    assert_eq!(bad_field(&status), "notice.leaders");
    // Not before the comprehensive report (day 71).
    let mut early = s.notice();
    early.get_mut().notice.as_mut().expect("notice").date = s.at(70);
    let status = i.notify_leaders_in_charge(early).await.expect_err("early");
    assert_eq!(
        (reason(&status), bad_field(&status)),
        ("DATE_TOO_EARLY".to_owned(), "notice.date".to_owned())
    );
    // Only the office running the round notifies (a county office reads).
    let county = s.by(&office("guangxi/nanning/xingning"));
    let status = i
        .notify_leaders_in_charge(county.notice())
        .await
        .expect_err("county office");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(get(&mut c, &s.name).await, reported);
    assert_eq!(outbox_len(&db).await, events, "refusals write nothing");

    let i = &mut c.inspections;
    let notified = i
        .notify_leaders_in_charge(s.notice())
        .await
        .expect("notice")
        .into_inner();
    assert_eq!(notified.phase, InspectionPhase::Reported as i32);
    let notice = notified.leaders_in_charge_notice.clone().expect("recorded");
    assert_eq!(notice.date, s.at(80));
    assert_eq!(
        notice
            .leaders
            .iter()
            .map(|l| (l.role(), l.display_name.as_str()))
            .collect::<Vec<_>>(),
        [
            (LeaderInChargeRole::Party, "张常委"),
            (LeaderInChargeRole::Government, "王副市长")
        ]
    );
    assert_refused(
        i.notify_leaders_in_charge(s.notice()).await,
        Code::FailedPrecondition,
        "LEADERS_IN_CHARGE_ALREADY_NOTIFIED",
    );
    let steps = steps_named(&mut c, &s.name, "NotifyLeadersInCharge").await;
    assert_eq!(steps, ["leaders in charge notified: 张常委, 王副市长"]);

    // The inspected unit learns who was notified and when, not what.
    let unit = testing::token(
        "edu-head",
        "guangxi/nanning/xingning/xn-edu",
        &[Role::InspectedUnit],
    );
    let seen = c
        .inspections
        .get_inspection(authed(
            &unit,
            GetInspectionRequest {
                name: s.name.clone(),
            },
        ))
        .await
        .expect("own inspection")
        .into_inner()
        .leaders_in_charge_notice
        .expect("notice");
    assert_eq!(seen.leaders.len(), 2);
    assert!(seen.summary.is_empty());
    assert_eq!(notice.summary, "巡察发现的主要问题");

    // Feedback not before the notice (day 80), then it goes through.
    let i = &mut c.inspections;
    let status = i
        .give_feedback(s.feedback(s.at(79), s.at(94)))
        .await
        .expect_err("before the notice");
    assert_eq!(
        (reason(&status), bad_field(&status)),
        (
            "DATE_TOO_EARLY".to_owned(),
            "feedback.individual.date".to_owned()
        )
    );
    let fed = i
        .give_feedback(s.feedback(s.at(92), s.at(94)))
        .await
        .expect("feedback")
        .into_inner();
    assert_eq!(fed.phase, InspectionPhase::FeedbackGiven as i32);
}

#[tokio::test]
async fn feedback_hands_off_to_each_body_which_sees_and_acknowledges_its_own() {
    let app = spawn().await;
    let (mut c, s) = staffed_inspection(&app).await;
    functional_departments(&app).await;
    start_round(&mut c, "r9").await;
    advance_to(&mut c, &s, InspectionPhase::Reported).await;
    c.inspections
        .notify_leaders_in_charge(s.notice())
        .await
        .expect("notice");
    let fed_on = today() - chrono::Days::new(3);
    let db = app.db().await;
    let events = outbox_len(&db).await;

    // Functional hand-offs: only to a functional department within reach,
    // each once; a refused feedback hands nothing off and stays reported.
    for (to, code, why) in [
        (
            &["nanning-zzb"][..],
            Code::InvalidArgument,
            "NOT_A_FUNCTIONAL_DEPARTMENT",
        ),
        (&["qx-edu"][..], Code::NotFound, "NOT_FOUND"),
        (&["no-such-bureau"][..], Code::NotFound, "NOT_FOUND"),
        (
            &["nanning-jyj", "nanning-jyj"][..],
            Code::InvalidArgument,
            "DUPLICATE_FUNCTIONAL_HAND_OFF",
        ),
    ] {
        assert_refused(
            c.inspections.give_feedback(s.feedback_to(fed_on, to)).await,
            code,
            why,
        );
    }
    assert_eq!(
        get(&mut c, &s.name).await.phase(),
        InspectionPhase::Reported
    );
    assert_eq!(outbox_len(&db).await, events, "refusals write nothing");
    let office_token = office("guangxi/nanning");
    assert!(
        list(&app, &office_token, &s.name, "")
            .await
            .expect("list")
            .is_empty()
    );

    // The list holds an ideology problem: propaganda gets its hand-off.
    app.issues.add_ideology_problem(&s.name);
    c.inspections
        .give_feedback(s.feedback_to(fed_on, &["nanning-jyj"]))
        .await
        .expect("feedback");

    // The office follows all five, by name.
    let all = list(&app, &office_token, &s.name, "").await.expect("list");
    assert_eq!(
        ids(&all),
        [
            "discipline-commission",
            "discipline-commission-record",
            "functional-nanning-jyj",
            "organisation-department",
            "propaganda-department",
        ]
    );
    use HandOffItem as I;
    let route = |id: &str| all.iter().find(|h| h.name.ends_with(id)).expect(id).clone();
    let to_commission = route("/discipline-commission");
    assert_eq!(to_commission.receiver, "organisations/nanning-jw");
    assert_eq!(to_commission.kind(), HandOffKind::DisciplineCommission);
    for item in [
        I::Report,
        I::FeedbackOpinions,
        I::CluesLevelManagedCadres,
        I::FixedOnTheSpot,
        I::PetitionList,
    ] {
        assert!(to_commission.items.contains(&(item as i32)), "{item:?}");
    }
    let for_record = route("/discipline-commission-record");
    assert_eq!(for_record.receiver, "organisations/nanning-jw");
    assert_eq!(for_record.items, [I::CluesUnitManagedCadres as i32]);
    let to_zzb = route("/organisation-department");
    assert_eq!(to_zzb.receiver, "organisations/nanning-zzb");
    for item in [
        I::Report,
        I::FeedbackOpinions,
        I::IndividualTalkReports,
        I::LeadingCadreSummary,
    ] {
        assert!(to_zzb.items.contains(&(item as i32)), "{item:?}");
    }
    let to_xcb = route("/propaganda-department");
    assert_eq!(to_xcb.receiver, "organisations/nanning-xcb");
    assert_eq!(to_xcb.items, [I::IdeologyProblems as i32]);
    let to_bureau = route("/functional-nanning-jyj");
    assert_eq!(to_bureau.receiver_path, "guangxi/nanning/nanning-jyj");
    assert!(
        to_bureau
            .items
            .contains(&(I::OtherImportantProblems as i32))
    );
    assert_eq!(to_bureau.summary, "教育收费方面的重要问题");
    for h in &all {
        assert_eq!(h.hand_off_date, day(fed_on));
        assert_eq!(
            h.acknowledgement_due_date,
            day(fed_on + chrono::Days::new(15)),
            "15 days by default"
        );
        assert_eq!(h.colour(), W::Green);
        assert!(h.acknowledgement.is_none());
        assert_eq!(h.target, "organisations/xn-edu");
    }
    assert_eq!(steps_named(&mut c, &s.name, "HandOff").await.len(), 5);
    // Each hand-off's event carries it as stored (its times as read back).
    let mut sent: Vec<HandOff> = made_events(&db).await;
    sent.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(sent, all, "the events' hand-offs are the rows listed");

    // Each body sees what was handed to it, and nothing else.
    let everything = "rounds/-/inspections/-";
    let jw = list(&app, &commission(), everything, "").await.expect("jw");
    assert_eq!(
        ids(&jw),
        ["discipline-commission", "discipline-commission-record"]
    );
    let zzb = list(&app, &organisation_department(), everything, "")
        .await
        .expect("zzb");
    assert_eq!(ids(&zzb), ["organisation-department"]);
    assert_eq!(
        ids(&list(
            &app,
            &office_token,
            everything,
            "receiver = \"organisations/nanning-jw\""
        )
        .await
        .expect("by receiver")),
        ["discipline-commission", "discipline-commission-record"]
    );
    assert_eq!(
        ids(&list(
            &app,
            &office_token,
            everything,
            "kind = HAND_OFF_KIND_PROPAGANDA_DEPARTMENT AND acknowledged = false"
        )
        .await
        .expect("by kind")),
        ["propaganda-department"]
    );
    // A county office reads the inspection but follows none of its
    // hand-offs; a county supervisor sees none either.
    let county = office("guangxi/nanning/xingning");
    assert!(
        list(&app, &county, &s.name, "")
            .await
            .expect("county")
            .is_empty()
    );
    let county_supervisor =
        testing::token("xn-zzb", "guangxi/nanning/xingning", &[Role::Supervisor]);
    assert!(
        list(&app, &county_supervisor, everything, "")
            .await
            .expect("county supervisor")
            .is_empty()
    );
    let status = list(&app, &county, everything, "bogus = 1")
        .await
        .expect_err("unknown field");
    assert_eq!(bad_field(&status), "filter");

    // Acknowledging: out of sight is NOT_FOUND, exactly as a name that does
    // not exist; the office follows but does not sign for the body.
    let unknown = format!("{}/handOffs/no-such", s.name);
    for (token, name) in [
        (organisation_department(), &to_commission.name),
        (county_supervisor.clone(), &to_commission.name),
        (commission(), &unknown),
    ] {
        let status = acknowledge(&app, &token, name, None)
            .await
            .expect_err("out of sight");
        assert_eq!(status.code(), Code::NotFound, "{name}: {status:?}");
    }
    let status = acknowledge(&app, &bureau(), &to_zzb.name, None)
        .await
        .expect_err("another body's");
    assert_eq!(status.code(), Code::NotFound);
    let office_as_body = testing::token(
        "office-zzb",
        "guangxi/nanning",
        &[Role::InspectionOffice, Role::Supervisor],
    );
    let status = acknowledge(&app, &office_as_body, &to_zzb.name, None)
        .await
        .expect_err("not the body");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "NOT_THE_RECEIVING_BODY");
    let status = acknowledge(
        &app,
        &commission(),
        &to_commission.name,
        Some(fed_on - chrono::Days::new(1)),
    )
    .await
    .expect_err("before the hand-off");
    assert_eq!(
        (reason(&status), bad_field(&status)),
        ("DATE_TOO_EARLY".to_owned(), "date".to_owned())
    );
    let status = acknowledge(
        &app,
        &commission(),
        &to_commission.name,
        Some(today() + chrono::Days::new(1)),
    )
    .await
    .expect_err("tomorrow");
    assert_eq!(bad_field(&status), "date");
    assert_eq!(
        list(&app, &office_token, &s.name, "acknowledged = true")
            .await
            .expect("none yet")
            .len(),
        0
    );

    let signed = acknowledge(&app, &commission(), &to_commission.name, None)
        .await
        .expect("the commission signs");
    let receipt = signed.acknowledgement.clone().expect("acknowledged");
    assert_eq!(receipt.date, day(today()));
    assert_eq!(receipt.acknowledged_by, "jw-zhang");
    assert_eq!(signed.colour(), W::Unspecified);
    let status = acknowledge(&app, &commission(), &to_commission.name, None)
        .await
        .expect_err("twice");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "HAND_OFF_ALREADY_ACKNOWLEDGED");
    acknowledge(&app, &bureau(), &to_bureau.name, None)
        .await
        .expect("the bureau signs");
    assert_eq!(
        ids(&list(&app, &office_token, &s.name, "acknowledged = true")
            .await
            .expect("signed")),
        ["discipline-commission", "functional-nanning-jyj"]
    );
    let acks = steps_named(&mut c, &s.name, "AcknowledgeHandOff").await;
    assert_eq!(acks.len(), 2, "{acks:?}");
}

#[tokio::test]
async fn the_receiving_body_records_what_it_did_with_a_hand_off_once_acknowledged() {
    let app = spawn().await;
    let (mut c, s) = notified(&app).await;
    let fed_on = today() - chrono::Days::new(3);
    c.inspections
        .give_feedback(s.feedback(day(fed_on), day(fed_on)))
        .await
        .expect("feedback");
    let name = format!("{}/handOffs/discipline-commission", s.name);
    let db = app.db().await;
    // No ideology problem on the list: nothing for the propaganda
    // department, and the issues service was asked once, for that.
    assert_eq!(
        ids(&list(&app, &office("guangxi/nanning"), &s.name, "")
            .await
            .expect("list")),
        [
            "discipline-commission",
            "discipline-commission-record",
            "organisation-department",
        ]
    );
    assert_eq!(
        *app.issues.asked.lock().expect("lock"),
        [format!(
            "inspection = \"{}\" AND category = \"ideology\"",
            s.name
        )]
    );

    // Not before the body acknowledged it, naming that state.
    let status = record_result(&app, &commission(), &name, None, "")
        .await
        .expect_err("not acknowledged");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "HAND_OFF_NOT_ACKNOWLEDGED");
    assert_eq!(first_violation(&status).subject, name);
    let signed_on = today() - chrono::Days::new(1);
    acknowledge(&app, &commission(), &name, Some(signed_on))
        .await
        .expect("the commission signs");
    let events = outbox_len(&db).await;

    // Another body does not see it (NOT_FOUND, as a name that does not
    // exist); the office follows but does not record for the body.
    let unknown = format!("{}/handOffs/no-such", s.name);
    for (token, target) in [(organisation_department(), &name), (commission(), &unknown)] {
        let status = record_result(&app, &token, target, None, "")
            .await
            .expect_err("out of sight");
        assert_eq!(status.code(), Code::NotFound, "{target}: {status:?}");
    }
    let office_as_body = testing::token(
        "office-jw",
        "guangxi/nanning",
        &[Role::InspectionOffice, Role::DisciplineCommission],
    );
    let status = record_result(&app, &office_as_body, &name, None, "")
        .await
        .expect_err("not the body");
    assert_eq!(reason(&status), "NOT_THE_RECEIVING_BODY");
    // Not before the acknowledgement, nor after today, nor without a
    // conclusion.
    let status = record_result(
        &app,
        &commission(),
        &name,
        Some(signed_on - chrono::Days::new(1)),
        "",
    )
    .await
    .expect_err("before the acknowledgement");
    assert_eq!(
        (reason(&status), bad_field(&status)),
        ("DATE_TOO_EARLY".to_owned(), "date".to_owned())
    );
    let status = record_result(
        &app,
        &commission(),
        &name,
        Some(today() + chrono::Days::new(1)),
        "",
    )
    .await
    .expect_err("tomorrow");
    assert_eq!(bad_field(&status), "date");
    let status = hand_offs(&app)
        .record_hand_off_result(authed(
            &commission(),
            RecordHandOffResultRequest {
                name: name.clone(),
                conclusion: "  ".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("no conclusion");
    assert_eq!(bad_field(&status), "conclusion");
    assert_eq!(outbox_len(&db).await, events, "refusals write nothing");

    let dealt = record_result(&app, &commission(), &name, None, "res-1")
        .await
        .expect("recorded");
    let result = dealt.result.clone().expect("result");
    assert_eq!(result.date, day(today()));
    assert_eq!(result.recorded_by, "jw-zhang");
    assert_eq!(result.conclusion, "已立案审查2人");
    let written = outbox_len(&db).await;
    assert!(written > events, "the result is an event");
    // Replayed by its request id: the same answer, nothing written again.
    let replayed = record_result(&app, &commission(), &name, None, "res-1")
        .await
        .expect("replayed");
    assert_eq!(replayed, dealt);
    assert_eq!(outbox_len(&db).await, written);
    // Once only.
    let status = record_result(&app, &commission(), &name, None, "res-2")
        .await
        .expect_err("twice");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "HAND_OFF_RESULT_ALREADY_RECORDED");

    // Listed with it, to the body and to the office; the others have none.
    for token in [commission(), office("guangxi/nanning")] {
        let all = list(&app, &token, &s.name, "").await.expect("list");
        let with: Vec<_> = all.iter().filter(|h| h.result.is_some()).collect();
        assert_eq!(with.len(), 1);
        assert_eq!(with[0].result, Some(result.clone()));
    }
    let steps = steps_named(&mut c, &s.name, "RecordHandOffResult").await;
    assert_eq!(steps.len(), 1, "{steps:?}");
}

#[tokio::test]
async fn feedback_waits_for_the_issues_service_and_writes_nothing_without_it() {
    let app = spawn_without_issues().await;
    let (mut c, s) = notified(&app).await;
    let db = app.db().await;
    let events = outbox_len(&db).await;
    let status = c
        .inspections
        .give_feedback(s.feedback(s.at(92), s.at(94)))
        .await
        .expect_err("issues unreachable");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        get(&mut c, &s.name).await.phase(),
        InspectionPhase::Reported
    );
    assert_eq!(outbox_len(&db).await, events, "nothing half-written");
    assert!(
        list(&app, &admin(), "rounds/-/inspections/-", "")
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn feedback_is_refused_when_the_level_lacks_a_receiving_body() {
    let app = spawn().await;
    // Nanning with its commission and organisation department, but no
    // propaganda department.
    app.small_tree().await;
    app.org(
        &admin(),
        "nanning-zzb",
        OrganisationKind::OrganisationDepartment,
        "organisations/nanning",
        "南宁市委组织部",
    )
    .await;
    app.org(
        &admin(),
        "xn-edu",
        OrganisationKind::FunctionalDepartment,
        "organisations/xingning",
        "兴宁区教育局",
    )
    .await;
    let mut c = clients(&app);
    for id in ["li", "wang"] {
        create_inspector(&mut c, id, "nanning", "")
            .await
            .expect("inspector");
    }
    create_round(&mut c, "r9", RoundKind::Regular, 9, Round::default()).await;
    create_group(&mut c, "r9", "g1", "li", &["wang"])
        .await
        .expect("group");
    let i = create_inspection(&mut c, "r9", "edu", "xn-edu", "g1", "")
        .await
        .expect("inspection");
    let s = Steps {
        token: office("guangxi/nanning"),
        name: i.name,
        base: today() - chrono::Days::new(200),
    };
    start_round(&mut c, "r9").await;
    advance_to(&mut c, &s, InspectionPhase::Reported).await;
    c.inspections
        .notify_leaders_in_charge(s.notice())
        .await
        .expect("notice");
    app.issues.add_ideology_problem(&s.name);
    let status = c
        .inspections
        .give_feedback(s.feedback(s.at(92), s.at(94)))
        .await
        .expect_err("no propaganda department");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "RECEIVING_BODY_MISSING");
    assert!(
        status
            .message()
            .contains("ORGANISATION_KIND_PROPAGANDA_DEPARTMENT"),
        "{status:?}"
    );
    // Nothing half-written: still reported, no hand-off to anyone.
    assert_eq!(
        get(&mut c, &s.name).await.phase(),
        InspectionPhase::Reported
    );
    assert!(
        list(&app, &admin(), "rounds/-/inspections/-", "")
            .await
            .expect("list")
            .is_empty()
    );
    // Once the directory has one, feedback goes through.
    app.org(
        &admin(),
        "nanning-xcb",
        OrganisationKind::PropagandaDepartment,
        "organisations/nanning",
        "南宁市委宣传部",
    )
    .await;
    c.inspections
        .give_feedback(s.feedback(s.at(92), s.at(94)))
        .await
        .expect("feedback");
    assert_eq!(
        list(&app, &admin(), "rounds/-/inspections/-", "")
            .await
            .expect("list")
            .len(),
        4
    );
}

/// The clock moved across the thresholds of the shared defaults (blue from
/// 7 days before the acknowledgement is due, yellow from the day after,
/// red from the 31st day after): each hand-off not acknowledged gets one
/// notice per colour, never two, even from two sweeps at once; an
/// acknowledged one gets none.
#[tokio::test]
async fn a_hand_off_not_acknowledged_goes_blue_yellow_red_with_one_notice_each() {
    let app = spawn_with(fiveledger_rounds::RoundsSettings {
        sweep_interval_seconds: 0,
        hand_off_acknowledgement_days: 10,
        ..Default::default()
    })
    .await;
    let (mut c, s) = notified(&app).await;
    let fed_on = today();
    app.issues.add_ideology_problem(&s.name);
    c.inspections
        .give_feedback(s.feedback(day(fed_on), day(fed_on)))
        .await
        .expect("feedback");
    let due = fed_on + chrono::Days::new(10);
    let office_token = office("guangxi/nanning");
    let all = list(&app, &office_token, &s.name, "").await.expect("list");
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|h| h.acknowledgement_due_date == day(due)));
    // The organisation department signs at once: never coloured.
    let zzb = all
        .iter()
        .find(|h| h.name.ends_with("/organisation-department"))
        .expect("zzb")
        .name
        .clone();
    acknowledge(&app, &organisation_department(), &zzb, None)
        .await
        .expect("signed");

    let sweep = |token: String| {
        let mut client = hand_offs(&app);
        async move {
            client
                .sweep_hand_offs(authed(&token, SweepHandOffsRequest {}))
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let viewer = testing::token("v", "guangxi/nanning", &[Role::Viewer]);
    assert_eq!(
        sweep(viewer).await.expect_err("viewer").code(),
        Code::PermissionDenied
    );
    let db = app.db().await;
    let warned = || {
        let db = db.clone();
        async move {
            outbox::Entity::find()
                .all(db.reader())
                .await
                .expect("outbox")
                .into_iter()
                .filter(|e| e.event_type == "HandOffWarned")
                .count()
        }
    };

    let at = |offset: i64| due + chrono::TimeDelta::days(offset);
    // (day, colour shown, hand-offs swept, notices, kind of notice)
    let table = [
        (fed_on, W::Green, 0, 0, None),
        (at(-8), W::Green, 0, 0, None),
        (at(-7), W::Blue, 3, 3, Some("提醒")),
        (at(0), W::Blue, 3, 0, None),
        (at(1), W::Yellow, 3, 3, Some("督办通知书")),
        (at(30), W::Yellow, 3, 0, None),
        (at(31), W::Red, 3, 3, Some("通报")),
        (at(400), W::Red, 3, 0, None),
    ];
    let mut sent = 0;
    for (on, colour, checked, notices, kind) in table {
        app.clock.set(noon(on));
        let shown = list(&app, &office_token, &s.name, "acknowledged = false")
            .await
            .expect("list");
        assert!(
            shown.iter().all(|h| h.colour() == colour),
            "shown on {on}: {shown:?}"
        );
        // Two sweeps at once (two replicas): one notice per change between them.
        let (a, b) = tokio::join!(sweep(office_token.clone()), sweep(admin()));
        let (a, b) = (a.expect("sweep"), b.expect("sweep"));
        assert_eq!(a.as_of, day(on));
        assert_eq!(a.hand_offs_checked, checked, "swept on {on}");
        assert_eq!(a.notices + b.notices, notices, "on {on}");
        // And once more the same day: nothing new.
        assert_eq!(sweep(office_token.clone()).await.expect("again").notices, 0);
        sent += notices as usize;
        assert_eq!(warned().await, sent, "events on {on}");
        let steps = steps_named(&mut c, &s.name, "HandOffWarning").await;
        assert_eq!(steps.len(), sent, "on {on}: {steps:?}");
        if let Some(prefix) = kind {
            for text in &steps[sent - 3..] {
                assert!(text.starts_with(prefix), "on {on}: {text}");
                assert!(text.contains("兴宁区教育局巡察移交"), "{text}");
            }
            let after = list(&app, &office_token, &s.name, "acknowledged = false")
                .await
                .expect("list");
            assert!(after.iter().all(|h| h.notified_colour() == colour));
        }
    }
    let signed = list(&app, &office_token, &s.name, "acknowledged = true")
        .await
        .expect("signed");
    assert_eq!(ids(&signed), ["organisation-department"]);
    assert_eq!(signed[0].notified_colour(), W::Unspecified);
    assert_eq!(signed[0].colour(), W::Unspecified);
}
