//! Clue colours in `WatchWarnings`: the issues service's `ClueWarned`
//! events, followed by the ledger, streamed to those who see the clue (the
//! offices and commissions of the running level or above, the body holding
//! it, the organisation department for the clues handed to it) and to
//! nobody else.

use crate::common;

use std::time::Duration;

use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::issues::{Clue, ClueWarned};
use fiveledger_proto::ledgers::*;
use fiveledger_proto::types::{DeadlineKind, Notice, WarningColour, WarningDetail};
use futures::StreamExt;
use tonic::Code;

const LIUZHOU: &str = "guangxi/liuzhou";

fn clue(id: &str, target_path: &str, receiving_body_path: &str) -> Clue {
    Clue {
        name: format!("clues/{id}"),
        target_path: target_path.into(),
        receiving_body_path: receiving_body_path.into(),
        subject_name: "SECRET-张三".into(),
        summary: "SECRET-反映问题".into(),
        ..Default::default()
    }
}

fn warned(clue: &Clue, n: usize, from: WarningColour, to: WarningColour) -> ClueWarned {
    ClueWarned {
        clue: Some(clue.clone()),
        warning: Some(WarningDetail {
            item: "clue".into(),
            kind: DeadlineKind::Clue as i32,
            due_date: Some(date(2026, 7, 31)),
            from_colour: from as i32,
            to_colour: to as i32,
            notice: Some(Notice {
                number: format!("{}/warnings/{n}", clue.name),
                ..Default::default()
            }),
            as_of: Some(date(2026, 8, 1)),
        }),
    }
}

/// The first `n` items `token` streams (filtered to `organisation_path`).
async fn first(
    app: &TestApp,
    token: &str,
    organisation_path: &str,
    n: usize,
) -> Vec<WatchWarningsResponse> {
    let mut stream = app
        .warnings()
        .watch_warnings(authed(
            token,
            WatchWarningsRequest {
                organisation_path: organisation_path.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("watch")
        .into_inner();
    let mut out = Vec::new();
    while out.len() < n {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("in time")
            .expect("item")
            .expect("ok");
        out.push(item);
    }
    out
}

/// (clue, colour) of streamed items.
fn seen(items: &[WatchWarningsResponse]) -> Vec<(String, WarningColour)> {
    items
        .iter()
        .map(|w| {
            (
                w.clue.clone(),
                w.warning.as_ref().expect("warning").to_colour(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_clue_turning_blue_yellow_red_streams_to_those_who_see_it_and_nobody_else() {
    let app = spawn().await;
    use WarningColour::{Blue, Green, Red, Yellow};
    // A Nanning round's clue on Xingning, held by the city's commission:
    // blue, yellow, red, one event each.
    let xn = clue(
        "c-xn",
        "guangxi/nanning/xingning",
        "guangxi/nanning/nanning-jw",
    );
    for (n, (from, to)) in [(Green, Blue), (Blue, Yellow), (Yellow, Red)]
        .into_iter()
        .enumerate()
    {
        app.upstream
            .emit_about(&xn.name, &warned(&xn, n + 1, from, to), CITY)
            .await;
    }
    // Then a Liuzhou round's clue, held by Liuzhou's commission, and one of
    // Nanning's handed to its organisation department (a
    // personnel-discipline clue it holds): blue each.
    for (id, target, holder, running) in [
        (
            "c-lz",
            "guangxi/liuzhou/yufeng",
            "guangxi/liuzhou/liuzhou-jw",
            LIUZHOU,
        ),
        (
            "c-zzb",
            "guangxi/nanning/xingning",
            "guangxi/nanning/nanning-zzb",
            CITY,
        ),
    ] {
        let c = clue(id, target, holder);
        app.upstream
            .emit_about(&c.name, &warned(&c, 1, Green, Blue), running)
            .await;
    }

    let nanning = vec![
        ("clues/c-xn".to_owned(), Blue),
        ("clues/c-xn".to_owned(), Yellow),
        ("clues/c-xn".to_owned(), Red),
    ];
    // The commission holding it and the office running the round see the
    // three changes, with the notices as sent, and nothing of Liuzhou's.
    for token in [commission(), office()] {
        let items = first(&app, &token, "", 3).await;
        assert_eq!(seen(&items), nanning);
        let w = items[2].clone();
        assert_eq!((w.entry.as_str(), w.posting.as_str()), ("", ""));
        assert_eq!(w.target_path, "guangxi/nanning/xingning");
        let detail = w.warning.expect("warning");
        assert_eq!(detail.kind(), DeadlineKind::Clue);
        assert_eq!(
            detail.notice.expect("notice").number,
            "clues/c-xn/warnings/3"
        );
        assert!(w.create_time.is_some());
    }
    // Narrowed to Xingning's subtree: the same; an administrator streams
    // both cities' clues, in order.
    assert_eq!(
        seen(&first(&app, &office(), "guangxi/nanning/xingning", 3).await),
        nanning
    );
    assert_eq!(first(&app, &admin(), "", 4).await[3].clue, "clues/c-lz");
    // Out of scope: Liuzhou's commission and Xingning's own commission (a
    // level below the one running the round) stream Liuzhou's clue first,
    // or nothing: never Nanning's.
    let liuzhou = testing::token(
        "jw-lz",
        "guangxi/liuzhou/liuzhou-jw",
        &[Role::DisciplineCommission],
    );
    assert_eq!(
        seen(&first(&app, &liuzhou, "", 1).await),
        [("clues/c-lz".to_owned(), Blue)]
    );
    // The organisation department sees the clue it holds, and no other.
    assert_eq!(
        seen(&first(&app, &org_department(), "", 1).await),
        [("clues/c-zzb".to_owned(), Blue)]
    );
    for token in [
        unit(),
        testing::token(
            "jw-xn",
            "guangxi/nanning/xingning/xingning-jw",
            &[Role::DisciplineCommission],
        ),
    ] {
        let mut stream = app
            .warnings()
            .watch_warnings(authed(&token, WatchWarningsRequest::default()))
            .await
            .expect("watch")
            .into_inner();
        assert!(
            tokio::time::timeout(Duration::from_millis(700), stream.next())
                .await
                .is_err(),
            "{token}"
        );
    }
    // The public may not watch at all.
    let status = app
        .warnings()
        .watch_warnings(authed(
            &testing::token("citizen", "", &[Role::Public]),
            WatchWarningsRequest::default(),
        ))
        .await
        .map(|_| ())
        .expect_err("public");
    assert_eq!(status.code(), Code::PermissionDenied);
    // The ledger keeps the clue's name, paths and notice, never whom it is
    // about: nothing marked SECRET reached its outbox.
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let db = app.db().await;
        let events = fiveledger_platform::outbox::Entity::find()
            .filter(fiveledger_platform::outbox::Column::EventType.eq("ClueWarningNoted"))
            .all(db.reader())
            .await
            .expect("events");
        assert_eq!(events.len(), 5);
        for e in events {
            assert!(!e.payload.windows(6).any(|w| w == b"SECRET"), "{e:?}");
            assert!(
                e.payload
                    .windows(4)
                    .any(|w| w == b"c-xn" || w == b"c-lz" || w == b"c-zz")
            );
        }
    }
}
