//! Reading a spreadsheet (.xlsx, .xls, .ods via calamine, or .csv) into
//! rows of text keyed by the header row, keeping the user's row numbers.

use std::path::Path;

use anyhow::Context;
use calamine::{Data, Reader, open_workbook_auto};

/// One sheet: its header cells and its data rows.
#[derive(Debug, Clone)]
pub struct Table {
    /// Sheet name (the file name for CSV).
    pub sheet: String,
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
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

/// Reads `sheet` (default: the first) of a workbook, or a CSV file. The
/// first non-empty row is the header; blank rows are skipped but counted.
pub fn read(path: &Path, sheet: Option<&str>) -> anyhow::Result<Table> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (sheet_name, raw) = if ext == "csv" {
        anyhow::ensure!(
            sheet.is_none(),
            "--sheet applies to workbooks, not to CSV files"
        );
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (name, read_csv(path)?)
    } else {
        read_workbook(path, sheet)?
    };
    let mut rows = raw.into_iter().enumerate().map(|(i, cells)| Row {
        number: i + 1,
        cells,
    });
    let header = rows
        .by_ref()
        .find(|r| r.cells.iter().any(|c| !c.trim().is_empty()))
        .with_context(|| format!("{}: sheet {sheet_name:?} is empty", path.display()))?;
    let headers = header.cells.iter().map(|c| c.trim().to_owned()).collect();
    let rows = rows
        .filter(|r| r.cells.iter().any(|c| !c.trim().is_empty()))
        .collect();
    Ok(Table {
        sheet: sheet_name,
        headers,
        rows,
    })
}

fn read_csv(path: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    // Excel writes UTF-8 CSV with a byte-order mark.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record
            .with_context(|| format!("{}: line {} is not valid CSV", path.display(), i + 1))?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok(rows)
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
    // Row numbers as Excel shows them: the range may start below row 1.
    let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let mut rows = vec![Vec::new(); first_row];
    for row in range.rows() {
        rows.push(row.iter().map(cell_text).collect());
    }
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
