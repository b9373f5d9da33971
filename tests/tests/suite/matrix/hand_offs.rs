//! The hand-offs at feedback (移交) in the matrix: the receiving body sees
//! and signs what was handed to it; the offices and viewers of the running
//! level (or above) follow every hand-off of their rounds; to anyone else
//! a hand-off does not exist.

use super::*;
use fiveledger_proto::rounds::*;

/// Who acts for a receiving body (and signs for it).
const RECEIVERS: &[Role] = &[Role::DisciplineCommission, Role::Supervisor];
/// Who follows every hand-off of the rounds in their scope.
const OVERSEERS: &[Role] = &[Role::InspectionOffice, Role::Viewer];

/// Whether `who` acts for the body at `receiver`.
fn receives(who: &Who, receiver: &str) -> bool {
    who.any(RECEIVERS) && who.within(receiver)
}

fn sees(who: &Who, receiver: &str, running: &str) -> bool {
    receives(who, receiver) || (who.any(OVERSEERS) && who.sees(running))
}

/// Every hand-off of the handed inspections `keys`: (name, receiver path,
/// running level).
fn hand_offs_of(world: &World, keys: &[&str]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for key in keys {
        let i = &world.inspections[key];
        if !i.handed {
            continue;
        }
        for (id, suffix) in fixture::HAND_OFFS {
            out.push((
                format!("{}/handOffs/{id}", i.name),
                body(&i.running, suffix),
                i.running.clone(),
            ));
        }
    }
    out
}

pub(super) fn rows(world: &Arc<World>) -> Vec<Row> {
    let list = rpc!("rounds", "HandOffService", "ListHandOffs");
    let acknowledge = rpc!("rounds", "HandOffService", "AcknowledgeHandOff");
    let record = rpc!("rounds", "HandOffService", "RecordHandOffResult");
    let sweep = rpc!("rounds", "HandOffService", "SweepHandOffs");
    let every: Vec<&'static str> = world.inspections.keys().copied().collect();
    let mut list_cases = vec![{
        let all = hand_offs_of(world, &every);
        unary(
            list,
            "every hand-off (rounds/-/inspections/-)",
            String::new(),
            |_| ListHandOffsRequest {
                parent: "rounds/-/inspections/-".into(),
                page_size: 1000,
                ..Default::default()
            },
            |r: ListHandOffsResponse| names_of(r.hand_offs, |h| h.name),
            move |who| {
                listed(
                    all.iter()
                        .filter(|(_, receiver, running)| sees(who, receiver, running))
                        .map(|(name, _, _)| name.clone()),
                )
            },
        )
    }];
    for key in ["ia2", "ic1"] {
        let i = world.inspections[key].name.clone();
        let own = hand_offs_of(world, &[key]);
        let inspection = world.inspections[key].target.clone();
        let running = world.inspections[key].running.clone();
        list_cases.push(unary(
            list,
            format!("the hand-offs of {i}"),
            i,
            |parent| ListHandOffsRequest {
                parent: parent.into(),
                page_size: 1000,
                ..Default::default()
            },
            |r: ListHandOffsResponse| names_of(r.hand_offs, |h| h.name),
            move |who| {
                // The parent is an inspection the caller must see.
                if !(who.sees(&inspection) || who.sees(&running)) {
                    return HIDDEN;
                }
                listed(
                    own.iter()
                        .filter(|(_, receiver, running)| sees(who, receiver, running))
                        .map(|(name, _, _)| name.clone()),
                )
            },
        ));
    }
    let acknowledge_cases = ["ia2", "ic1"]
        .into_iter()
        .map(|key| {
            let i = &world.inspections[key];
            let name = format!("{}/handOffs/{}", i.name, fixture::SIGNED_HAND_OFF);
            let receiver = body(&i.running, "jw");
            let running = i.running.clone();
            unary(
                acknowledge,
                format!("{name} (signed already)"),
                name,
                |name| AcknowledgeHandOffRequest {
                    name: name.into(),
                    note: "已签收".into(),
                    ..Default::default()
                },
                nothing::<HandOff>,
                move |who| {
                    if !sees(who, &receiver, &running) {
                        HIDDEN
                    } else if receives(who, &receiver) {
                        Outcome::Fails(Code::FailedPrecondition, "HAND_OFF_ALREADY_ACKNOWLEDGED")
                    } else {
                        Outcome::Refused("NOT_THE_RECEIVING_BODY")
                    }
                },
            )
        })
        .collect();
    // What the body did with it: only once signed (never written here).
    let record_cases = ["ia2", "ic1"]
        .into_iter()
        .map(|key| {
            let i = &world.inspections[key];
            let name = format!("{}/handOffs/{}", i.name, fixture::UNSIGNED_HAND_OFF);
            let receiver = body(&i.running, "zzb");
            let running = i.running.clone();
            unary(
                record,
                format!("{name} (not signed)"),
                name,
                |name| RecordHandOffResultRequest {
                    name: name.into(),
                    conclusion: "已办结".into(),
                    ..Default::default()
                },
                nothing::<HandOff>,
                move |who| {
                    if !sees(who, &receiver, &running) {
                        HIDDEN
                    } else if receives(who, &receiver) {
                        Outcome::Fails(Code::FailedPrecondition, "HAND_OFF_NOT_ACKNOWLEDGED")
                    } else {
                        Outcome::Refused("NOT_THE_RECEIVING_BODY")
                    }
                },
            )
        })
        .collect();
    vec![
        Row {
            rpc: list,
            cases: list_cases,
        },
        Row {
            rpc: acknowledge,
            cases: acknowledge_cases,
        },
        Row {
            rpc: record,
            cases: record_cases,
        },
        Row {
            rpc: sweep,
            cases: vec![unary(
                sweep,
                "every hand-off in scope (none due yet)",
                String::new(),
                |_| SweepHandOffsRequest {},
                |r: SweepHandOffsResponse| [figure("notices", r.notices)].into(),
                |_| listed([figure("notices", 0)]),
            )],
        },
    ]
}
