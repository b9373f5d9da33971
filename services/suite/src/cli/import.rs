//! `fiveledger import problems`: a problem list kept in Excel or CSV, with
//! the columns inspection offices use, streamed to the issues service's
//! ImportProblems (all rows stored or none).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::Args;
use fiveledger_platform::ApiError;
use fiveledger_proto::issues::{
    FixedOnTheSpot, ImportProblemsRequest, ListProblemsRequest, Problem, Responsibilities,
};
use fiveledger_proto::rounds::{GetInspectionRequest, ListOrganisationsRequest};
use fiveledger_proto::types::Severity;
use futures::StreamExt as _;
use serde::Serialize;

use super::categories::{Catalogue, normalise};
use super::connect::{Services, failed, reason_of};
use super::export;
use super::ledger_columns::{self, LedgerCells, Step};
use super::progress::Progress;
use super::scope::Scope;
use super::table::{self, Row, Table};
use super::{Output, ServiceArgs};
use fiveledger_issues::domain::problem as domain;

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

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Number,
    Category,
    Title,
    Description,
    Severity,
    MainUnit,
    Principal,
    LeaderInCharge,
    SupervisingBody,
    FunctionalDepartment,
    FixedOnTheSpot,
    FixedDate,
    Measures,
    DueDate,
    MeasureOwner,
    Progress,
    ProgressDate,
    Remark,
}

impl Column {
    /// Header spellings accepted (compared without spaces, `_`, `-` and case).
    const HEADERS: &[(Column, &[&str])] = &[
        (
            Column::Number,
            &["序号", "编号", "no", "no.", "number", "#"],
        ),
        (
            Column::Category,
            &["问题类别", "类别", "问题类型", "category"],
        ),
        (Column::Title, &["问题标题", "标题", "问题概述", "title"]),
        (
            Column::Description,
            &["问题描述", "具体问题", "问题表现", "description"],
        ),
        (
            Column::Severity,
            &["严重程度", "问题程度", "程度", "severity"],
        ),
        (
            Column::MainUnit,
            &[
                "责任单位",
                "主体责任单位",
                "整改责任单位",
                "responsible unit",
                "main unit",
                "responsibleunit",
            ],
        ),
        (
            Column::Principal,
            &[
                "第一责任人",
                "责任领导",
                "主要负责人",
                "principal",
                "first responsible person",
            ],
        ),
        (
            Column::LeaderInCharge,
            &[
                "分管领导",
                "分管负责人",
                "直接责任人",
                "责任人",
                "leader in charge",
            ],
        ),
        (
            Column::SupervisingBody,
            &["监督责任单位", "监督单位", "监督责任", "supervising body"],
        ),
        (
            Column::FunctionalDepartment,
            &[
                "职能部门",
                "行业主管部门",
                "职能监管部门",
                "functional department",
            ],
        ),
        (
            Column::FixedOnTheSpot,
            &["立行立改", "是否立行立改", "fixed on the spot", "fixed"],
        ),
        (
            Column::FixedDate,
            &[
                "立行立改日期",
                "整改日期",
                "fixed on the spot date",
                "fixed date",
            ],
        ),
        (Column::Measures, &["整改措施", "措施", "measures"]),
        (
            Column::DueDate,
            &["整改时限", "完成时限", "时限", "due date"],
        ),
        (
            Column::MeasureOwner,
            &["整改责任人", "具体责任人", "measure owner"],
        ),
        (
            Column::Progress,
            &["完成情况", "整改情况", "整改进展", "进展情况", "progress"],
        ),
        (
            Column::ProgressDate,
            &["完成时间", "完成日期", "整改完成时间", "progress date"],
        ),
        (Column::Remark, &["备注", "remark", "remarks"]),
    ];

    pub fn from_header(header: &str) -> Option<Column> {
        let key = normalise(header);
        Self::HEADERS
            .iter()
            .find(|(_, names)| names.iter().any(|n| normalise(n) == key))
            .map(|(c, _)| *c)
    }

