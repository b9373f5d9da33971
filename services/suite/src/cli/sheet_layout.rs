//! How offices lay a sheet out around the table: title rows (often merged
//! across the width) above the header row, cells merged down a column (a
//! 问题类别 spanning the rows of its problems), and notes rows (注：…,
//! 填表人：…) below the last problem.

/// Rows searched for the header: titles take a few lines at most.
const HEADER_SEARCH: usize = 20;

/// A merged region: first and last row and column, 0-based, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merged {
    pub first: (usize, usize),
    pub last: (usize, usize),
}

/// Gives every cell of a region merged down several rows the value of its
/// top cell, as the reader of the printed sheet sees it. Regions one row
/// high (merged titles) are left as they are.
pub fn fill_merged_down(rows: &mut [Vec<String>], merged: &[Merged]) {
    for m in merged {
        if m.last.0 <= m.first.0 {
            continue;
        }
        for c in m.first.1..=m.last.1 {
            let Some(value) = rows.get(m.first.0).and_then(|r| r.get(c)).cloned() else {
                continue;
            };
            for row in rows.iter_mut().take(m.last.0 + 1).skip(m.first.0 + 1) {
                if row.len() <= c {
                    row.resize(c + 1, String::new());
                }
                if row[c].trim().is_empty() {
                    row[c] = value.clone();
                }
            }
        }
    }
}

/// The index of the header row: the first of the top rows with at least
/// two cells `is_header` knows. Title rows above it hold one text (or
/// none `is_header` knows). `None` when no row qualifies.
pub fn find_header(rows: &[Vec<String>], is_header: impl Fn(&str) -> bool) -> Option<usize> {
    rows.iter().take(HEADER_SEARCH).position(|r| {
        r.iter()
            .filter(|c| !c.trim().is_empty() && is_header(c.trim()))
            .count()
            >= 2
    })
}

/// Openings of the lines offices write under a table.
const NOTE_OPENINGS: &[&str] = &[
    "注",
    "备注：",
    "备注:",
    "说明",
    "填表",
    "制表",
    "填报",
    "审核",
    "联系人",
    "联系电话",
    "签字",
    "单位（盖章）",
    "单位(盖章)",
    "（盖章）",
    "负责人：",
    "负责人:",
];

/// Whether a row is a note under the table: a single text that opens like
/// a note (注：…, 填表人：…, 制表日期：…).
pub fn is_note(cells: &[String]) -> bool {
    let mut texts = cells.iter().map(|c| c.trim()).filter(|c| !c.is_empty());
    match (texts.next(), texts.next()) {
        (Some(only), None) => NOTE_OPENINGS.iter().any(|o| only.starts_with(o)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[&[&str]]) -> Vec<Vec<String>> {
        text.iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn the_header_is_below_the_titles() {
        let known = |h: &str| ["序号", "问题类别", "问题描述"].contains(&h);
        let sheet = rows(&[
            &["某县巡察反馈问题整改台账", "", ""],
            &["填报单位：某局", "", "问题类别"],
            &["序号", "问题类别", "问题描述"],
        ]);
        assert_eq!(find_header(&sheet, known), Some(2));
        assert_eq!(find_header(&sheet[..2], known), None);
    }

    #[test]
    fn merged_cells_carry_down_but_titles_stay() {
        let mut sheet = rows(&[&["标题", ""], &["党的领导", "a"], &["", "b"], &["", "c"]]);
        fill_merged_down(
            &mut sheet,
            &[
                Merged {
                    first: (0, 0),
                    last: (0, 1),
                },
                Merged {
                    first: (1, 0),
                    last: (3, 0),
                },
            ],
        );
        assert_eq!(sheet[0], ["标题", ""]);
        assert_eq!(sheet[3], ["党的领导", "c"]);
    }

    #[test]
    fn notes_under_the_table() {
        assert!(is_note(
            &rows(&[&["", "注：整改时限以反馈之日起算", ""]])[0]
        ));
        assert!(is_note(&rows(&[&["填表人：张三"]])[0]));
        assert!(!is_note(&rows(&[&["注：", "党的领导"]])[0]));
        assert!(!is_note(&rows(&[&["党的领导"]])[0]));
    }
}
