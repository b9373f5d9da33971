//! Every request of the rounds service, decoded from arbitrary bytes and
//! parsed as its handler does before it reads or writes anything.
#![no_main]

#[path = "common.rs"]
mod common;

use common::{filter, key, page, run};
use fiveledger_platform::aip::{etag, field_mask, names};
use fiveledger_platform::outbox;
use fiveledger_platform::time::from_date;
use fiveledger_proto::rounds::*;
use fiveledger_rounds::domain::inspector::{self, InspectorInput};
use fiveledger_rounds::domain::organisation::{self, NewOrganisation};
use fiveledger_rounds::domain::round::{self, NewRound};
use fiveledger_rounds::domain::{inspection, parse_enum};
use fiveledger_rounds::grpc::parsing::*;
use libfuzzer_sys::fuzz_target;

fn inspection_name(field: &str, name: &str) -> fiveledger_platform::ApiResult<()> {
    names::parse_nested(field, name, round::COLLECTION, inspection::COLLECTION).map(|_| ())
}

fn group_name(field: &str, name: &str) -> fiveledger_platform::ApiResult<()> {
    names::parse_nested(field, name, round::COLLECTION, inspection::GROUPS).map(|_| ())
}

fn date(
    field: &str,
    d: Option<&fiveledger_proto::google::r#type::Date>,
) -> fiveledger_platform::ApiResult<()> {
    match d {
        Some(d) => from_date(field, d).map(|_| ()),
        None => Ok(()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&method, bytes)) = data.split_first() else {
        return;
    };
    match method % 35 {
        // OrganisationService
        0 => run(bytes, |r: &CreateOrganisationRequest| {
            key("CreateOrganisation", &r.request_id, r)?;
            NewOrganisation::parse(r.organisation.as_ref(), &r.organisation_id).map(|_| ())
        }),
        1 => run(bytes, |r: &GetOrganisationRequest| {
            names::parse("name", &r.name, organisation::COLLECTION).map(|_| ())
        }),
        2 => run(bytes, |r: &BatchGetOrganisationsRequest| {
            names::at_most("names", r.names.len(), 1000)?;
            for n in &r.names {
                names::parse("names", n, organisation::COLLECTION)?;
            }
            Ok(())
        }),
        3 => run(bytes, |r: &ListOrganisationsRequest| {
            page(
                r.page_size,
                &r.page_token,
                &[&r.filter, &r.order_by],
                Some((&r.order_by, &["name", "display_name"])),
            )?;
            filter(&r.filter)
        }),
        4 => run(bytes, |r: &UpdateOrganisationRequest| {
            key("UpdateOrganisation", &r.request_id, r)?;
            let patch = r
                .organisation
                .as_ref()
                .ok_or_else(|| fiveledger_platform::ApiError::required("organisation"))?;
            let fields = field_mask::paths(r.update_mask.as_ref(), &["display_name", "code"])?;
            if fields.contains("display_name") {
                names::validate_text(
                    "organisation.display_name",
                    &patch.display_name,
                    true,
                    organisation::MAX_DISPLAY_NAME,
                )?;
            }
            if fields.contains("code") {
                names::validate_text(
                    "organisation.code",
                    &patch.code,
                    false,
                    organisation::MAX_CODE,
                )?;
            }
            names::parse("organisation.name", &patch.name, organisation::COLLECTION)?;
            etag::check(&patch.name, &patch.etag, 1)
        }),
        // InspectorService
        5 => run(bytes, |r: &CreateInspectorRequest| {
            key("CreateInspector", &r.request_id, r)?;
            let i = r
                .inspector
                .as_ref()
                .ok_or_else(|| fiveledger_platform::ApiError::required("inspector"))?;
            InspectorInput::parse(i, INSPECTOR_FIELDS)?;
            if !r.inspector_id.is_empty() {
                names::validate_id("inspector_id", &r.inspector_id)?;
            }
            Ok(())
        }),
        6 => run(bytes, |r: &GetInspectorRequest| {
            names::parse("name", &r.name, inspector::COLLECTION).map(|_| ())
        }),
        7 => run(bytes, |r: &ListInspectorsRequest| {
            page(r.page_size, &r.page_token, &[&r.filter], None)?;
            filter(&r.filter)
        }),
        8 => run(bytes, |r: &UpdateInspectorRequest| {
            key("UpdateInspector", &r.request_id, r)?;
            let patch = r
                .inspector
                .as_ref()
                .ok_or_else(|| fiveledger_platform::ApiError::required("inspector"))?;
            let fields: Vec<&str> = field_mask::paths(r.update_mask.as_ref(), INSPECTOR_FIELDS)?
                .into_iter()
                .collect();
            InspectorInput::parse(patch, &fields)?;
            names::parse("inspector.name", &patch.name, inspector::COLLECTION).map(|_| ())
        }),
        // RoundService
        9 => run(bytes, |r: &CreateRoundRequest| {
            key("CreateRound", &r.request_id, r)?;
            NewRound::parse(r.round.as_ref(), &r.round_id).map(|_| ())
        }),
        10 => run(bytes, |r: &GetRoundRequest| {
            names::parse("name", &r.name, round::COLLECTION).map(|_| ())
        }),
        11 => run(bytes, |r: &ListRoundsRequest| {
            page(r.page_size, &r.page_token, &[&r.filter], None)?;
            filter(&r.filter)
        }),
        12 => run(bytes, |r: &UpdateRoundRequest| {
            key("UpdateRound", &r.request_id, r)?;
            let parsed = parse_round_patch(r)?;
            names::parse("round.name", &parsed.patch.name, round::COLLECTION).map(|_| ())
        }),
        13 => run(bytes, |r: &StartRoundRequest| {
            key("StartRound", &r.request_id, r)?;
            names::parse("name", &r.name, round::COLLECTION)?;
            etag::check(&r.name, &r.etag, 1)
        }),
        14 => run(bytes, |r: &CloseRoundRequest| {
            key("CloseRound", &r.request_id, r)?;
            names::parse("name", &r.name, round::COLLECTION)?;
            etag::check(&r.name, &r.etag, 1)
        }),
        // GroupService
        15 => run(bytes, |r: &CreateGroupRequest| {
            key("CreateGroup", &r.request_id, r)?;
            let g = r
                .group
                .as_ref()
                .ok_or_else(|| fiveledger_platform::ApiError::required("group"))?;
            names::validate_text("group.display_name", &g.display_name, true, 200)?;
            if !r.group_id.is_empty() {
                names::validate_id("group_id", &r.group_id)?;
            }
            parse_staff(g)?;
            names::parse("parent", &r.parent, round::COLLECTION).map(|_| ())
        }),
        16 => run(bytes, |r: &GetGroupRequest| group_name("name", &r.name)),
        17 => run(bytes, |r: &ListGroupsRequest| {
            page(r.page_size, &r.page_token, &[&r.parent], None)?;
            names::parse("parent", &r.parent, round::COLLECTION).map(|_| ())
        }),
        18 => run(bytes, |r: &AddGroupMembersRequest| {
            key("AddGroupMembers", &r.request_id, r)?;
            names::at_most("members", r.members.len(), 100)?;
            parse_additions(
                r.members
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (format!("members[{i}]"), m.inspector.clone(), m.role)),
            )?;
            group_name("group", &r.group)
        }),
        19 => run(bytes, |r: &RemoveGroupMembersRequest| {
            key("RemoveGroupMembers", &r.request_id, r)?;
            names::at_most("inspectors", r.inspectors.len(), 100)?;
            for (i, n) in r.inspectors.iter().enumerate() {
                names::parse(&format!("inspectors[{i}]"), n, inspector::COLLECTION)?;
            }
            group_name("group", &r.group)
        }),
        // InspectionService
        20 => run(bytes, |r: &GetInspectionRequest| {
            inspection_name("name", &r.name)
        }),
        21 => run(bytes, |r: &BatchGetInspectionsRequest| {
            names::at_most("names", r.names.len(), 1000)?;
            for n in &r.names {
                inspection_name("names", n)?;
            }
            Ok(())
        }),
        22 => run(bytes, |r: &CreateInspectionRequest| {
            key("CreateInspection", &r.request_id, r)?;
            let new = r
                .inspection
                .as_ref()
                .ok_or_else(|| fiveledger_platform::ApiError::required("inspection"))?;
            names::parse("inspection.target", &new.target, organisation::COLLECTION)?;
            if !r.inspection_id.is_empty() {
                names::validate_id("inspection_id", &r.inspection_id)?;
            }
            names::parse("parent", &r.parent, round::COLLECTION).map(|_| ())
        }),
        23 => run(bytes, |r: &ListInspectionsRequest| {
            page(r.page_size, &r.page_token, &[&r.parent, &r.filter], None)?;
            if !r.parent.is_empty() {
                names::parse("parent", &r.parent, round::COLLECTION)?;
            }
            filter(&r.filter)
        }),
        24 => run(bytes, |r: &GetInspectionTimelineRequest| {
            inspection_name("name", &r.name)
        }),
        25 => run(bytes, |r: &AssignInspectionGroupRequest| {
            key("AssignInspectionGroup", &r.request_id, r)?;
            inspection_name("name", &r.name)?;
            group_name("group", &r.group)
        }),
        26 => run(bytes, |r: &RecordBriefingRequest| {
            key("RecordBriefing", &r.request_id, r)?;
            let b = r
                .briefing
                .as_ref()
                .ok_or_else(|| fiveledger_platform::ApiError::required("briefing"))?;
            names::parse(
                "briefing.organisation",
                &b.organisation,
                organisation::COLLECTION,
            )?;
            names::validate_text(
                "briefing.summary",
                &b.summary,
                false,
                inspection::MAX_SUMMARY,
            )?;
            date("briefing.date", b.date.as_ref())?;
            inspection_name("name", &r.name)
        }),
        27 => run(bytes, |r: &StartStationingRequest| {
            key("StartStationing", &r.request_id, r)?;
            required_date("start_date", r.start_date.as_ref())?;
            required_date("end_date", r.end_date.as_ref())?;
            inspection_name("name", &r.name)
        }),
        28 => run(bytes, |r: &ReportInspectionRequest| {
            key("ReportInspection", &r.request_id, r)?;
            let _: InspectionReportKind = parse_enum("kind", r.kind)?;
            parse_report("report", r.report.as_ref())?;
            inspection_name("name", &r.name)
        }),
        29 => run(bytes, |r: &GiveFeedbackRequest| {
            key("GiveFeedback", &r.request_id, r)?;
            let f = r
                .feedback
                .as_ref()
                .ok_or_else(|| fiveledger_platform::ApiError::required("feedback"))?;
            parse_feedback_part("feedback.individual", f.individual.as_ref())?;
            parse_feedback_part("feedback.public", f.public.as_ref())?;
            inspection_name("name", &r.name)
        }),
        30 => run(bytes, |r: &StartRectificationRequest| {
            key("StartRectification", &r.request_id, r)?;
            date("start_date", r.start_date.as_ref())?;
            inspection_name("name", &r.name)
        }),
        31 => run(bytes, |r: &RecordDoubleReportRequest| {
            key("RecordDoubleReport", &r.request_id, r)?;
            let _: DoubleReportKind = parse_enum("kind", r.kind)?;
            parse_report("report", r.report.as_ref())?;
            inspection_name("name", &r.name)
        }),
        32 => run(bytes, |r: &CloseInspectionRequest| {
            key("CloseInspection", &r.request_id, r)?;
            names::validate_text("note", &r.note, false, inspection::MAX_SUMMARY)?;
            required_date("close_date", r.close_date.as_ref())?;
            inspection_name("name", &r.name)
        }),
        33 => run(bytes, |_: &SweepDoubleReportsRequest| Ok(())),
        // EventService
        _ => run(bytes, |r: &WatchEventsRequest| {
            outbox::parse_cursor(&r.after_cursor).map(|_| ())
        }),
    }
});
