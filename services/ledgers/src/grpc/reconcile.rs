//! 督办对账: the books against the issues service, for one scope. Every
//! frozen problem must have exactly one entry, every entry its problem, and
//! reported = open + handed over + transferred + awaiting verification +
//! written off + reopened.

use std::collections::{BTreeMap, BTreeSet};

use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::error::from_upstream;
use fiveledger_platform::storage::within_subtree;
use fiveledger_platform::time::to_timestamp;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::ListProblemsRequest;
use fiveledger_proto::ledgers::*;
use sea_orm::{ColumnTrait, Condition};

use super::Api;
use crate::domain::entry::name_of;
use crate::storage::books;
use crate::storage::entries::Column as C;
use fiveledger_platform::aip::names::parse_path;

/// Problems asked per page of the issues service.
const PAGE: i32 = 1000;

/// Adds one entry in `state` to the balance; false for a state no bucket holds.
fn count(balance: &mut Balance, state: EntryState) -> bool {
    use EntryState as S;
    balance.reported += 1;
    match state {
        S::Open => balance.open += 1,
        S::HandedOver | S::Acknowledged | S::Planned | S::Rectifying => balance.handed_over += 1,
        S::Transferred => balance.transferred += 1,
        S::AwaitingVerification => balance.awaiting_verification += 1,
        S::WrittenOff => balance.written_off += 1,
        S::Reopened => balance.reopened += 1,
        S::Unspecified => return false,
    }
    true
}

pub async fn reconcile(
    api: &Api,
    caller: &Caller,
    r: &ReconcileRequest,
) -> ApiResult<ReconcileResponse> {
    let scopes = [&r.inspection, &r.round, &r.organisation_path]
        .iter()
        .filter(|s| !s.is_empty())
        .count();
    if scopes != 1 {
        return Err(ApiError::invalid(
            "inspection",
            "ONE_SCOPE",
            "set exactly one of inspection, round and organisation_path",
        ));
    }
    let (problem_filter, entry_filter) = if !r.inspection.is_empty() {
        names::parse_nested("inspection", &r.inspection, "rounds", "inspections")?;
        (
            format!("inspection = \"{}\" AND frozen = true", r.inspection),
            Condition::all().add(C::Inspection.eq(r.inspection.clone())),
        )
    } else if !r.round.is_empty() {
        names::parse("round", &r.round, "rounds")?;
        (
            format!("round = \"{}\" AND frozen = true", r.round),
            Condition::all().add(C::Round.eq(r.round.clone())),
        )
    } else {
        let path = parse_path("organisation_path", &r.organisation_path)?;
        (
            format!("target_subtree = \"{path}\" AND frozen = true"),
            Condition::all().add(within_subtree(C::TargetPath, &path)),
        )
    };

    // The issues service's side, in pages; only what the caller may see.
    let mut problems = BTreeSet::new();
    let mut client = api.upstreams.problems.clone();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_problems(ListProblemsRequest {
                page_size: PAGE,
                page_token: page_token.clone(),
                filter: problem_filter.clone(),
                order_by: String::new(),
            })
            .await
            .map_err(|s| from_upstream("issues", "problems", s))?
            .into_inner();
        problems.extend(
            page.problems
                .into_iter()
                .filter(|p| caller.can_see(&p.target_path))
                .map(|p| p.name),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }

    // The books' side.
    let filter = entry_filter.add(books::visible_to(caller));
    let tally = books::tally(api.db.reader(), filter).await?;
    let mut balance = Balance::default();
    let mut discrepancies = Vec::new();
    let mut by_problem: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, problem, state) in &tally {
        by_problem.entry(problem).or_default().push(id);
        let state = EntryState::from_str_name(state).unwrap_or_default();
        if !count(&mut balance, state) {
            discrepancies.push(Discrepancy {
                kind: "BALANCE".into(),
                subject: name_of(id),
                description: "the entry is in no state the balance counts".into(),
            });
        }
    }
    for problem in &problems {
        match by_problem.get(problem.as_str()).map(Vec::len).unwrap_or(0) {
            0 => discrepancies.push(Discrepancy {
                kind: "PROBLEM_WITHOUT_ENTRY".into(),
                subject: problem.clone(),
                description: format!("{problem} is frozen but has no ledger entry"),
            }),
            1 => {}
            n => discrepancies.push(Discrepancy {
                kind: "DUPLICATE_ENTRY".into(),
                subject: problem.clone(),
                description: format!("{problem} has {n} ledger entries"),
            }),
        }
    }
    for (problem, ids) in &by_problem {
        if !problems.contains(*problem) {
            for id in ids {
                discrepancies.push(Discrepancy {
                    kind: "ENTRY_WITHOUT_PROBLEM".into(),
                    subject: name_of(id),
                    description: format!(
                        "{} is posted for {problem}, which is not a frozen problem of the scope",
                        name_of(id)
                    ),
                });
            }
        }
    }
    if balance.reported != problems.len() as i64 {
        discrepancies.push(Discrepancy {
            kind: "BALANCE".into(),
            subject: "reported".into(),
            description: format!(
                "the books report {} entries; the issues service holds {} frozen problems",
                balance.reported,
                problems.len()
            ),
        });
    }
    Ok(ReconcileResponse {
        balance: Some(balance),
        problems: problems.len() as i64,
        balanced: discrepancies.is_empty(),
        discrepancies,
        reconcile_time: Some(to_timestamp(chrono::Utc::now())),
    })
}
