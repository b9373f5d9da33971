//! Four-colour warnings (四色预警): the thresholds every service shares
//! (settings section `[warnings]`) and the notice a colour change sends.
//! The colour itself is [`crate::colour::ColourRule`]'s.

use chrono::{Days, NaiveDate};
use fiveledger_proto::types::{Notice, NoticeKind};

use crate::colour::{Colour, ColourRule};
use crate::time::to_date;
use serde::{Deserialize, Serialize};

/// `FIVELEDGER_WARNINGS__BLUE_DAYS` / `__RED_DAYS` / `__REPLY_DAYS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WarningSettings {
    /// Blue from this many days before a due date.
    pub blue_days: u32,
    /// Red this many days after a due date.
    pub red_days: u32,
    /// Days a written supervision notice (督办通知书) gives to reply.
    pub reply_days: u32,
}

impl Default for WarningSettings {
    fn default() -> Self {
        Self {
            blue_days: 7,
            red_days: 30,
            reply_days: 10,
        }
    }
}

impl WarningSettings {
    /// The four-colour rule these thresholds set.
    pub fn rule(&self) -> ColourRule {
        ColourRule {
            blue_days: self.blue_days,
            red_days: self.red_days,
        }
    }
}

/// Who a colour change is sent to.
#[derive(Debug, Clone, Default)]
pub struct Addressees {
    /// Told of a blue (reminder) or an eased warning: whoever does the work.
    pub handler: String,
    /// Sent the written supervision notice of a yellow.
    pub unit: String,
    /// Sent the circular of a red (the supervising body, the office).
    pub circular: Vec<String>,
}

/// A date as an office writes it: 2026年7月31日.
pub fn chinese_date(date: NaiveDate) -> String {
    date.format("%Y年%-m月%-d日").to_string()
}

/// A colour as an office names it: 绿色, 蓝色, 黄色, 红色.
pub fn colour_name(colour: Colour) -> &'static str {
    match colour {
        Colour::Green | Colour::Unspecified => "绿色",
        Colour::Blue => "蓝色",
        Colour::Yellow => "黄色",
        Colour::Red => "红色",
    }
}

/// The notice a change from `from` to `to` sends about `what`, due on
/// `due`, issued on `today`: a reminder (blue), a written supervision
/// notice with a reply deadline (yellow), a circular (red), or word that
/// the warning eased. `what` names the matter as the text reads it, in
/// Chinese with the unit and the problem by name (e.g.
/// `兴宁区教育局「…」的整改`); the text is what an office sends, in Chinese,
/// with dates written out.
pub fn notice(
    what: &str,
    due: NaiveDate,
    from: Colour,
    to: Colour,
    to_whom: Addressees,
    today: NaiveDate,
    t: &WarningSettings,
) -> Notice {
    let due = chinese_date(due);
    let mut n = Notice {
        issue_date: Some(to_date(today)),
        ..Default::default()
    };
    if to < from.max(Colour::Green) {
        n.set_kind(NoticeKind::Eased);
        n.addressees = vec![to_whom.handler];
        n.text = format!(
            "预警调整：{what}（期限{due}）的预警由{}降为{}。",
            colour_name(from),
            colour_name(to)
        );
    } else {
        match to {
            Colour::Blue => {
                n.set_kind(NoticeKind::Reminder);
                n.addressees = vec![to_whom.handler];
                n.text = format!("提醒：{what}将于{due}到期，请抓紧办理。");
            }
            Colour::Yellow => {
                n.set_kind(NoticeKind::SupervisionNotice);
                n.addressees = vec![to_whom.unit];
                let reply = today + Days::new(u64::from(t.reply_days));
                n.reply_due_date = Some(to_date(reply));
                n.text = format!(
                    "督办通知书：{what}已于{due}到期，现已逾期。请于{}前书面报告办理情况。",
                    chinese_date(reply)
                );
            }
            _ => {
                n.set_kind(NoticeKind::Circular);
                n.addressees = to_whom.circular;
                n.text = format!("通报：{what}已于{due}到期，现严重逾期，予以通报。");
            }
        }
    }
    n.addressees.retain(|a| !a.is_empty());
    n
}
