//! Reading a spreadsheet (.xlsx, .xls, .ods via calamine, or .csv) into
//! rows of text keyed by the header row, keeping the user's row numbers.

use std::path::Path;

use anyhow::Context;
use calamine::{Data, Reader, Sheets, open_workbook_auto};

use super::encoding;
use super::sheet_layout::{self, Merged};

/// One sheet: its header cells and its data rows.
#[derive(Debug, Clone)]
pub struct Table {
    /// Sheet name (the file name for CSV).
    pub sheet: String,
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
    /// The number of the header row.
    pub header_row: usize,
    /// Rows above the header (titles) and notes under the table, skipped.
    pub skipped: Vec<usize>,
    /// A CSV file's text encoding, as detected.
    pub encoding: Option<&'static str>,
}

/// A data row and the number the user sees for it in the spreadsheet.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: usize,
    pub cells: Vec<String>,
}

impl Row {
    pub fn cell(&self, column: usize) -> &str {
        self.cells.get(column).map(|s| s.trim()).unwrap_or("")
    }
}

fn blank(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

/// Reads `sheet` (default: the first) of a workbook, or a CSV file. The
/// header is the first row with two cells `is_header` knows (title rows
/// above it are skipped; the first non-empty row when none qualifies);
/// cells merged down a column carry their value; notes under the table
/// are skipped; blank rows are skipped but counted.
pub fn read(
    path: &Path,
    sheet: Option<&str>,
    is_header: impl Fn(&str) -> bool,
) -> anyhow::Result<Table> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (sheet_name, raw, encoding) = if ext == "csv" {
        anyhow::ensure!(
            sheet.is_none(),
            "--sheet applies to workbooks, not to CSV files"
        );
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (rows, encoding) = read_csv(path)?;
        (name, rows, Some(encoding))
    } else {
        let (name, rows) = read_workbook(path, sheet)?;
        (name, rows, None)
    };
    let header_at = sheet_layout::find_header(&raw, is_header)
        .or_else(|| raw.iter().position(|r| !blank(r)))
        .with_context(|| format!("{}: sheet {sheet_name:?} is empty", path.display()))?;
    let mut skipped: Vec<usize> = (0..header_at)
        .filter(|&i| !blank(&raw[i]))
        .map(|i| i + 1)
        .collect();
    let headers = raw[header_at].iter().map(|c| c.trim().to_owned()).collect();
    let mut rows: Vec<Row> = raw
        .into_iter()
        .enumerate()
        .skip(header_at + 1)
        .filter(|(_, cells)| !blank(cells))
        .map(|(i, cells)| Row {
            number: i + 1,
            cells,
        })
        .collect();
    while rows.last().is_some_and(|r| sheet_layout::is_note(&r.cells)) {
        skipped.extend(rows.pop().map(|r| r.number));
    }
    skipped.sort_unstable();
    Ok(Table {
        sheet: sheet_name,
        headers,
        rows,
        header_row: header_at + 1,
        skipped,
        encoding,
    })
}

fn read_csv(path: &Path) -> anyhow::Result<(Vec<Vec<String>>, &'static str)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (text, encoding) = encoding::decode(&bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record
            .with_context(|| format!("{}: line {} is not valid CSV", path.display(), i + 1))?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok((rows, encoding))
}

fn read_workbook(path: &Path, sheet: Option<&str>) -> anyhow::Result<(String, Vec<Vec<String>>)> {
    let mut workbook = open_workbook_auto(path)
        .with_context(|| format!("cannot open {} as a workbook", path.display()))?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .cloned()
            .with_context(|| format!("{} has no sheet {s:?} (it has {names:?})", path.display()))?,
        None => names
            .first()
            .cloned()
            .with_context(|| format!("{} has no sheet", path.display()))?,
    };
    let range = workbook
        .worksheet_range(&name)
        .with_context(|| format!("cannot read sheet {name:?} of {}", path.display()))?;
    // Rows and columns as Excel numbers them: the range may start below
    // row 1 or right of column A, and merged regions use sheet positions.
    let (first_row, first_column) = range
        .start()
        .map(|(r, c)| (r as usize, c as usize))
        .unwrap_or_default();
    let mut rows = vec![Vec::new(); first_row];
    for row in range.rows() {
        let mut cells = vec![String::new(); first_column];
        cells.extend(row.iter().map(cell_text));
        rows.push(cells);
    }
    let merged = match &mut workbook {
        Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(&name).ok(),
        Sheets::Xls(x) => x.merge_cells_by_sheet_name(&name).ok(),
        _ => None,
    };
    let merged: Vec<Merged> = merged
        .unwrap_or_default()
        .iter()
        .map(|d| Merged {
            first: (d.start.0 as usize, d.start.1 as usize),
            last: (d.end.0 as usize, d.end.1 as usize),
        })
        .collect();
    sheet_layout::fill_merged_down(&mut rows, &merged);
    Ok((name, rows))
}

/// A cell as text: whole numbers without a decimal point, dates as
/// `YYYY-MM-DD`, booleans as 是/否 would be read back.
pub fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        Data::DateTime(d) => match d.as_datetime() {
            Some(dt) if dt.time() == chrono::NaiveTime::MIN => dt.date().to_string(),
            Some(dt) => dt.to_string(),
            None => d.to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}
