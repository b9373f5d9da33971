//! `fiveledger import problems`: a problem list kept in Excel or CSV, with
//! the columns inspection offices use, streamed to the issues service's
//! ImportProblems (all rows stored or none).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use clap::Args;
use fiveledger_proto::issues::{ImportProblemsRequest, ListProblemsRequest, Problem};
use futures::StreamExt as _;

use super::connect::{Services, failed, reason_of};
use super::export;
use super::import_columns::{Column, field_headers, map_columns};
pub use super::import_report::{CellError, ImportRejected, Imported};
use super::import_rows::{Lookup, parse_date, to_problem};
use super::ledger_columns::{self, LedgerCells, Outcome, RawCells};
use super::ledger_steps::{self, SheetRow};
use super::progress::Progress;
use super::scope::Scope;
use super::table::{self, Row, Table};
use super::{Output, ServiceArgs};

/// Rows sent per stream message.
const CHUNK: usize = 200;

/// Import a problem list from an .xlsx or .csv file into one inspection.
///
/// The header row holds the column headers, in Chinese or English; title
/// rows above it and notes rows under the table (注：…, 填表人：…) are
/// skipped, and a cell merged down several rows counts for each of them:
/// 序号/no, 问题类别/category (name or code), 问题标题/title (optional:
/// taken from the description), 问题描述/description, 严重程度/severity
/// (一般/较重/严重 or minor/major/severe; minor when empty),
/// 责任单位/responsible unit (organisation name or `organisations/…`;
/// the inspected unit when empty), 第一责任人/principal,
/// 分管领导/leader in charge, 监督责任单位/supervising body (routed by
/// category when empty), 职能部门/functional department, 立行立改/fixed
/// on the spot (是/否, a date or what was done), 立行立改日期/fixed on
/// the spot date; and the ledger's 整改措施, 整改时限, 整改责任人, 完成情况,
/// 完成时间, 状态, 销号时间/移交时间, 移交单位 and 备注, applied to the
/// entries once they are handed over (import the sheet again then: rows
/// already stored are skipped). A row whose 状态 (or 完成情况) says 已销号
/// or 已完成整改 is written off after the fact on the sheet's authority
/// (with `--on-behalf`); 已移交 is transferred to the 移交单位 or the
/// supervising body. An edited 完成情况 posts the next progress report; a
/// text already posted is not posted again. Categories are read by name, code or the 方面 wording
/// (党的领导方面 …), and by `--synonyms`. Columns not listed are reported
/// once and ignored (refused with `--strict`). A CSV file may be UTF-8 or
/// GBK/GB18030 (as Chinese Excel saves it). Every row is stored, or none.
#[derive(Debug, Clone, Args)]
pub struct ImportProblemsArgs {
    /// The spreadsheet (.xlsx, .xls, .ods or .csv).
    pub file: PathBuf,
    /// The inspection the problems belong to: `rounds/R/inspections/I`.
    #[arg(long)]
    pub inspection: String,
    /// Sheet to read (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Idempotency key (a retry with the same key stores nothing twice).
    #[arg(long)]
    pub request_id: Option<String>,
    /// Refuse columns the import does not read instead of ignoring them.
    #[arg(long)]
    pub strict: bool,
    /// The office's own category wordings: lines `wording = category`
    /// (the category by name or code).
    #[arg(long, value_name = "FILE")]
    pub synonyms: Option<PathBuf>,
    /// Submit (and approve) the 整改措施 as the entry's plan on the
    /// responsible unit's behalf; without it the unit submits its plan.
    #[arg(long)]
    pub on_behalf: bool,
    /// Dry run: check every row and report what would be stored and which
    /// ledger steps taken, storing nothing.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub services: ServiceArgs,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Sheet to read (default: the first).
    pub sheet: Option<String>,
    /// Idempotency key.
    pub request_id: Option<String>,
    /// Refuse unknown columns.
    pub strict: bool,
    /// The office's category wordings.
    pub synonyms: Option<PathBuf>,
    /// Submit plans on the unit's behalf.
    pub on_behalf: bool,
    /// Dry run.
    pub check: bool,
}

