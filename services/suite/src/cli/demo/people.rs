//! The people of the story: names drawn from common surnames and given
//! names, and the talent pool of inspectors the rounds' groups come from.

use fiveledger_proto::rounds::CreateInspectorRequest;
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

/// Size of the shared talent pool (人才库) of the linked city-county
/// rounds: the source's 80 people (L2822-2828), half from the city's bodies
/// and half from the counties'.
pub(super) const POOL: usize = 80;

/// The talent pool: who may lead (the city's people) and who the counties
/// supply as members, by county.
pub(super) struct Pool {
    /// The city's people: group leaders and deputies of every round, and
    /// the members of the city's own rounds.
    pub city: Vec<Inspector>,
    /// The counties' people, by county (in `World::counties` order).
    pub counties: Vec<Vec<Inspector>>,
}

/// One person of the pool: the inspector's id (also the subject of their
/// token) and the path of the organisation they work in.
#[derive(Debug, Clone)]
pub(super) struct Inspector {
    pub id: String,
    pub home_path: String,
}

pub(super) fn person(rng: &mut StdRng) -> String {
    format!(
        "{}{}",
        SURNAMES[rng.random_range(0..SURNAMES.len())],
        GIVEN[rng.random_range(0..GIVEN.len())]
    )
}

/// Creates the talent pool: half are people of the city's inspection
/// office, commission and organisation department (never a target, so
/// avoidance holds in the city's rounds), half of the counties' commissions
/// and organisation departments. The city's inspection office registers
/// them all.
pub(super) async fn create_inspectors(
    story: &Story,
    options: &DemoOptions,
    rng: &mut StdRng,
) -> anyhow::Result<Pool> {
    let world = &story.world;
    let p = &options.prefix;
    let city_homes = [
        format!("{p}-city-xcban"),
        format!("{p}-city-jw"),
        format!("{p}-city-zzb"),
    ];
    let mut pool = Pool {
        city: Vec::new(),
        counties: vec![Vec::new(); world.counties.len()],
    };
    let mut people = Vec::new();
    for i in 0..POOL {
        let id = format!("{p}-inspector-{i}");
        let home = if i < POOL / 2 {
            city_homes[i % city_homes.len()].clone()
        } else {
            let c = i % world.counties.len();
            let body = if i % 2 == 0 { "jw" } else { "zzb" };
            format!("{}-{body}", world.counties[c])
        };
        let inspector = Inspector {
            id: id.clone(),
            home_path: world.path(&home),
        };
        match world.county_of(&home) {
            Some(c) => pool.counties[c].push(inspector),
            None => pool.city.push(inspector),
        }
        people.push((id, person(rng), home));
    }
    stream::iter(people)
        .map(|(id, name, home)| async move {
            story
                .cast
                .office
                .inspectors()
                .create_inspector(CreateInspectorRequest {
                    inspector: Some(fiveledger_proto::rounds::Inspector {
                        display_name: name,
                        subject: id.clone(),
                        home_organisation: format!("organisations/{home}"),
                        ..Default::default()
                    }),
                    inspector_id: id.clone(),
                    request_id: String::new(),
                })
                .await
                .map_err(|s| failed(&format!("creating inspector {id}"), s))?;
            add(&story.tally.inspectors, 1);
            anyhow::Ok(())
        })
        .buffer_unordered(options.concurrency * 2)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(pool)
}
