//! The columns a problem sheet may have: the headers offices write for
//! each (Chinese or English) and which column index holds what.

use std::collections::{BTreeMap, HashMap};

use super::categories::normalise;
use super::table::Table;

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
    Status,
    ClosedDate,
    ReceivingBody,
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
        (
            Column::Status,
            &["状态", "整改状态", "办理状态", "销号情况", "status"],
        ),
        (
            Column::ClosedDate,
            &[
                "销号时间",
                "销号日期",
                "移交时间",
                "移交日期",
                "办结时间",
                "closed date",
            ],
        ),
        (
            Column::ReceivingBody,
            &["移交单位", "移交部门", "移交对象", "receiving body"],
        ),
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
            | Column::Remark
            | Column::Status
            | Column::ClosedDate
            | Column::ReceivingBody => &[],
        }
    }
}

/// Which column index holds what, and a warning naming the columns not
/// read (refused when `strict`, so that a misspelt column is not dropped).
pub(super) fn map_columns(
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
pub(super) fn field_headers(
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
}
