//! The people of the story: names drawn from common surnames and given
//! names, and the talent pool of inspectors the rounds' groups come from.

use fiveledger_proto::rounds::{CreateInspectorRequest, Inspector};
use futures::{StreamExt, TryStreamExt, stream};
use rand::Rng;
use rand::rngs::StdRng;

use super::{DemoOptions, Story, add};
use crate::cli::connect::failed;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "梁",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超",
    "秀英", "建华", "志强", "海燕", "国庆",
];

/// Size of the talent pool.
const POOL: usize = 40;

pub(super) fn person(rng: &mut StdRng) -> String {
    format!(
        "{}{}",
        SURNAMES[rng.random_range(0..SURNAMES.len())],
        GIVEN[rng.random_range(0..GIVEN.len())]
    )
}

/// Creates the talent pool: people of the inspection office, the commission
/// and the organisation department (never a target, so avoidance holds).
/// Returns the inspectors' ids.
pub(super) async fn create_inspectors(
    story: &Story,
    options: &DemoOptions,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<String>> {
    let homes = [
        format!("organisations/{}-city-xcban", options.prefix),
        story.world.commission.clone(),
        story.world.org_department.clone(),
    ];
    let pool: Vec<String> = (0..POOL)
        .map(|i| format!("{}-inspector-{i}", options.prefix))
        .collect();
    let people: Vec<(String, String)> = pool.iter().map(|id| (id.clone(), person(rng))).collect();
    stream::iter(people.into_iter().enumerate())
        .map(|(i, (id, name))| {
            let home = homes[i % homes.len()].clone();
            async move {
                story
                    .cast
                    .office
                    .inspectors()
                    .create_inspector(CreateInspectorRequest {
                        inspector: Some(Inspector {
                            display_name: name,
                            subject: id.clone(),
                            home_organisation: home,
                            ..Default::default()
                        }),
                        inspector_id: id.clone(),
                        request_id: String::new(),
                    })
                    .await
                    .map_err(|s| failed(&format!("creating inspector {id}"), s))?;
                add(&story.tally.inspectors, 1);
                anyhow::Ok(())
            }
        })
        .buffer_unordered(options.concurrency * 2)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(pool)
}