pub async fn run(args: &ImportProblemsArgs, services: &Services) -> anyhow::Result<()> {
    let options = Options {
        sheet: args.sheet.clone(),
        request_id: args.request_id.clone(),
        strict: args.strict,
        synonyms: args.synonyms.clone(),
        on_behalf: args.on_behalf,
        check: args.check,
    };
    let imported = import_problems(services, &args.file, &args.inspection, &options).await?;
    match args.output {
        Output::Json => crate::say!("{}", serde_json::to_string_pretty(&imported)?),
        Output::Text => {
            for w in &imported.warnings {
                eprintln!("warning: {w}");
            }
            if let Some(e) = &imported.encoding {
                crate::say!("read {} as {e}", args.file.display());
            }
            let verb = if imported.check {
                "would import"
            } else {
                "imported"
            };
            crate::say!(
                "{verb} {} problem(s) from sheet {:?} (header in row {}) into {}; {} row(s) already imported",
                imported.problems.len(),
                imported.sheet,
                imported.header_row,
                imported.inspection,
                imported.already_imported.len()
            );
            for s in &imported.ledger_steps {
                crate::say!("  row {}: {} ({})", s.row, s.step, s.entry);
            }
            if !imported.awaiting_entries.is_empty() {
                crate::say!(
                    "  rows {:?}: their ledger columns apply once the entries are handed over; import the sheet again then",
                    imported.awaiting_entries
                );
            }
        }
    }
    Ok(())
}

