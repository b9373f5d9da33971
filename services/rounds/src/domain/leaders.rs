//! The notice to the leaders in charge (分管领导通报): before each feedback
//! the party and government leaders in charge of the inspected unit are
//! told what the inspection found, so they can guide and supervise its
//! rectification (L851–861, L2658–2660). Feedback needs it.

use chrono::NaiveDate;
use fiveledger_platform::aip::names::validate_text;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::time::to_date;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::{
    ErrorReason, Inspection, LeaderInCharge, LeaderInChargeRole, LeadersInChargeNotice,
};

use super::inspection::{MAX_PERSON, MAX_SUMMARY, missing, required_date};
use super::parse_enum;

/// Most leaders one notice names.
pub const MAX_LEADERS: usize = 20;
/// The sides a notice must reach: one leader in charge of each.
pub const ROLES: [LeaderInChargeRole; 2] =
    [LeaderInChargeRole::Party, LeaderInChargeRole::Government];

/// Validates a notice: its date, 1-20 leaders each with a role and a name,
/// at least one of each role, a bounded summary. Returns it trimmed.
pub fn parse_notice(
    notice: Option<&LeadersInChargeNotice>,
) -> ApiResult<(NaiveDate, LeadersInChargeNotice)> {
    let notice = notice.ok_or_else(|| ApiError::required("notice"))?;
    let date = required_date("notice.date", notice.date.as_ref())?;
    if notice.leaders.len() > MAX_LEADERS {
        return Err(ApiError::invalid(
            "notice.leaders",
            CommonReason::TooMany,
            format!("at most {MAX_LEADERS} leaders"),
        ));
    }
    validate_text("notice.summary", &notice.summary, false, MAX_SUMMARY)?;
    let mut leaders = Vec::with_capacity(notice.leaders.len());
    for (i, leader) in notice.leaders.iter().enumerate() {
        let field = format!("notice.leaders[{i}]");
        let role: LeaderInChargeRole = parse_enum(&format!("{field}.role"), leader.role)?;
        validate_text(
            &format!("{field}.display_name"),
            &leader.display_name,
            true,
            MAX_PERSON,
        )?;
        validate_text(&format!("{field}.post"), &leader.post, false, MAX_PERSON)?;
        leaders.push(LeaderInCharge {
            role: role as i32,
            display_name: leader.display_name.trim().to_owned(),
            post: leader.post.trim().to_owned(),
        });
    }
    for role in ROLES {
        if !leaders.iter().any(|l| l.role() == role) {
            return Err(ApiError::invalid(
                "notice.leaders",
                ErrorReason::LeaderInChargeMissing,
                format!(
                    "the notice names no leader in charge of role {}: both the party's and the government's are notified",
                    role.as_str_name()
                ),
            ));
        }
    }
    Ok((
        date,
        LeadersInChargeNotice {
            date: Some(to_date(date)),
            leaders,
            summary: notice.summary.trim().to_owned(),
        },
    ))
}

/// The timeline step's text: who was notified.
pub fn describe(notice: &LeadersInChargeNotice) -> String {
    let who: Vec<&str> = notice
        .leaders
        .iter()
        .map(|l| l.display_name.as_str())
        .collect();
    format!("leaders in charge notified: {}", who.join(", "))
}

/// The day the leaders in charge were notified; FAILED_PRECONDITION
/// `LEADERS_IN_CHARGE_NOT_NOTIFIED` naming the missing step when they were
/// not (feedback needs it).
pub fn notified_on(name: &str, records: &Inspection) -> ApiResult<NaiveDate> {
    records
        .leaders_in_charge_notice
        .as_ref()
        .and_then(|n| n.date.as_ref())
        .and_then(|d| fiveledger_platform::time::from_date("", d).ok())
        .ok_or_else(|| {
            missing(
                ErrorReason::LeadersInChargeNotNotified,
                name,
                "the leaders in charge are not notified yet (NotifyLeadersInCharge comes before GiveFeedback)",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fiveledger_proto::google::r#type::Date;

    fn leader(role: LeaderInChargeRole, name: &str) -> LeaderInCharge {
        LeaderInCharge {
            role: role as i32,
            display_name: name.into(),
            post: String::new(),
        }
    }

    #[test]
    fn a_notice_reaches_both_sides() {
        let mut notice = LeadersInChargeNotice {
            date: Some(Date {
                year: 2026,
                month: 5,
                day: 20,
            }),
            leaders: vec![leader(LeaderInChargeRole::Party, "张常委")],
            summary: "巡察情况".into(),
        };
        let err = parse_notice(Some(&notice)).expect_err("no government leader");
        assert_eq!(err.reason(), "LEADER_IN_CHARGE_MISSING");
        notice
            .leaders
            .push(leader(LeaderInChargeRole::Government, " 王副市长 "));
        let (_, parsed) = parse_notice(Some(&notice)).expect("both sides");
        assert_eq!(parsed.leaders[1].display_name, "王副市长");
        notice
            .leaders
            .push(leader(LeaderInChargeRole::Unspecified, "李"));
        let err = parse_notice(Some(&notice)).expect_err("no role");
        assert!(
            matches!(err, ApiError::InvalidArgument { ref field, .. } if field == "notice.leaders[2].role")
        );
    }
}