    /// The service's field names for this column.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Column::Number => &[],
            Column::Category => &["category"],
            Column::Title => &["title"],
            Column::Description => &["description"],
            Column::Severity => &["severity"],
            Column::MainUnit => &["responsibilities.main_unit"],
            Column::Principal => &["responsibilities.principal"],
            Column::LeaderInCharge => &["responsibilities.leader_in_charge"],
            Column::SupervisingBody => &["responsibilities.supervising_body"],
            Column::FunctionalDepartment => &["responsibilities.functional_department"],
            Column::FixedOnTheSpot => &["fixed_on_the_spot", "fixed_on_the_spot.action"],
            Column::FixedDate => &["fixed_on_the_spot.date"],
            // The ledger's columns: not sent with the problem.
            Column::Measures
            | Column::DueDate
            | Column::MeasureOwner
            | Column::Progress
            | Column::ProgressDate
            | Column::Remark => &[],
        }
    }
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

/// Which column index holds what, and a warning naming the columns not
/// read (refused when `strict`, so that a misspelt column is not dropped).
fn map_columns(
    table: &Table,
    strict: bool,
) -> anyhow::Result<(BTreeMap<Column, usize>, Vec<String>)> {
    let mut columns = BTreeMap::new();
    let mut unknown = Vec::new();
    for (i, header) in table.headers.iter().enumerate() {
        if header.is_empty() {
            continue;
        }
        match Column::from_header(header) {
            Some(c) => {
                if columns.insert(c, i).is_some() {
                    anyhow::bail!("sheet {:?}: column {header:?} appears twice", table.sheet);
                }
            }
            None => unknown.push(header.clone()),
        }
    }
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        let message = format!(
            "sheet {:?}: column(s) {unknown:?} are not read; see `fiveledger import problems --help` for the columns read",
            table.sheet
        );
        anyhow::ensure!(!strict, "{message} (refused with --strict)");
        warnings.push(message);
    }
    for (required, what) in [
        (Column::Category, "问题类别 (category)"),
        (Column::Principal, "第一责任人 (principal)"),
    ] {
        anyhow::ensure!(
            columns.contains_key(&required),
            "sheet {:?} has no {what} column",
            table.sheet
        );
    }
    anyhow::ensure!(
        columns.contains_key(&Column::Title) || columns.contains_key(&Column::Description),
        "sheet {:?} has neither a 问题标题 (title) nor a 问题描述 (description) column",
        table.sheet
    );
    Ok((columns, warnings))
}

/// Service field name → the header the user wrote for it.
fn field_headers(
    table: &Table,
    columns: &BTreeMap<Column, usize>,
) -> HashMap<&'static str, String> {
    let mut map = HashMap::new();
    for (column, i) in columns {
        for field in column.fields() {
            map.insert(*field, table.headers[*i].clone());
        }
    }
    // A title taken from the description is refused in the description's terms.
    if !columns.contains_key(&Column::Title)
        && let Some(i) = columns.get(&Column::Description)
    {
        map.insert("title", table.headers[*i].clone());
    }
    map
}

/// What rows refer to by name, resolved once for the whole file (no call
/// per row).
struct Lookup {
    categories: Catalogue,
    /// Organisation cell value → `organisations/…`, or why it cannot be.
    organisations: HashMap<String, Result<String, String>>,
    today: NaiveDate,
}

