//! The four-colour rule (四色预警), once: the colour an item with a due
//! date shows on a day, computed in Rust and rendered as SQL from the same
//! thresholds, so that what a list filters or a statistic counts is what a
//! read shows.
//!
//! The rule owns the calendar (whole days; `today` and due dates are
//! calendar dates), the ladder of thresholds (blue from `blue_days` before
//! the due date, yellow after it, red `red_days` after it), what an item
//! remembers of past warnings ([`Ladder`]: a second yellow is red, never
//! below the floor) and the horizon (the last due date already in the blue
//! window: nothing due later can change colour today).
//!
//! [`Colour`] is the rule's own (ordered, with a stored code); it meets the
//! shared API enum `WarningColour` in [`api_colour`] and [`rule_colour`].

use chrono::{Days, NaiveDate};
use fiveledger_proto::types::WarningColour;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Value};

/// A warning colour, ordered by urgency (`Unspecified` below green: no
/// colour, for an item closed or without a due date).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Colour {
    #[default]
    Unspecified,
    Green,
    Blue,
    Yellow,
    Red,
}

impl Colour {
    /// Every colour, in order.
    pub const ALL: [Colour; 5] = [
        Colour::Unspecified,
        Colour::Green,
        Colour::Blue,
        Colour::Yellow,
        Colour::Red,
    ];

    /// The number standing for the colour in SQL and in stored columns
    /// (a ladder's floor): 0 for none, then 1 (green) to 4 (red).
    pub const fn code(self) -> i32 {
        match self {
            Colour::Unspecified => 0,
            Colour::Green => 1,
            Colour::Blue => 2,
            Colour::Yellow => 3,
            Colour::Red => 4,
        }
    }

    /// The colour `code` stands for; none for an unknown number.
    pub fn from_code(code: i32) -> Colour {
        Colour::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .unwrap_or_default()
    }

    /// The colour's code as an SQL constant.
    pub fn sql(self) -> Expr {
        Expr::Constant(Value::Int(Some(self.code())))
    }
}

/// The rule's colour as the API names it (`fiveledger.type.v1.WarningColour`,
/// the vocabulary every service shares).
pub fn api_colour(colour: Colour) -> WarningColour {
    match colour {
        Colour::Unspecified => WarningColour::Unspecified,
        Colour::Green => WarningColour::Green,
        Colour::Blue => WarningColour::Blue,
        Colour::Yellow => WarningColour::Yellow,
        Colour::Red => WarningColour::Red,
    }
}

/// The API's colour as the rule knows it (the inverse of [`api_colour`]).
pub fn rule_colour(colour: WarningColour) -> Colour {
    match colour {
        WarningColour::Unspecified => Colour::Unspecified,
        WarningColour::Green => Colour::Green,
        WarningColour::Blue => Colour::Blue,
        WarningColour::Yellow => Colour::Yellow,
        WarningColour::Red => Colour::Red,
    }
}

/// What an item remembers of its past warnings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ladder {
    /// Yellows before the current due date: overdue again is red.
    pub yellows: i32,
    /// The item never shows below this.
    pub floor: Colour,
}

/// Where an item's parts are in a query, for [`ColourRule::sql`]: columns,
/// and constants (`Expr::Constant`) rather than bound values, so that the
/// expression renders the same text each time it is used (PostgreSQL
/// accepts a grouped-by expression in the select list only then).
#[derive(Debug, Clone)]
pub struct ItemColumns {
    /// The due date as ISO text (`YYYY-MM-DD`), "" when there is none.
    pub due: Expr,
    /// True when the item is closed (it has no colour).
    pub closed: Condition,
    /// [`Ladder::yellows`].
    pub yellows: Expr,
    /// [`Ladder::floor`] by its [`Colour::code`].
    pub floor: Expr,
}

/// The four-colour rule with its thresholds (settings section `[warnings]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColourRule {
    /// Blue from this many days before a due date.
    pub blue_days: u32,
    /// Red this many days after a due date.
    pub red_days: u32,
}

/// The due dates at which the colour changes on a day.
struct Cuts {
    /// Due before this: red.
    red_before: NaiveDate,
    /// Due before this (today): yellow.
    yellow_before: NaiveDate,
    /// Due up to this (the horizon): blue; later, green.
    blue_until: NaiveDate,
}

impl ColourRule {
    fn cuts(&self, today: NaiveDate) -> Cuts {
        Cuts {
            red_before: today
                .checked_sub_days(Days::new(u64::from(self.red_days)))
                .unwrap_or(NaiveDate::MIN),
            yellow_before: today,
            blue_until: self.horizon(today),
        }
    }

    /// The last due date already blue on `today`: an open item due later
    /// is green and stays green today.
    pub fn horizon(&self, today: NaiveDate) -> NaiveDate {
        today
            .checked_add_days(Days::new(u64::from(self.blue_days)))
            .unwrap_or(NaiveDate::MAX)
    }