/// Reads the file, checks and resolves every row, and streams the rows to
/// ImportProblems. Refusals (ours or the service's) come back as
/// [`ImportRejected`] naming sheet, row and column.
pub async fn import_problems(
    services: &Services,
    file: &Path,
    inspection: &str,
    options: &Options,
) -> anyhow::Result<Imported> {
    let table = table::read(file, options.sheet.as_deref(), |h| {
        Column::from_header(h).is_some()
    })?;
    let (columns, warnings) = map_columns(&table, options.strict)?;
    let context = Lookup::load(
        services,
        inspection,
        &table,
        &columns,
        options.synonyms.as_deref(),
    )
    .await?;
    let by_field = field_headers(&table, &columns);
    let mut errors = Vec::new();
    let mut problems = Vec::with_capacity(table.rows.len());
    let mut ledger = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        match to_problem(&table, &columns, &by_field, &context, row) {
            Ok(p) => problems.push(p),
            Err(mut e) => errors.append(&mut e),
        }
        match ledger_cells(&table, &columns, &context, row, options.on_behalf) {
            Ok(c) => ledger.push(c),
            Err(mut e) => errors.append(&mut e),
        }
    }
    let rejected = |errors| ImportRejected {
        file: file.display().to_string(),
        errors,
        partly_recorded: false,
    };
    if !errors.is_empty() {
        errors.sort_by_key(|e: &CellError| e.row);
        return Err(rejected(errors).into());
    }
    anyhow::ensure!(!problems.is_empty(), "{}: no data rows", file.display());

    // Rows stored by an earlier import of the sheet are found by content.
    let prints: Vec<String> = problems.iter().map(problem_fingerprint).collect();
    let mut stored = stored_problems(services, inspection).await?;
    let mut names: Vec<Option<String>> = prints
        .iter()
        .map(|f| stored.get_mut(f).and_then(|names| names.pop()))
        .collect();
    let already_imported = table
        .rows
        .iter()
        .zip(&names)
        .filter(|(_, n)| n.is_some())
        .map(|(r, _)| r.number)
        .collect();
    let new: Vec<usize> = (0..names.len()).filter(|&i| names[i].is_none()).collect();
    if !new.is_empty() && !options.check {
        let rows: Vec<Problem> = new.iter().map(|&i| problems[i].clone()).collect();
        let response = send(services, file, inspection, options, rows).await?;
        if !response.errors.is_empty() {
            let errors = response
                .errors
                .iter()
                .map(|e| {
                    let row = usize::try_from(e.row - 1)
                        .ok()
                        .and_then(|i| new.get(i))
                        .map(|&i| table.rows[i].number)
                        .unwrap_or_default();
                    let column = by_field
                        .get(e.field.as_str())
                        .cloned()
                        .unwrap_or_else(|| e.field.clone());
                    CellError::named(&table, row, column, &e.reason, e.description.clone())
                })
                .collect();
            return Err(rejected(errors).into());
        }
        for (&i, p) in new.iter().zip(response.problems) {
            names[i] = Some(p.name);
        }
    }

    // The ledger columns, on the entries that exist.
    let mut ledger_steps = Vec::new();
    let mut awaiting_entries = Vec::new();
    let mut step_errors = Vec::new();
    if ledger.iter().any(|c| !c.is_empty()) {
        let entries = entries_by_problem(services, inspection).await?;
        let file_name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (i, cells) in ledger.iter().enumerate() {
            let number = table.rows[i].number;
            if cells.is_empty() {
                continue;
            }
            let Some(entry) = names[i].as_ref().and_then(|n| entries.get(n)) else {
                awaiting_entries.push(number);
                continue;
            };
            let row = SheetRow {
                file: &file_name,
                number,
                fingerprint: &prints[i],
                on_behalf: options.on_behalf,
                check: options.check,
            };
            match ledger_steps::apply(services, entry, cells, row).await {
                Ok(mut steps) => ledger_steps.append(&mut steps),
                Err(s) => step_errors.push(CellError::named(
                    &table,
                    number,
                    String::new(),
                    &reason_of(&s).unwrap_or_else(|| format!("{:?}", s.code())),
                    format!("{entry}: {}", s.message()),
                )),
            }
        }
    }
    if !step_errors.is_empty() {
        return Err(ImportRejected {
            file: file.display().to_string(),
            errors: step_errors,
            partly_recorded: true,
        }
        .into());
    }
    Ok(Imported {
        inspection: inspection.to_owned(),
        sheet: table.sheet,
        problems: new.iter().filter_map(|&i| names[i].clone()).collect(),
        header_row: table.header_row,
        skipped_rows: table.skipped,
        encoding: table.encoding.map(str::to_owned),
        warnings,
        already_imported,
        ledger_steps,
        awaiting_entries,
        check: options.check,
    })
}

/// Streams the rows to ImportProblems (all stored or none).
async fn send(
    services: &Services,
    file: &Path,
    inspection: &str,
    options: &Options,
    problems: Vec<Problem>,
) -> anyhow::Result<fiveledger_proto::issues::ImportProblemsResponse> {
    let progress = Progress::new(problems.len() as u64, "importing rows");
    let request_id = options
        .request_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let chunks: Vec<ImportProblemsRequest> = problems
        .chunks(CHUNK)
        .enumerate()
        .map(|(i, rows)| ImportProblemsRequest {
            inspection: inspection.to_owned(),
            problems: rows.to_vec(),
            request_id: if i == 0 {
                request_id.clone()
            } else {
                String::new()
            },
        })
        .collect();
    let bar = progress.clone();
    let stream = futures::stream::iter(chunks).inspect(move |c| bar.inc(c.problems.len() as u64));
    let response = services
        .problems()
        .import_problems(stream)
        .await
        .map_err(|s| {
            failed(
                &format!("importing {} into {inspection}", file.display()),
                s,
            )
        })?
        .into_inner();
    progress.finish();
    Ok(response)
}

/// What a stored problem keeps of a row, as a fingerprint.
fn problem_fingerprint(p: &Problem) -> String {
    let r = p.responsibilities.clone().unwrap_or_default();
    ledger_columns::fingerprint(&[
        &p.category,
        &p.title,
        &p.description,
        &r.principal,
        &r.leader_in_charge,
    ])
}

