//! The books checked (LedgerService's Reconcile and VerifyJournal).
//!
//! 督办对账: the books against the issues service, for one scope. Every
//! frozen problem must have exactly one entry, every entry its problem, and
//! reported = open + handed over + transferred + awaiting verification +
//! written off + reopened.

use std::collections::{BTreeMap, BTreeSet};

use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::time::to_timestamp;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::Problem;
use fiveledger_proto::ledgers::ErrorReason;
use fiveledger_proto::ledgers::*;

use super::Api;
use super::statistics::tally_scope;
use crate::domain::entry::{self as domain, name_of};
use crate::storage::books::{self, EntryScope};
use crate::storage::{open_tallies, tallies};
use fiveledger_platform::aip::names::parse_path;

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

use crate::upstream::OnBehalf;

pub async fn reconcile(
    api: &Api,
    caller: &Caller,
    on_behalf: OnBehalf,
    r: &ReconcileRequest,
) -> ApiResult<ReconcileResponse> {
    let scopes = [&r.inspection, &r.round, &r.organisation_path]
        .iter()
        .filter(|s| !s.is_empty())
        .count();
    if scopes != 1 {
        return Err(ApiError::invalid(
            "inspection",
            ErrorReason::OneScope,
            "set exactly one of inspection, round and organisation_path",
        ));
    }
    let (scope_filter, scope) = if !r.inspection.is_empty() {
        names::parse_nested("inspection", &r.inspection, "rounds", "inspections")?;
        (
            format!("inspection = \"{}\"", r.inspection),
            EntryScope::Inspection(r.inspection.clone()),
        )
    } else if !r.round.is_empty() {
        names::parse("round", &r.round, "rounds")?;
        (
            format!("round = \"{}\"", r.round),
            EntryScope::Round(r.round.clone()),
        )
    } else {
        let path = parse_path("organisation_path", &r.organisation_path)?;
        (
            format!("target_subtree = \"{path}\""),
            EntryScope::Subtree(path),
        )
    };

    // The issues service's side, in pages; only what the caller may see.
    let problems: BTreeSet<String> = problems_where(
        api,
        caller,
        &on_behalf,
        &format!("{scope_filter} AND frozen = true"),
    )
    .await?
    .into_iter()
    .map(|p| p.name)
    .collect();
    // Reported but not posted: lists that cannot freeze for a missing
    // responsibility. Their problems are accounted for nowhere in the books.
    let waiting = problems_where(
        api,
        caller,
        &on_behalf,
        &format!("{scope_filter} AND frozen = false AND list_state = PROBLEM_LIST_STATE_REPORTED"),
    )
    .await?;
    let unposted = waiting.len() as i64;

    // The books' side.
    let tally = books::tally(api.db.reader(), caller, &scope).await?;
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
    discrepancies.extend(not_frozen(&waiting));
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
        reconcile_time: Some(to_timestamp(api.clock.now())),
        unposted,
    })
}

/// Every problem `filter` selects that the caller may see, page by page:
/// asked on the caller's behalf, so the issues service shows exactly what
/// it shows the caller (a list still with the group stays hidden below the
/// level running its round), within the caller's subtree.
async fn problems_where(
    api: &Api,
    caller: &Caller,
    on_behalf: &OnBehalf,
    filter: &str,
) -> ApiResult<Vec<Problem>> {
    let mut problems = api.issues.problems_where(on_behalf, filter).await?;
    problems.retain(|p| caller.can_see(&p.target_path));
    Ok(problems)
}

/// One `PROBLEM_LIST_NOT_FROZEN` per reported list whose problems wait,
/// naming what they lack (as the issues service's ProblemList does).
fn not_frozen(waiting: &[Problem]) -> Vec<Discrepancy> {
    let mut lists: BTreeMap<&str, (usize, BTreeMap<&str, usize>)> = BTreeMap::new();
    for p in waiting {
        let (count, missing) = lists.entry(&p.inspection).or_default();
        *count += 1;
        let r = p.responsibilities.clone().unwrap_or_default();
        for (lacks, field) in [
            (r.main_unit.is_empty(), "responsibilities.main_unit"),
            (r.principal.is_empty(), "responsibilities.principal"),
            (
                r.supervising_body.is_empty(),
                "responsibilities.supervising_body",
            ),
        ] {
            if lacks {
                *missing.entry(field).or_default() += 1;
            }
        }
    }
    lists
        .into_iter()
        .map(|(inspection, (count, missing))| Discrepancy {
            kind: "PROBLEM_LIST_NOT_FROZEN".into(),
            subject: format!("{inspection}/problemList"),
            description: format!(
                "{inspection} was reported but its list cannot freeze, so its {count} problems \
                 are not posted: {}",
                missing
                    .iter()
                    .map(|(field, n)| format!("{n} lack {field}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect()
}

/// Recomputes every hash chain in the scope `r` names (at most one of entry,
/// inspection, round and organisation path; none for everything `caller`
/// sees) and, for a whole subtree, checks its tallies against its entries.
pub async fn verify_journal(
    api: &Api,
    caller: &Caller,
    r: &VerifyJournalRequest,
) -> ApiResult<VerifyJournalResponse> {
    let set = [
        !r.entry.is_empty(),
        !r.inspection.is_empty(),
        !r.round.is_empty(),
        !r.organisation_path.is_empty(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if set > 1 {
        return Err(ApiError::invalid(
            "entry",
            ErrorReason::OneScope,
            "set at most one of entry, inspection, round and organisation_path",
        ));
    }
    let scope = if !r.entry.is_empty() {
        EntryScope::Entry(domain::parse_name("entry", &r.entry)?.to_owned())
    } else if !r.inspection.is_empty() {
        names::parse_nested("inspection", &r.inspection, "rounds", "inspections")?;
        EntryScope::Inspection(r.inspection.clone())
    } else if !r.round.is_empty() {
        names::parse("round", &r.round, "rounds")?;
        EntryScope::Round(r.round.clone())
    } else if !r.organisation_path.is_empty() {
        EntryScope::Subtree(parse_path("organisation_path", &r.organisation_path)?)
    } else {
        EntryScope::Everything
    };
    // The tallies of a whole subtree are checked against its entries.
    let whole = r.entry.is_empty() && r.inspection.is_empty() && r.round.is_empty();
    let path = (!r.organisation_path.is_empty()).then_some(r.organisation_path.as_str());
    // Postings without their entry belong to no scope: only a caller who
    // sees every entry, verifying them all, is told of them.
    let everything =
        whole && path.is_none() && tally_scope(caller, None).is_some_and(|p| p.is_empty());
    let mut out = books::verify(api.db.reader(), caller, &scope, everything).await?;
    if let Some(path) = tally_scope(caller, path).filter(|_| whole) {
        let today = api.clock.now().date_naive();
        let thresholds = api.settings.thresholds();
        let reader = api.db.reader();
        let fault = match tallies::check(reader, &path, today, &thresholds).await? {
            Some(fault) => Some(fault),
            None => open_tallies::check(reader, &path, today, &thresholds).await?,
        };
        if let Some(fault) = fault {
            out.tally_fault = fault;
            out.valid = false;
        }
    }
    Ok(out)
}