impl Lookup {
    async fn load(
        services: &Services,
        inspection: &str,
        table: &Table,
        columns: &BTreeMap<Column, usize>,
        synonyms: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let found = services
            .inspections()
            .get_inspection(GetInspectionRequest {
                name: inspection.to_owned(),
            })
            .await
            .map_err(|s| failed(&format!("reading inspection {inspection}"), s))?
            .into_inner();
        let categories = Catalogue::load(services, synonyms).await?;
        // Names are looked up within the organisation running the round:
        // every county has a "纪委监委", the right one is the one above.
        let level = found
            .round_organisation_path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut wanted = BTreeSet::new();
        for column in [
            Column::MainUnit,
            Column::SupervisingBody,
            Column::FunctionalDepartment,
        ] {
            if let Some(&i) = columns.get(&column) {
                for row in &table.rows {
                    let v = row.cell(i);
                    if !v.is_empty() && !v.starts_with("organisations/") {
                        wanted.insert(v.to_owned());
                    }
                }
            }
        }
        let mut organisations = HashMap::new();
        for name in wanted {
            let filter = format!(
                "display_name = \"{}\" AND ancestor = \"organisations/{level}\"",
                name.replace('"', "\\\"")
            );
            let page = services
                .organisations()
                .list_organisations(ListOrganisationsRequest {
                    page_size: 10,
                    filter,
                    ..Default::default()
                })
                .await
                .map_err(|s| failed(&format!("looking up the organisation {name:?}"), s))?
                .into_inner();
            let resolved = match page.organisations.as_slice() {
                [one] => Ok(one.name.clone()),
                [] => Err(format!(
                    "no organisation named {name:?} under {}",
                    found.round_organisation_path
                )),
                many => Err(format!(
                    "{name:?} names {} organisations ({}); write the resource name instead",
                    many.len(),
                    many.iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            organisations.insert(name, resolved);
        }
        Ok(Self {
            categories,
            organisations,
            today: chrono::Local::now().date_naive(),
        })
    }

    fn organisation(&self, value: &str) -> Result<String, String> {
        if value.starts_with("organisations/") {
            return Ok(value.to_owned());
        }
        self.organisations
            .get(value)
            .cloned()
            .unwrap_or_else(|| Err(format!("{value:?} was not looked up")))
    }
}

fn to_problem(
    table: &Table,
    columns: &BTreeMap<Column, usize>,
    by_field: &HashMap<&'static str, String>,
    lookup: &Lookup,
    row: &Row,
) -> Result<Problem, Vec<CellError>> {
    let mut errors = Vec::new();
    let cell = |c: Column| columns.get(&c).map(|&i| row.cell(i)).unwrap_or("");
    let mut refuse = |c: Column, reason: &str, message: String| {
        errors.push(CellError {
            sheet: table.sheet.clone(),
            row: row.number,
            column: columns
                .get(&c)
                .map(|&i| table.headers[i].clone())
                .unwrap_or_default(),
            reason: reason.to_owned(),
            message,
        })
    };

    let category = cell(Column::Category);
    let category = match lookup.categories.resolve(category) {
        Some(code) => code,
        None if category.is_empty() => {
            refuse(Column::Category, "REQUIRED", "the category is empty".into());
            String::new()
        }
        None => {
            refuse(
                Column::Category,
                "UNKNOWN_CATEGORY",
                format!(
                    "{category:?} is neither the name nor the code of a category; the categories are {}",
                    lookup.categories.valid_list()
                ),
            );
            String::new()
        }
    };
    let severity = match parse_severity(cell(Column::Severity)) {
        Some(s) => s as i32,
        None => {
            refuse(
                Column::Severity,
                "INVALID_SEVERITY",
                format!(
                    "{:?} is not 一般/较重/严重 (minor/major/severe)",
                    cell(Column::Severity)
                ),
            );
            0
        }
    };
    let description = cell(Column::Description).to_owned();
    let title = match cell(Column::Title) {
        "" => title_from(&description),
        t => t.to_owned(),
    };
    let mut org = |c: Column| -> String {
        let v = cell(c);
        if v.is_empty() {
            return String::new();
        }
        match lookup.organisation(v) {
            Ok(name) => name,
            Err(message) => {
                refuse(c, "UNKNOWN_ORGANISATION", message);
                String::new()
            }
        }
    };
    let main_unit = org(Column::MainUnit);
    let supervising_body = org(Column::SupervisingBody);
    let functional_department = org(Column::FunctionalDepartment);
    let fixed = match fixed_on_the_spot(
        cell(Column::FixedOnTheSpot),
        cell(Column::FixedDate),
        lookup.today,
    ) {
        Ok(f) => f,
        Err((column, message)) => {
            refuse(column, "INVALID_FIXED_ON_THE_SPOT", message);
            None
        }
    };
    // The service's own field checks, so that every bad cell of every row
    // is reported in one pass rather than after the client's are fixed.
    let principal = cell(Column::Principal);
    let leader = cell(Column::LeaderInCharge);
    for check in [
        domain::parse_title("title", &title).map(drop),
        domain::parse_description("description", &description).map(drop),
        domain::parse_principal("", principal).map(drop),
        domain::parse_person("", "leader_in_charge", leader).map(drop),
    ] {
        if let Err(ApiError::InvalidArgument {
            field,
            reason,
            description,
        }) = check
        {
            errors.push(CellError {
                sheet: table.sheet.clone(),
                row: row.number,
                column: by_field.get(field.as_str()).cloned().unwrap_or(field),
                reason: reason.to_owned(),
                message: description,
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Problem {
        category,
        severity,
        title,
        description,
        fixed_on_the_spot: fixed,
        responsibilities: Some(Responsibilities {
            main_unit,
            principal: cell(Column::Principal).to_owned(),
            leader_in_charge: cell(Column::LeaderInCharge).to_owned(),
            supervising_body,
            functional_department,
            ..Default::default()
        }),
        ..Default::default()
    })
}

pub fn parse_severity(s: &str) -> Option<Severity> {
    match normalise(s).as_str() {
        "" | "一般" | "minor" | "低" | "1" => Some(Severity::Minor),
        "较重" | "较严重" | "major" | "中" | "2" => Some(Severity::Major),
        "严重" | "severe" | "高" | "3" => Some(Severity::Severe),
        _ => None,
    }
}

/// A short title from a description: its first sentence, at most 60 characters.
pub fn title_from(description: &str) -> String {
    let first = description
        .split(['。', '；', ';', '\n'])
        .next()
        .unwrap_or_default()
        .trim();
    first.chars().take(60).collect()
}

fn yes_no(s: &str) -> Option<bool> {
    match normalise(s).as_str() {
        "是" | "y" | "yes" | "true" | "1" | "√" | "已整改" => Some(true),
        "" | "否" | "n" | "no" | "false" | "0" | "×" => Some(false),
        _ => None,
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let s = s.split([' ', 'T']).next().unwrap_or(s);
    ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

/// 立行立改: yes/no, a date, or the action taken; the date column (or
/// today) dates it.
fn fixed_on_the_spot(
    cell: &str,
    date_cell: &str,
    today: NaiveDate,
) -> Result<Option<FixedOnTheSpot>, (Column, String)> {
    let date = match date_cell {
        "" => None,
        d => Some(parse_date(d).ok_or_else(|| {
            (
                Column::FixedDate,
                format!("{d:?} is not a date (YYYY-MM-DD)"),
            )
        })?),
    };
    let (fixed, action) = match (yes_no(cell), parse_date(cell)) {
        (Some(b), _) => (b, "立行立改".to_owned()),
        (None, Some(d)) => return Ok(Some(fixed_record(date.unwrap_or(d), "立行立改"))),
        (None, None) => (true, cell.to_owned()),
    };
    if !fixed {
        return match date {
            Some(_) => Err((
                Column::FixedDate,
                "a date is given but the problem is not marked fixed on the spot".into(),
            )),
            None => Ok(None),
        };
    }
    Ok(Some(fixed_record(date.unwrap_or(today), &action)))
}

fn fixed_record(date: NaiveDate, action: &str) -> FixedOnTheSpot {
    FixedOnTheSpot {
        date: Some(fiveledger_platform::time::to_date(date)),
        action: action.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_both_languages() {
        assert_eq!(Column::from_header("问题类别"), Some(Column::Category));
        assert_eq!(
            Column::from_header("Responsible unit"),
            Some(Column::MainUnit)
        );
        assert_eq!(
            Column::from_header(" leader_in_charge "),
            Some(Column::LeaderInCharge)
        );
        assert_eq!(
            Column::from_header("立行立改"),
            Some(Column::FixedOnTheSpot)
        );
        assert_eq!(Column::from_header("备注"), Some(Column::Remark));
        assert_eq!(
            Column::from_header("整改责任人"),
            Some(Column::MeasureOwner)
        );
        assert_eq!(Column::from_header("督办人"), None);
    }

    #[test]
    fn fixed_on_the_spot_cells() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert_eq!(fixed_on_the_spot("否", "", today), Ok(None));
        assert_eq!(fixed_on_the_spot("", "", today), Ok(None));
        let f = fixed_on_the_spot("是", "2026-03-01", today)
            .unwrap()
            .unwrap();
        assert_eq!(f.date.unwrap().month, 3);
        let f = fixed_on_the_spot("已退还违规发放补贴", "", today)
            .unwrap()
            .unwrap();
        assert_eq!(f.action, "已退还违规发放补贴");
        assert!(fixed_on_the_spot("是", "yesterday", today).is_err());
    }

    #[test]
    fn severities_and_titles() {
        assert_eq!(parse_severity(""), Some(Severity::Minor));
        assert_eq!(parse_severity("严重"), Some(Severity::Severe));
        assert_eq!(parse_severity("Major"), Some(Severity::Major));
        assert_eq!(parse_severity("very"), None);
        assert_eq!(
            title_from("落实主体责任不到位。具体表现为……"),
            "落实主体责任不到位"
        );
    }
}
