//! `fiveledger import problems`: a problem list kept in Excel or CSV, with
//! the columns inspection offices use, streamed to the issues service's
//! ImportProblems (all rows stored or none).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use clap::Args;
use fiveledger_proto::issues::{ImportProblemsRequest, ListProblemsRequest, Problem};
use futures::StreamExt as _;
use serde::Serialize;

use super::connect::{Services, failed, reason_of};
use super::export;
use super::import_columns::{Column, field_headers, map_columns};
use super::import_rows::{Lookup, parse_date, to_problem};
use super::ledger_columns::{self, LedgerCells, Step};
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
/// 完成时间 and 备注, applied to the entries once they are handed over
/// (import the sheet again then: rows already stored are skipped). Categories are read by name, code or the 方面 wording
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

/// One refused cell, in the user's terms.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CellError {
    pub sheet: String,
    /// Row number as the spreadsheet shows it (header = the first row).
    pub row: usize,
    /// Column header as written in the file (empty when not about a column).
    pub column: String,
    pub reason: String,
    pub message: String,
}

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sheet {:?}, row {}", self.sheet, self.row)?;
        if !self.column.is_empty() {
            write!(f, ", column {:?}", self.column)?;
        }
        write!(f, ": {} ({})", self.message, self.reason)
    }
}

/// The import was refused: nothing was stored; or, when `partly_recorded`,
/// some ledger steps were refused while the rows and the other steps were
/// recorded, so importing again (after fixing) completes the rest.
#[derive(Debug, Clone, Serialize)]
pub struct ImportRejected {
    pub file: String,
    pub errors: Vec<CellError>,
    pub partly_recorded: bool,
}

impl fmt::Display for ImportRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.partly_recorded {
            "ledger step(s) refused; the rest was recorded, import the sheet again once fixed"
        } else {
            "row error(s); nothing was imported"
        };
        writeln!(f, "{}: {} {what}:", self.file, self.errors.len())?;
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ImportRejected {}

/// What an import stored.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub inspection: String,
    pub sheet: String,
    /// Problem names in row order.
    pub problems: Vec<String>,
    /// The row of the column headers (rows above it are titles).
    pub header_row: usize,
    /// Title and notes rows skipped, by number.
    pub skipped_rows: Vec<usize>,
    /// A CSV file's text encoding, as detected.
    pub encoding: Option<String>,
    /// What was read but not imported (columns the import does not read).
    pub warnings: Vec<String>,
    /// Rows already stored by an earlier import (same content), not sent.
    pub already_imported: Vec<usize>,
    /// Steps the ledger columns took (or would take, with `check`).
    pub ledger_steps: Vec<Step>,
    /// Rows with ledger columns whose entries do not exist yet (before
    /// the hand-over): import the sheet again once they do.
    pub awaiting_entries: Vec<usize>,
    /// A dry run: nothing was stored.
    pub check: bool,
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
        Output::Json => println!("{}", serde_json::to_string_pretty(&imported)?),
        Output::Text => {
            for w in &imported.warnings {
                eprintln!("warning: {w}");
            }
            if let Some(e) = &imported.encoding {
                println!("read {} as {e}", args.file.display());
            }
            let verb = if imported.check {
                "would import"
            } else {
                "imported"
            };
            println!(
                "{verb} {} problem(s) from sheet {:?} (header in row {}) into {}; {} row(s) already imported",
                imported.problems.len(),
                imported.sheet,
                imported.header_row,
                imported.inspection,
                imported.already_imported.len()
            );
            for s in &imported.ledger_steps {
                println!("  row {}: {} ({})", s.row, s.step, s.entry);
            }
            if !imported.awaiting_entries.is_empty() {
                println!(
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
        match ledger_cells(&table, &columns, row) {
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
                    CellError {
                        sheet: table.sheet.clone(),
                        row,
                        column: by_field
                            .get(e.field.as_str())
                            .cloned()
                            .unwrap_or_else(|| e.field.clone()),
                        reason: e.reason.clone(),
                        message: e.description.clone(),
                    }
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
        for (i, cells) in ledger.iter().enumerate() {
            let number = table.rows[i].number;
            if cells.is_empty() {
                continue;
            }
            let Some(entry) = names[i].as_ref().and_then(|n| entries.get(n)) else {
                awaiting_entries.push(number);
                continue;
            };
            match ledger_columns::apply(
                services,
                number,
                entry,
                cells,
                &prints[i],
                options.on_behalf,
                options.check,
            )
            .await
            {
                Ok(mut steps) => ledger_steps.append(&mut steps),
                Err(s) => step_errors.push(CellError {
                    sheet: table.sheet.clone(),
                    row: number,
                    column: String::new(),
                    reason: reason_of(&s).unwrap_or_else(|| format!("{:?}", s.code())),
                    message: format!("{entry}: {}", s.message()),
                }),
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

/// A row's 整改台账 cells, refusals named by the column.
fn ledger_cells(
    table: &Table,
    columns: &BTreeMap<Column, usize>,
    row: &Row,
) -> Result<LedgerCells, Vec<CellError>> {
    let cell = |c: Column| columns.get(&c).map(|&i| row.cell(i)).unwrap_or("");
    ledger_columns::parse(
        cell(Column::Measures),
        cell(Column::DueDate),
        cell(Column::MeasureOwner),
        cell(Column::Progress),
        cell(Column::ProgressDate),
        cell(Column::Remark),
        parse_date,
    )
    .map_err(|errors| {
        errors
            .into_iter()
            .map(|(c, message)| {
                let c = match c {
                    ledger_columns::Cell::Measures => Column::Measures,
                    ledger_columns::Cell::DueDate => Column::DueDate,
                    ledger_columns::Cell::ProgressDate => Column::ProgressDate,
                };
                CellError {
                    sheet: table.sheet.clone(),
                    row: row.number,
                    column: columns
                        .get(&c)
                        .map(|&i| table.headers[i].clone())
                        .unwrap_or_default(),
                    reason: "INVALID_PLAN".into(),
                    message,
                }
            })
            .collect()
    })
}
