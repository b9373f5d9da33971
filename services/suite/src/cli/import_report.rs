//! What `fiveledger import problems` reports: the cells it refused, in the
//! user's terms (sheet, row, column as written), and what it stored.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::import_columns::Column;
use super::ledger_columns::Step;
use super::table::Table;

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

impl CellError {
    /// A refused cell of `column` in row `row` (as the sheet numbers it),
    /// named by the header the file gives that column (empty when the
    /// sheet has no such column).
    pub(super) fn at(
        table: &Table,
        row: usize,
        columns: &BTreeMap<Column, usize>,
        column: Column,
        reason: &str,
        message: String,
    ) -> Self {
        Self::named(
            table,
            row,
            columns
                .get(&column)
                .map(|&i| table.headers[i].clone())
                .unwrap_or_default(),
            reason,
            message,
        )
    }

    /// A refused cell under the header `column` as written (empty when the
    /// refusal is about the row as a whole).
    pub(super) fn named(
        table: &Table,
        row: usize,
        column: String,
        reason: &str,
        message: String,
    ) -> Self {
        Self {
            sheet: table.sheet.clone(),
            row,
            column,
            reason: reason.to_owned(),
            message,
        }
    }
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