    /// The colour of an open item due on `due`, on `today`, by the calendar
    /// alone.
    pub fn calendar(&self, due: NaiveDate, today: NaiveDate) -> Colour {
        let c = self.cuts(today);
        if due < c.red_before {
            Colour::Red
        } else if due < c.yellow_before {
            Colour::Yellow
        } else if due <= c.blue_until {
            Colour::Blue
        } else {
            Colour::Green
        }
    }

    /// The colour an open item due on `due` with `ladder` shows on `today`:
    /// the calendar's, raised to red for a second yellow, never below the
    /// floor.
    pub fn shown(&self, due: NaiveDate, ladder: Ladder, today: NaiveDate) -> Colour {
        let colour = match self.calendar(due, today) {
            Colour::Yellow if ladder.yellows > 0 => Colour::Red,
            c => c,
        };
        colour.max(ladder.floor)
    }

    /// [`ColourRule::shown`] as SQL over `item` (and `Unspecified` for an
    /// item closed or without a due date): an integer [`Colour::code`].
    /// Dates and codes are rendered as constants (never caller input), so
    /// the same expression can be selected and grouped by.
    pub fn sql(&self, today: NaiveDate, item: &ItemColumns) -> Expr {
        let c = self.cuts(today);
        let date = |d: NaiveDate| Expr::Constant(Value::from(d.format("%Y-%m-%d").to_string()));
        let at_least = |colour: Colour| -> Expr {
            Expr::case(item.floor.clone().gt(colour.sql()), item.floor.clone())
                .finally(colour.sql())
                .into()
        };
        let overdue: Expr = Expr::case(
            item.yellows.clone().gt(Expr::Constant(Value::Int(Some(0)))),
            Colour::Red.sql(),
        )
        .finally(at_least(Colour::Yellow))
        .into();
        Expr::case(
            Condition::any()
                .add(item.closed.clone())
                .add(item.due.clone().eq(date_none())),
            Colour::Unspecified.sql(),
        )
        .case(item.due.clone().lt(date(c.red_before)), Colour::Red.sql())
        .case(item.due.clone().lt(date(c.yellow_before)), overdue)
        .case(
            item.due.clone().lte(date(c.blue_until)),
            at_least(Colour::Blue),
        )
        .finally(at_least(Colour::Green))
        .into()
    }
}

