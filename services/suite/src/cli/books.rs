//! Reading the books: `stats`, `reconcile`, `verify` and `warnings`.

use clap::{Args, Subcommand, ValueEnum};
use fiveledger_proto::ledgers::{
    RunWarningSweepRequest, StatisticsCounts, StatisticsGrouping, WatchWarningsRequest,
};
use fiveledger_proto::types::WarningColour;
use serde_json::json;
use tokio_stream::StreamExt;

use super::connect::{Services, failed};
use super::export::{SUMMARY_FIGURES, category_names, colour_label, date, figure, statistics};
use super::failure::{Failure, fail};
use super::ledger_workbook;
use super::scope::Scope;
use super::{Output, ServiceArgs};
use fiveledger_proto::ledgers::{GetStatisticsResponse, StatisticsKey};
use fiveledger_proto::rounds::GetRoundRequest;

/// Show the rates and counts of a scope (GetStatistics).
#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// An inspection, a round or an organisation path.
    #[arg(long)]
    pub scope: Scope,
    /// How to group the rows.
    #[arg(long, value_enum, default_value_t = GroupBy::None)]
    pub group_by: GroupBy,
    #[command(flatten)]
    pub services: ServiceArgs,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Groupings of `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    None,
    Level,
    Organisation,
    Round,
    Category,
    Colour,
}

impl GroupBy {
    fn grouping(self) -> StatisticsGrouping {
        match self {
            GroupBy::None => StatisticsGrouping::Unspecified,
            GroupBy::Level => StatisticsGrouping::OrganisationLevel,
            GroupBy::Organisation => StatisticsGrouping::Organisation,
            GroupBy::Round => StatisticsGrouping::Round,
            GroupBy::Category => StatisticsGrouping::Category,
            GroupBy::Colour => StatisticsGrouping::Colour,
        }
    }
}

/// Check that the books balance for a scope (Reconcile); exits non-zero
/// when they do not.
#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    /// An inspection, a round or an organisation path.
    #[arg(long)]
    pub scope: Scope,
    #[command(flatten)]
    pub services: ServiceArgs,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Verify the hash chains of the journal in a scope (VerifyJournal); exits
/// non-zero when a posting was tampered with.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// An inspection, a round or an organisation path; everything you can
    /// see when omitted.
    #[arg(long)]
    pub scope: Option<Scope>,
    #[command(flatten)]
    pub services: ServiceArgs,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Four-colour warnings (四色预警).
#[derive(Debug, Clone, Subcommand)]
pub enum WarningsCommand {
    /// Print warnings (colour changes and their notices) as they are
    /// posted, from the beginning or after a cursor.
    Tail(TailArgs),
    /// Run the warning sweep now (RunWarningSweep).
    Sweep(SweepArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Only targets within this organisation path.
    #[arg(long, default_value = "")]
    pub organisation_path: String,
    /// Resume after this cursor (printed with every warning).
    #[arg(long, default_value = "")]
    pub after: String,
    /// Stop after this many warnings (default: follow until interrupted).
    #[arg(long)]
    pub count: Option<usize>,
    #[command(flatten)]
    pub services: ServiceArgs,
    /// `json`: one JSON object per line.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Only targets within this organisation path.
    #[arg(long, default_value = "")]
    pub organisation_path: String,
    #[command(flatten)]
    pub services: ServiceArgs,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn counts_json(c: &StatisticsCounts) -> serde_json::Value {
    json!({
        "found": c.found, "fixed_on_the_spot": c.fixed_on_the_spot,
        "handed_over": c.handed_over, "transferred": c.transferred,
        "written_off": c.written_off, "open": c.open, "overdue": c.overdue,
        "reopened": c.reopened, "due_so_far": c.due_so_far,
        "written_off_on_time": c.written_off_on_time,
        "on_time_rate": c.on_time_rate, "completion_rate": c.completion_rate,
        "funds_recovered_fen": c.funds_recovered_fen,
        "losses_recovered_fen": c.losses_recovered_fen,
        "people_held_accountable": c.people_held_accountable,
        "people_disciplined": c.people_disciplined,
        "rules_established": c.rules_established,
        "green": c.green, "blue": c.blue, "yellow": c.yellow, "red": c.red,
        "clues": c.clues.map(|k| json!({
            "registered": k.registered, "transferred": k.transferred,
            "disposed": k.disposed, "talk_or_letter": k.talk_or_letter,
            "preliminary_verification": k.preliminary_verification,
            "hold": k.hold, "conclude": k.conclude, "with_outcome": k.with_outcome,
            "case_filed": k.case_filed, "disciplined": k.disciplined,
            "organisational_handling": k.organisational_handling, "cleared": k.cleared,
        })),
    })
}

pub async fn stats(args: &StatsArgs, services: &Services) -> anyhow::Result<()> {
    args.scope.check_exists(services).await?;
    let s = statistics(services, &args.scope, args.group_by.grouping()).await?;
    let total = s.total.clone().unwrap_or_default();
    let names = group_names(services, &s).await?;
    let mut groups: Vec<(String, StatisticsCounts)> = names
        .iter()
        .zip(&s.rows)
        .map(|(name, r)| (name.clone(), r.counts.unwrap_or_default()))
        .collect();
    match args.output {
        Output::Json => {
            let rows: Vec<_> = s
                .rows
                .iter()
                .zip(&names)
                .map(|(r, name)| {
                    let label = r.key.as_ref().map(|k| k.label.clone()).unwrap_or_default();
                    json!({"label": label, "name": name, "counts": counts_json(&r.counts.unwrap_or_default())})
                })
                .collect();
            let as_of = date(s.as_of.as_ref()).map(|d| d.to_string());
            crate::say!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "scope": args.scope.to_string(),
                    "as_of": as_of,
                    "rows": rows,
                    "total": counts_json(&total.counts.unwrap_or_default()),
                }))?
            );
        }
        Output::Text => {
            if groups.len() != 1 || args.group_by != GroupBy::None {
                groups.push(("total".into(), total.counts.unwrap_or_default()));
            }
            let as_of = date(s.as_of.as_ref())
                .map(|d| d.to_string())
                .unwrap_or_default();
            crate::say!("statistics of {} as of {as_of}", args.scope);
            let mut header = format!("{:<32}", "");
            for (label, _) in &groups {
                header += &format!("{:>16}", column_label(label));
            }
            crate::say!("{header}");
            for (i, (label, kind)) in SUMMARY_FIGURES.iter().enumerate() {
                let mut row = format!("{label:<32}");
                for (_, c) in &groups {
                    let v = figure(c, i);
                    let text = match kind {
                        super::export::Figure::Rate => format!("{:.1}%", v * 100.0),
                        super::export::Figure::Yuan => format!("{v:.2}"),
                        super::export::Figure::Count => format!("{v}"),
                    };
                    row += &format!("{text:>16}");
                }
                crate::say!("{row}");
            }
        }
    }
    Ok(())
}

/// The display name of each row of a statistics answer: the unit, the
/// round or the category by name (the label for the other groupings).
pub async fn group_names(
    services: &Services,
    s: &GetStatisticsResponse,
) -> anyhow::Result<Vec<String>> {
    let keys: Vec<StatisticsKey> = s
        .rows
        .iter()
        .map(|r| r.key.clone().unwrap_or_default())
        .collect();
    if keys.iter().any(|k| !k.organisation_path.is_empty()) {
        return Ok(ledger_workbook::named_groups(services, s)
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect());
    }
    let categories = category_names(services).await?;
    let mut names = Vec::with_capacity(keys.len());
    for k in keys {
        names.push(if !k.round.is_empty() {
            services
                .rounds()
                .get_round(GetRoundRequest {
                    name: k.round.clone(),
                })
                .await
                .map_err(|st| failed(&format!("reading {}", k.round), st))?
                .into_inner()
                .display_name
        } else if !k.category.is_empty() {
            categories
                .get(&format!("categories/{}", k.category))
                .cloned()
                .unwrap_or(k.label)
        } else if k.colour() != WarningColour::Unspecified {
            colour_label(k.colour()).to_owned()
        } else {
            k.label
        });
    }
    Ok(names)
}

/// A column heading of at most 15 characters: the last segment of a path
/// or name (what tells sibling rows apart), cut from the left.
fn column_label(label: &str) -> String {
    let tail = label.rsplit('/').next().unwrap_or(label);
    let tail = tail.strip_prefix("WARNING_COLOUR_").unwrap_or(tail);
    let chars: Vec<char> = tail.chars().collect();
    if chars.len() <= 15 {
        tail.to_owned()
    } else {
        std::iter::once('…')
            .chain(chars[chars.len() - 14..].iter().copied())
            .collect()
    }
}

pub async fn reconcile(args: &ReconcileArgs, services: &Services) -> anyhow::Result<()> {
    args.scope.check_exists(services).await?;
    let r = services
        .ledger()
        .reconcile(args.scope.reconcile_request())
        .await
        .map_err(|s| failed(&format!("reconciling {}", args.scope), s))?
        .into_inner();
    let b = r.balance.unwrap_or_default();
    match args.output {
        Output::Json => crate::say!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "scope": args.scope.to_string(),
                "balanced": r.balanced,
                "problems": r.problems,
                "unposted": r.unposted,
                "balance": {
                    "reported": b.reported, "open": b.open, "handed_over": b.handed_over,
                    "transferred": b.transferred, "awaiting_verification": b.awaiting_verification,
                    "written_off": b.written_off, "reopened": b.reopened,
                },
                "discrepancies": r.discrepancies.iter().map(|d| json!({
                    "kind": d.kind, "subject": d.subject, "description": d.description,
                })).collect::<Vec<_>>(),
            }))?
        ),
        Output::Text => {
            crate::say!(
                "{}: {} problems frozen; reported {} = open {} + handed over {} + transferred {} + awaiting verification {} + written off {} + reopened {}",
                args.scope,
                r.problems,
                b.reported,
                b.open,
                b.handed_over,
                b.transferred,
                b.awaiting_verification,
                b.written_off,
                b.reopened
            );
            if r.unposted > 0 {
                crate::say!(
                    "  {} problems reported but not posted (their lists cannot freeze)",
                    r.unposted
                );
            }
            for d in &r.discrepancies {
                crate::say!("  {} {}: {}", d.kind, d.subject, d.description);
            }
        }
    }
    if !r.balanced {
        return Err(fail(
            Failure::Unbalanced,
            format!(
                "the books of {} do not balance: {} discrepancies",
                args.scope,
                r.discrepancies.len()
            ),
        ));
    }
    if args.output == Output::Text {
        crate::say!("balanced");
    }
    Ok(())
}

pub async fn verify(args: &VerifyArgs, services: &Services) -> anyhow::Result<()> {
    if let Some(scope) = &args.scope {
        scope.check_exists(services).await?;
    }
    let request = args
        .scope
        .as_ref()
        .map(Scope::verify_request)
        .unwrap_or_default();
    let what = args
        .scope
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_else(|| "everything visible".into());
    let r = services
        .ledger()
        .verify_journal(request)
        .await
        .map_err(|s| failed(&format!("verifying the journal of {what}"), s))?
        .into_inner();
    match args.output {
        Output::Json => crate::say!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "scope": what, "valid": r.valid, "entries": r.entries, "postings": r.postings,
                "faults": r.faults.iter().map(|f| json!({
                    "entry": f.entry, "posting": f.posting, "kind": f.kind, "description": f.description,
                })).collect::<Vec<_>>(),
            }))?
        ),
        Output::Text => {
            crate::say!(
                "{what}: {} entries, {} postings checked",
                r.entries,
                r.postings
            );
            for f in &r.faults {
                crate::say!(
                    "  {} {} at {}: {}",
                    f.kind,
                    f.entry,
                    f.posting,
                    f.description
                );
            }
        }
    }
    if !r.valid {
        return Err(fail(
            Failure::Unbalanced,
            format!(
                "the journal of {what} is not intact: {} entries have a bad posting",
                r.faults.len()
            ),
        ));
    }
    if args.output == Output::Text {
        crate::say!("every hash chain verifies");
    }
    Ok(())
}

pub async fn tail(args: &TailArgs, services: &Services) -> anyhow::Result<()> {
    let mut stream = services
        .warnings()
        .watch_warnings(WatchWarningsRequest {
            organisation_path: args.organisation_path.clone(),
            after_cursor: args.after.clone(),
        })
        .await
        .map_err(|s| failed("watching warnings", s))?
        .into_inner();
    let mut seen = 0;
    while args.count.is_none_or(|n| seen < n) {
        let Some(item) = stream.next().await else {
            break;
        };
        let w = item.map_err(|s| failed("watching warnings", s))?;
        // An interview escalation has no colour change; its item and notice.
        let d = w
            .warning
            .clone()
            .or_else(|| {
                w.interview_required
                    .clone()
                    .map(|r| fiveledger_proto::types::WarningDetail {
                        item: r.item,
                        notice: r.notice,
                        as_of: r.as_of,
                        ..Default::default()
                    })
            })
            .unwrap_or_default();
        let notice = d.notice.clone().unwrap_or_default();
        match args.output {
            Output::Json => crate::say!(
                "{}",
                json!({
                    "cursor": w.cursor, "entry": w.entry, "posting": w.posting,
                    "target_path": w.target_path, "item": d.item,
                    "from": d.from_colour().as_str_name(), "to": d.to_colour().as_str_name(),
                    "due_date": date(d.due_date.as_ref()).map(|d| d.to_string()),
                    "notice": notice.kind().as_str_name(), "addressees": notice.addressees,
                    "text": notice.text,
                })
            ),
            Output::Text => crate::say!(
                "{} {} {}: {} → {} ({}) {}",
                w.cursor,
                w.entry,
                d.item,
                label(d.from_colour()),
                label(d.to_colour()),
                notice.kind().as_str_name(),
                notice.text
            ),
        }
        seen += 1;
    }
    Ok(())
}

fn label(c: WarningColour) -> &'static str {
    match colour_label(c) {
        "" => "none",
        l => l,
    }
}

pub async fn sweep(args: &SweepArgs, services: &Services) -> anyhow::Result<()> {
    let r = services
        .warnings()
        .run_warning_sweep(RunWarningSweepRequest {
            organisation_path: args.organisation_path.clone(),
        })
        .await
        .map_err(|s| failed("running the warning sweep", s))?
        .into_inner();
    match args.output {
        Output::Json => crate::say!(
            "{}",
            json!({
                "entries_checked": r.entries_checked, "warnings_posted": r.warnings_posted,
                "reminders": r.reminders, "supervision_notices": r.supervision_notices,
                "circulars": r.circulars, "eased": r.eased,
                "interviews_required": r.interviews_required,
                "as_of": date(r.as_of.as_ref()).map(|d| d.to_string()),
            })
        ),
        Output::Text => crate::say!(
            "checked {} entries: {} warnings ({} reminders, {} supervision notices, {} circulars, {} eased), {} interviews required",
            r.entries_checked,
            r.warnings_posted,
            r.reminders,
            r.supervision_notices,
            r.circulars,
            r.eased,
            r.interviews_required
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::column_label;

    #[test]
    fn column_labels_keep_what_tells_rows_apart() {
        assert_eq!(column_label("demo-region/demo-city/demo-c0"), "demo-c0");
        assert_eq!(column_label("rounds/demo-round-12"), "demo-round-12");
        assert_eq!(column_label("WARNING_COLOUR_YELLOW"), "YELLOW");
        assert_eq!(column_label("a-very-long-category-code"), "…-category-code");
        assert_eq!(column_label("total"), "total");
    }
}
