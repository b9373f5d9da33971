//! The organisation tree the story plays in: a region, its city with the
//! city's bodies, departments and enterprises, and counties down to
//! villages. Built as data first (the rounds pick their targets from it),
//! then created level by level.

use std::collections::HashMap;

use fiveledger_proto::rounds::{CreateOrganisationRequest, Organisation, OrganisationKind};
use futures::{StreamExt, TryStreamExt, stream};

use super::{Story, add};
use crate::cli::connect::failed;

/// One organisation of the tree.
#[derive(Debug, Clone)]
pub(super) struct Org {
    id: String,
    kind: OrganisationKind,
    parent: String,
    display_name: String,
}

/// The tree the story plays in.
pub(super) struct World {
    pub region: String,
    pub city: String,
    pub city_name: String,
    pub commission: String,
    pub org_department: String,
    pub propaganda: String,
    /// Organisations that may be inspected, with their display names.
    pub targets: Vec<(String, String)>,
    pub villages: Vec<(String, String)>,
    /// The townships' ids (乡镇), county by county.
    pub townships: Vec<String>,
    /// The counties' ids, in order.
    pub counties: Vec<String>,
    /// Every organisation's path by its id (`region/city/county/...`).
    pub paths: HashMap<String, String>,
    /// The tree level by level: a level's parents are in earlier ones.
    all: Vec<Vec<Org>>,
}

const COUNTIES: &[&str] = &["江南区", "江北县", "青山县", "白云县", "临江县", "石门县"];
const BUREAUS: &[&str] = &[
    "财政局",
    "教育局",
    "卫生健康委",
    "住房城乡建设局",
    "农业农村局",
    "民政局",
    "自然资源局",
    "交通运输局",
];
const ENTERPRISES: &[&str] = &[
    "城市建设投资集团",
    "水务集团",
    "交通投资集团",
    "农村商业银行",
];

fn org(id: String, kind: OrganisationKind, parent: &str, name: String) -> Org {
    Org {
        id,
        kind,
        parent: parent.to_owned(),
        display_name: name,
    }
}

/// Organisations below the city, level by level, and the targets and
/// villages among them (in the order the rounds' rotation walks them).
#[derive(Default)]
struct Levels {
    counties: Vec<Org>,
    county_bodies: Vec<Org>,
    townships: Vec<Org>,
    villages: Vec<Org>,
    targets: Vec<(String, String)>,
    village_targets: Vec<(String, String)>,
}

impl Levels {
    /// An organisation that may be inspected.
    fn target(&mut self, o: Org) -> Org {
        self.targets.push((o.id.clone(), o.display_name.clone()));
        o
    }
}

pub(super) fn world(prefix: &str, scale: f64) -> World {
    use OrganisationKind as K;
    let p = prefix;
    let region = format!("{p}-region");
    let city = format!("{p}-city");
    let mut levels = Levels::default();
    let bodies = city_bodies(p, &city, &mut levels);
    // Fewer counties and townships at small scales keep the tree in proportion.
    let counties = ((COUNTIES.len() as f64 * scale).ceil() as usize).clamp(2, COUNTIES.len());
    let townships = ((8.0 * scale).ceil() as usize).clamp(2, 8);
    for (c, county) in COUNTIES.iter().take(counties).enumerate() {
        add_county(p, &city, c, county, townships, &mut levels);
    }
    let all = vec![
        vec![org(region.clone(), K::Region, "", "示范自治区".into())],
        vec![org(city.clone(), K::City, &region, "江城市".into())],
        bodies,
        levels.counties,
        levels.county_bodies,
        levels.townships,
        levels.villages,
    ];
    let mut paths: HashMap<String, String> = HashMap::new();
    for o in all.iter().flatten() {
        let path = match paths.get(&o.parent) {
            Some(parent) => format!("{parent}/{}", o.id),
            None => o.id.clone(),
        };
        paths.insert(o.id.clone(), path);
    }
    World {
        counties: all[3].iter().map(|o| o.id.clone()).collect(),
        townships: all[5].iter().map(|o| o.id.clone()).collect(),
        paths,
        commission: format!("organisations/{p}-city-jw"),
        org_department: format!("organisations/{p}-city-zzb"),
        propaganda: format!("organisations/{p}-city-xcb"),
        city_name: "江城市".into(),
        all,
        region,
        city,
        targets: levels.targets,
        villages: levels.village_targets,
    }
}