/// The inspection's problems by fingerprint (names in reverse order, to pop).
async fn stored_problems(
    services: &Services,
    inspection: &str,
) -> anyhow::Result<HashMap<String, Vec<String>>> {
    let mut by_print: HashMap<String, Vec<String>> = HashMap::new();
    let mut token = String::new();
    loop {
        let page = services
            .problems()
            .list_problems(ListProblemsRequest {
                page_size: 1000,
                page_token: token,
                filter: format!("inspection = \"{inspection}\""),
                order_by: "create_time desc".into(),
            })
            .await
            .map_err(|s| failed(&format!("listing the problems of {inspection}"), s))?
            .into_inner();
        for p in page.problems {
            by_print
                .entry(problem_fingerprint(&p))
                .or_default()
                .push(p.name);
        }
        if page.next_page_token.is_empty() {
            return Ok(by_print);
        }
        token = page.next_page_token;
    }
}

/// The inspection's ledger entries by problem.
async fn entries_by_problem(
    services: &Services,
    inspection: &str,
) -> anyhow::Result<HashMap<String, String>> {
    let progress = Progress::spinner("reading entries");
    let scope = Scope::Inspection(inspection.to_owned());
    let entries = export::entries(services, &scope, &progress).await?;
    progress.finish();
    Ok(entries.into_iter().map(|e| (e.problem, e.name)).collect())
}

/// A row's 整改台账 cells, refusals named by the column. A write-off is
/// the unit's request: recorded from the sheet only on its behalf.
fn ledger_cells(
    table: &Table,
    columns: &BTreeMap<Column, usize>,
    lookup: &Lookup,
    row: &Row,
    on_behalf: bool,
) -> Result<LedgerCells, Vec<CellError>> {
    let cell = |c: Column| columns.get(&c).map(|&i| row.cell(i)).unwrap_or("");
    let refuse = |c: Column, reason: &str, message: String| {
        CellError::at(table, row.number, columns, c, reason, message)
    };
    let raw = RawCells {
        measures: cell(Column::Measures),
        due: cell(Column::DueDate),
        owner: cell(Column::MeasureOwner),
        progress: cell(Column::Progress),
        progress_date: cell(Column::ProgressDate),
        remark: cell(Column::Remark),
        status: cell(Column::Status),
        closed_date: cell(Column::ClosedDate),
    };
    let mut cells = ledger_columns::parse(raw, parse_date).map_err(|errors| {
        errors
            .into_iter()
            .map(|(c, message)| {
                let c = match c {
                    ledger_columns::Cell::Measures => Column::Measures,
                    ledger_columns::Cell::DueDate => Column::DueDate,
                    ledger_columns::Cell::ProgressDate => Column::ProgressDate,
                    ledger_columns::Cell::ClosedDate => Column::ClosedDate,
                };
                refuse(c, "INVALID_PLAN", message)
            })
            .collect::<Vec<_>>()
    })?;
    // The column that said written off or transferred.
    let said_by = if raw.status.is_empty() {
        Column::Progress
    } else {
        Column::Status
    };
    let mut errors = Vec::new();
    if cells.outcome == Outcome::WrittenOff && !on_behalf {
        errors.push(refuse(
            said_by,
            "ON_BEHALF_REQUIRED",
            format!(
                "{:?}: a write-off is the unit's request, recorded from the sheet only on its                  behalf (--on-behalf)",
                cells.status
            ),
        ));
    }
    match cell(Column::ReceivingBody) {
        "" => {}
        _ if cells.outcome != Outcome::Transferred => errors.push(refuse(
            Column::ReceivingBody,
            "INVALID_PLAN",
            "a 移交单位 is given but the status does not say 已移交".into(),
        )),
        body => match lookup.organisation(body) {
            Ok(name) => cells.receiving_body = name,
            Err(message) => errors.push(refuse(
                Column::ReceivingBody,
                "UNKNOWN_ORGANISATION",
                message,
            )),
        },
    }
    if errors.is_empty() {
        Ok(cells)
    } else {
        Err(errors)
    }
}