/// "No due date" in ISO text.
fn date_none() -> Expr {
    Expr::Constant(Value::from(String::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Database, DbBackend};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn colours_map_both_ways() {
        for c in Colour::ALL {
            assert_eq!(rule_colour(api_colour(c)), c);
            // Stored codes (a ladder's floor) are the API's numbers.
            assert_eq!(c.code(), api_colour(c) as i32);
        }
    }

    const DEFAULT: ColourRule = ColourRule {
        blue_days: 7,
        red_days: 30,
    };

    #[test]
    fn calendar_colours_follow_the_thresholds() {
        let due = day(2026, 7, 31);
        let at = |m, d| DEFAULT.calendar(due, day(2026, m, d));
        assert_eq!(at(7, 23), Colour::Green);
        assert_eq!(at(7, 24), Colour::Blue);
        assert_eq!(at(7, 31), Colour::Blue);
        assert_eq!(at(8, 1), Colour::Yellow);
        assert_eq!(at(8, 30), Colour::Yellow);
        assert_eq!(at(8, 31), Colour::Red);
        assert_eq!(DEFAULT.horizon(day(2026, 7, 24)), due);
    }

    #[test]
    fn the_ladder_raises_a_second_yellow_and_holds_the_floor() {
        let due = day(2026, 7, 31);
        let ladder = |yellows, floor| Ladder { yellows, floor };
        let shown = |l, m, d| DEFAULT.shown(due, l, day(2026, m, d));
        assert_eq!(shown(ladder(1, Colour::Blue), 8, 1), Colour::Red);
        assert_eq!(shown(ladder(0, Colour::Yellow), 7, 1), Colour::Yellow);
        assert_eq!(shown(ladder(0, Colour::Blue), 7, 1), Colour::Blue);
        assert_eq!(shown(ladder(0, Colour::Unspecified), 7, 1), Colour::Green);
    }

    #[test]
    fn codes_round_trip() {
        for c in Colour::ALL {
            assert_eq!(Colour::from_code(c.code()), c);
        }
        assert_eq!(Colour::from_code(99), Colour::Unspecified);
    }

    /// One item of the agreement test: its parts and its id.
    struct Item {
        due: Option<NaiveDate>,
        closed: bool,
        ladder: Ladder,
    }

    /// Items due around `base`: every offset in a window wider than any
    /// threshold tried, each with every ladder, open and closed, and
    /// undated ones.
    fn items(base: NaiveDate) -> Vec<Item> {
        let mut out = Vec::new();
        let ladders = [
            Ladder::default(),
            Ladder {
                yellows: 1,
                floor: Colour::Unspecified,
            },
            Ladder {
                yellows: 0,
                floor: Colour::Blue,
            },
            Ladder {
                yellows: 2,
                floor: Colour::Yellow,
            },
            Ladder {
                yellows: 0,
                floor: Colour::Red,
            },
            Ladder {
                yellows: 0,
                floor: Colour::Green,
            },
        ];
        for offset in -70i64..=70 {
            let due = base + chrono::Duration::days(offset);
            for ladder in ladders {
                for closed in [false, true] {
                    out.push(Item {
                        due: Some(due),
                        closed,
                        ladder,
                    });
                }
            }
        }
        for ladder in ladders {
            out.push(Item {
                due: None,
                closed: false,
                ladder,
            });
        }
        out
    }

    fn expected(rule: &ColourRule, item: &Item, today: NaiveDate) -> Colour {
        match item.due {
            Some(due) if !item.closed => rule.shown(due, item.ladder, today),
            _ => Colour::Unspecified,
        }
    }

    /// The SQL and the Rust agree on every item, for many days (across
    /// month, year and leap-day boundaries) and thresholds, on SQLite (and
    /// on PostgreSQL when `FIVELEDGER_TEST_DATABASE_URL` names one).
    #[tokio::test]
    async fn the_sql_agrees_with_the_rust_over_many_days() {
        let mut urls = vec!["sqlite::memory:".to_owned()];
        if let Ok(url) = std::env::var("FIVELEDGER_TEST_DATABASE_URL")
            && !url.is_empty()
        {
            urls.push(url);
        }
        for url in urls {
            let db = Database::connect(&url).await.expect("database");
            let backend = db.get_database_backend();
            let table = format!("colour_rule_test_{}", std::process::id());
            let run = |sql: String| {
                let db = &db;
                async move { db.execute_unprepared(&sql).await.expect("statement") }
            };
            run(format!("DROP TABLE IF EXISTS {table}")).await;
            run(format!(
                "CREATE TABLE {table} (id INTEGER PRIMARY KEY, due_date TEXT NOT NULL, \
                 closed INTEGER NOT NULL, yellow_count INTEGER NOT NULL, \
                 colour_floor INTEGER NOT NULL)"
            ))
            .await;
            let base = day(2024, 2, 29);
            let items = items(base);
            for (chunk_no, chunk) in items.chunks(200).enumerate() {
                let values: Vec<String> = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let due = item.due.map(|d| d.to_string()).unwrap_or_default();
                        format!(
                            "({}, '{due}', {}, {}, {})",
                            chunk_no * 200 + i,
                            i32::from(item.closed),
                            item.ladder.yellows,
                            item.ladder.floor.code()
                        )
                    })
                    .collect();
                run(format!("INSERT INTO {table} VALUES {}", values.join(", "))).await;
            }
            let columns = ItemColumns {
                due: Expr::cust("due_date"),
                closed: Condition::all().add(Expr::cust("closed").eq(Expr::Constant(1.into()))),
                yellows: Expr::cust("yellow_count"),
                floor: Expr::cust("colour_floor"),
            };
            let mut checked = 0;
            for (blue_days, red_days) in [(0, 0), (7, 30), (3, 1), (10, 5), (30, 60), (1, 0)] {
                let rule = ColourRule {
                    blue_days,
                    red_days,
                };
                for step in (-80i64..=80).step_by(3) {
                    let today = base + chrono::Duration::days(step);
                    let query = sea_orm::sea_query::Query::select()
                        .expr_as(rule.sql(today, &columns), "colour")
                        .from(sea_orm::sea_query::Alias::new(table.as_str()))
                        .order_by(
                            sea_orm::sea_query::Alias::new("id"),
                            sea_orm::sea_query::Order::Asc,
                        )
                        .to_owned();
                    let rows = db.query_all(&query).await.expect("colours");
                    assert_eq!(rows.len(), items.len());
                    for (row, item) in rows.iter().zip(&items) {
                        let code: i32 = row.try_get("", "colour").expect("colour");
                        assert_eq!(
                            Colour::from_code(code),
                            expected(&rule, item, today),
                            "{url}: due {:?} closed {} {:?} on {today} with {rule:?}",
                            item.due,
                            item.closed,
                            item.ladder
                        );
                        checked += 1;
                    }
                }
            }
            assert!(checked > 100_000, "{checked}");
            // The expression is grouped by as it is selected (PostgreSQL
            // only accepts that when both render the same text).
            let expr = DEFAULT.sql(base, &columns);
            let query = sea_orm::sea_query::Query::select()
                .expr_as(expr.clone(), "colour")
                .expr_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "n")
                .from(sea_orm::sea_query::Alias::new(table.as_str()))
                .add_group_by([expr])
                .to_owned();
            let groups = db.query_all(&query).await.expect("grouped colours");
            let total: i64 = groups
                .iter()
                .map(|row| row.try_get::<i64>("", "n").expect("n"))
                .sum();
            assert_eq!(total, items.len() as i64);
            if backend == DbBackend::Postgres {
                run(format!("DROP TABLE {table}")).await;
            }
        }
    }
}