/// The city's party bodies, bureaus and enterprises.
fn city_bodies(p: &str, city: &str, levels: &mut Levels) -> Vec<Org> {
    use OrganisationKind as K;
    let mut bodies = vec![
        org(
            format!("{p}-city-jw"),
            K::DisciplineCommission,
            city,
            "江城市纪委监委".into(),
        ),
        org(
            format!("{p}-city-zzb"),
            K::OrganisationDepartment,
            city,
            "中共江城市委组织部".into(),
        ),
        org(
            format!("{p}-city-xcb"),
            K::PropagandaDepartment,
            city,
            "中共江城市委宣传部".into(),
        ),
        org(
            format!("{p}-city-xcban"),
            K::InspectionOffice,
            city,
            "中共江城市委巡察办".into(),
        ),
    ];
    for (i, b) in BUREAUS.iter().enumerate() {
        let o = org(
            format!("{p}-city-b{i}"),
            K::FunctionalDepartment,
            city,
            format!("江城市{b}"),
        );
        bodies.push(levels.target(o));
    }
    for (i, e) in ENTERPRISES.iter().enumerate() {
        let o = org(
            format!("{p}-city-e{i}"),
            K::Enterprise,
            city,
            format!("江城市{e}"),
        );
        bodies.push(levels.target(o));
    }
    bodies
}

/// One county: its party bodies, four bureaus, and its townships with six
/// villages each.
fn add_county(p: &str, city: &str, c: usize, county: &str, townships: usize, levels: &mut Levels) {
    use OrganisationKind as K;
    let cid = format!("{p}-c{c}");
    levels
        .counties
        .push(org(cid.clone(), K::County, city, county.to_string()));
    for (suffix, kind, name) in [
        ("jw", K::DisciplineCommission, format!("{county}纪委监委")),
        (
            "zzb",
            K::OrganisationDepartment,
            format!("{county}委组织部"),
        ),
        ("xcb", K::PropagandaDepartment, format!("{county}委宣传部")),
    ] {
        levels
            .county_bodies
            .push(org(format!("{cid}-{suffix}"), kind, &cid, name));
    }
    for (i, b) in BUREAUS.iter().take(4).enumerate() {
        let o = org(
            format!("{cid}-b{i}"),
            K::FunctionalDepartment,
            &cid,
            format!("{county}{b}"),
        );
        let o = levels.target(o);
        levels.county_bodies.push(o);
    }
    for t in 0..townships {
        let tid = format!("{cid}-t{t}");
        let tname = format!("{county}第{}镇", t + 1);
        let township = levels.target(org(tid.clone(), K::Township, &cid, tname.clone()));
        levels.townships.push(township);
        for (v, side) in ["东", "西", "南", "北", "新", "和平"].iter().enumerate() {
            let vid = format!("{tid}-v{v}");
            let vname = format!("{tname}{side}村");
            levels.village_targets.push((vid.clone(), vname.clone()));
            let village = levels.target(org(vid, K::Village, &tid, vname));
            levels.villages.push(village);
        }
    }
}

impl World {
    /// The path of the organisation `id` (`organisations/{id}` also taken).
    pub fn path(&self, id: &str) -> String {
        let id = id.strip_prefix("organisations/").unwrap_or(id);
        self.paths.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }

    /// The county `id` lies in, if any.
    pub fn county_of(&self, id: &str) -> Option<usize> {
        let path = self.path(id);
        self.counties
            .iter()
            .position(|c| path.split('/').any(|part| part == c))
    }
}

/// Creates the tree level by level (a child needs its parent). The
/// installation's operator sets up the organisation directory; everything
/// after it is done by the role that would do it.
pub(super) async fn create(story: &Story, concurrency: usize) -> anyhow::Result<()> {
    for level in &story.world.all {
        stream::iter(level)
            .map(|o| create_one(story, o))
            .buffer_unordered(concurrency * 2)
            .try_collect::<Vec<_>>()
            .await?;
    }
    Ok(())
}

async fn create_one(story: &Story, o: &Org) -> anyhow::Result<()> {
    story
        .cast
        .operator
        .organisations()
        .create_organisation(CreateOrganisationRequest {
            organisation: Some(Organisation {
                display_name: o.display_name.clone(),
                kind: o.kind as i32,
                parent: if o.parent.is_empty() {
                    String::new()
                } else {
                    format!("organisations/{}", o.parent)
                },
                ..Default::default()
            }),
            organisation_id: o.id.clone(),
            request_id: String::new(),
        })
        .await
        .map_err(|s| failed(&format!("creating organisation {}", o.id), s))?;
    add(&story.tally.organisations, 1);
    Ok(())
}
