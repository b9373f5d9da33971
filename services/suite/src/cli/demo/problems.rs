//! The problems a group finds, from catalogues of the source's categories
//! (grassroots targets get grassroots problems more often), handed in as
//! one import.

use chrono::{Days, NaiveDate};
use fiveledger_proto::issues::{FixedOnTheSpot, ImportProblemsRequest, Problem, Responsibilities};
use fiveledger_proto::types::Severity;
use futures::stream;
use rand::Rng;
use rand::rngs::StdRng;

use super::calendar::date;
use super::people::person;
use super::rounds::TargetPlan;
use super::{Story, add, step};
use crate::cli::connect::Services;

/// Categories and titles found anywhere.
const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "party-leadership",
        &[
            "贯彻落实上级重大决策部署不到位",
            "“三重一大”集体决策制度执行不严格",
            "落实意识形态工作责任制流于形式",
        ],
    ),
    (
        "party-building",
        &[
            "“三会一课”制度落实不到位",
            "党员发展程序不规范",
            "基层党组织换届不及时",
        ],
    ),
    (
        "strict-governance",
        &[
            "违规发放津补贴",
            "公务接待超标准",
            "公车私用问题仍有发生",
            "工程项目未按规定招投标",
        ],
    ),
    (
        "personnel-selection",
        &[
            "干部选拔任用程序不规范",
            "个人有关事项报告核查结果运用不到位",
            "超职数配备干部",
        ],
    ),
    (
        "ideology",
        &["理论学习中心组学习流于形式", "网络意识形态阵地管理薄弱"],
    ),
];
/// Categories and titles found in townships and villages.
const GRASSROOTS: &[(&str, &[&str])] = &[
    (
        "graft-close-to-the-people",
        &[
            "优亲厚友违规享受低保",
            "村级工程项目虚报冒领",
            "截留挪用惠农补贴资金",
        ],
    ),
    (
        "weak-grassroots-organisations",
        &["村“两委”班子战斗力不强", "村务公开不及时不规范"],
    ),
    (
        "benefit-policies",
        &["扶贫项目资产管理不善", "产业扶持资金发放不精准"],
    ),
];

/// Imports the problems the plan gives `target` (the list the group's
/// leader hands in). Returns how many were imported.
pub(super) async fn import(
    story: &Story,
    group: &Services,
    inspection: &str,
    target: &TargetPlan,
    start: NaiveDate,
    rng: &mut StdRng,
) -> anyhow::Result<usize> {
    let grassroots = target.target.contains("-t");
    let problems: Vec<Problem> = (0..target.problems)
        .map(|_| problem(grassroots, start, rng))
        .collect();
    let imported = group
        .problems()
        .import_problems(stream::iter(vec![ImportProblemsRequest {
            inspection: inspection.to_owned(),
            problems,
            request_id: String::new(),
        }]))
        .await
        .map_err(step("importing the problems"))?
        .into_inner();
    anyhow::ensure!(
        imported.errors.is_empty(),
        "the import was refused: {:?}",
        imported.errors
    );
    add(&story.tally.problems, imported.problems.len() as u64);
    Ok(imported.problems.len())
}

/// One problem; about one in eight was fixed on the spot.
fn problem(grassroots: bool, start: NaiveDate, rng: &mut StdRng) -> Problem {
    let catalogue = if grassroots && rng.random_bool(0.6) {
        GRASSROOTS
    } else {
        CATEGORIES
    };
    let (category, titles) = catalogue[rng.random_range(0..catalogue.len())];
    let title = titles[rng.random_range(0..titles.len())];
    let severity = match rng.random_range(0..10) {
        0 => Severity::Severe,
        1..=3 => Severity::Major,
        _ => Severity::Minor,
    };
    let fixed = rng.random_bool(0.12).then(|| FixedOnTheSpot {
        date: date(start + Days::new(rng.random_range(5..25))),
        action: "巡察期间立行立改，已完成整改".into(),
    });
    Problem {
        category: category.into(),
        severity: severity as i32,
        title: title.into(),
        description: format!("{title}。经查，存在相关问题，需按要求整改。"),
        fixed_on_the_spot: fixed,
        responsibilities: Some(Responsibilities {
            principal: person(rng),
            leader_in_charge: person(rng),
            ..Default::default()
        }),
        ..Default::default()
    }
}
