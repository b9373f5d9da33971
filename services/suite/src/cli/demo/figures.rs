//! The source's figures for the city (the seed text, L2836-2844 and
//! L2700-2702): twelve rounds found and fed back 4,683 problems, 4,374
//! were rectified, 1,331 clues were transferred, 93,109,700 yuan (9310.97万元)
//! of losses recovered and irregular funds returned together, and 268
//! people given party or government discipline or organisational handling
//! together; 236 units' rectification was published. Of the 2020 township
//! inspections (L2636-2640) 242 problems were fed back and rectified, 91.3 %
//! on time (221): the demo's round 3. The plan is dealt so
//! that the loaded city shows exactly these figures (scaled), each as the
//! suite counts it.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::rounds::{ClueFate, RoundPlan};

/// The source's figures at full scale.
const PROBLEMS: f64 = 4683.0;
const RECTIFIED: f64 = 4374.0;
const CLUES: f64 = 1331.0;
/// 9310.97万元 in fen.
const RECOVERED_FEN: f64 = 9_310_970_000.0;
const PEOPLE: f64 = 268.0;
const PUBLISHED: f64 = 236.0;
/// The 2020 township rounds: problems fed back and rectified, and of them
/// rectified on time (按期整改率 91.3 % = 221 / 242).
const TOWNSHIP_PROBLEMS: f64 = 242.0;
const TOWNSHIP_ON_TIME: f64 = 221.0;
/// The round of the story that is the 2020 township rounds.
pub(super) const TOWNSHIP_ROUND: i32 = 3;
/// Share of the other rounds' write-offs that come after the original due
/// date.
const LATE_SHARE: f64 = 0.06;

/// The source's figures at a scale.
#[derive(Debug, Clone, Copy)]
pub(super) struct Source {
    pub problems: u64,
    pub rectified: u64,
    pub clues: u64,
    pub recovered_fen: i64,
    pub people: u64,
    pub published: u64,
    pub township_problems: u64,
    pub township_on_time: u64,
}

fn at(figure: f64, scale: f64) -> u64 {
    (figure * scale).round() as u64
}

impl Source {
    pub fn scaled(scale: f64) -> Self {
        Self {
            problems: at(PROBLEMS, scale),
            rectified: at(RECTIFIED, scale),
            clues: at(CLUES, scale),
            recovered_fen: (RECOVERED_FEN * scale).round() as i64,
            people: at(PEOPLE, scale),
            published: at(PUBLISHED, scale),
            township_problems: at(TOWNSHIP_PROBLEMS, scale),
            township_on_time: at(TOWNSHIP_ON_TIME, scale),
        }
    }

    /// Deals the figures out over the planned inspections: problems by a
    /// random weight each (the township round exactly its own), the open
    /// ones by the round's open share (recent rounds are still rectifying;
    /// the township round has rectified all), the late write-offs (the
    /// township round's exactly its own), clues and their fates at random,
    /// and the money over the write-offs.
    pub fn allot(&self, plan: &mut [RoundPlan], rng: &mut StdRng) {
        let n: usize = plan.iter().map(|r| r.targets.len()).sum();
        if n == 0 {
            return;
        }
        let township: Vec<bool> = plan
            .iter()
            .flat_map(|r| r.targets.iter().map(move |_| r.number == TOWNSHIP_ROUND))
            .collect();
        let weights: Vec<f64> = (0..n).map(|_| rng.random_range(4.0..14.0)).collect();
        let in_township = self.township_problems.min(self.problems) as usize;
        let problems = add_up(
            deal_among(in_township, &weights, &township, true),
            deal_among(
                self.problems as usize - in_township,
                &weights,
                &township.iter().map(|t| !t).collect::<Vec<_>>(),
                true,
            ),
        );
        let shares: Vec<f64> = plan
            .iter()
            .flat_map(|r| r.targets.iter().map(move |_| r.open_share))
            .collect();
        let open_total = (self.problems - self.rectified.min(self.problems)) as usize;
        // The township round keeps none open.
        let open_room: Vec<usize> = problems
            .iter()
            .zip(&township)
            .map(|(&p, &t)| if t { 0 } else { p })
            .collect();
        let open = deal_capped(open_total, &open_room, &shares);
        let township_late = in_township - (self.township_on_time as usize).min(in_township);
        let by_problems: Vec<f64> = problems.iter().map(|&p| p as f64).collect();
        let late_in_township = deal_among(township_late, &by_problems, &township, false);
        let clue_weights: Vec<f64> = (0..n).map(|_| rng.random_range(1.0..4.0)).collect();
        let clues = deal(self.clues as usize, &clue_weights);
        let mut fates = self.clue_fates();
        fates.shuffle(rng);
        let written_off: Vec<f64> = problems
            .iter()
            .zip(&open)
            .map(|(p, o)| (p - o) as f64)
            .collect();
        let money = deal(self.recovered_fen as usize, &written_off);
        let mut fates = fates.into_iter();
        let targets = plan.iter_mut().flat_map(|r| r.targets.iter_mut());
        // The first look-back of the story always finds a rectification on
        // paper only (so a small load shows one too).
        let mut first_look_back = true;
        for (i, t) in targets.enumerate() {
            t.problems = problems[i];
            t.open = open[i];
            t.late = if township[i] {
                late_in_township[i]
            } else {
                ((problems[i] - open[i]) as f64 * LATE_SHARE).round() as usize
            };
            t.clues = fates.by_ref().take(clues[i]).collect();
            t.recovered_fen = money[i] as i64;
            if t.look_back_of.is_some() {
                t.reopens = rng.random_bool(0.12) || first_look_back;
                first_look_back = false;
            }
        }
    }

    /// The fates of the clues: the people disciplined or handled, about a
    /// third cleared, some disposed of and awaiting an outcome, the rest
    /// awaiting disposal.
    fn clue_fates(&self) -> Vec<ClueFate> {
        let clues = self.clues as usize;
        let people = (self.people as usize).min(clues);
        let cleared = (clues - people) / 3;
        let disposed = (clues - people - cleared) / 3;
        let mut fates = Vec::with_capacity(clues);
        fates.extend((0..people).map(|i| {
            if i % 3 == 2 {
                ClueFate::OrganisationalHandling
            } else {
                ClueFate::Disciplined
            }
        }));
        fates.extend(std::iter::repeat_n(ClueFate::Cleared, cleared));
        fates.extend(std::iter::repeat_n(ClueFate::Disposed, disposed));
        fates.resize(clues, ClueFate::Pending);
        fates
    }
}

/// `total` dealt in proportion to `weights` (largest remainders), summing
/// exactly to `total`.
pub(super) fn deal(total: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    if weights.is_empty() || sum <= 0.0 {
        let mut out = vec![0; weights.len()];
        if let Some(first) = out.first_mut() {
            *first = total;
        }
        return out;
    }
    let exact: Vec<f64> = weights.iter().map(|w| w / sum * total as f64).collect();
    let mut out: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut rest: Vec<usize> = (0..weights.len()).collect();
    rest.sort_by(|&a, &b| {
        let fa = exact[a] - exact[a].floor();
        let fb = exact[b] - exact[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    let short = total - out.iter().sum::<usize>();
    for &i in rest.iter().cycle().take(short) {
        out[i] += 1;
    }
    out
}

/// `total` dealt in proportion to `weights` among the places `among`
/// marks (nothing elsewhere), at least one each when `at_least_one` and
/// there are enough.
fn deal_among(total: usize, weights: &[f64], among: &[bool], at_least_one: bool) -> Vec<usize> {
    let places: Vec<usize> = (0..weights.len()).filter(|&i| among[i]).collect();
    let mut out = vec![0; weights.len()];
    if places.is_empty() {
        return out;
    }
    let picked: Vec<f64> = places.iter().map(|&i| weights[i]).collect();
    let dealt = if at_least_one {
        deal_at_least_one(total, &picked)
    } else {
        deal(total, &picked)
    };
    for (&i, x) in places.iter().zip(dealt) {
        out[i] = x;
    }
    out
}

fn add_up(a: Vec<usize>, b: Vec<usize>) -> Vec<usize> {
    a.into_iter().zip(b).map(|(x, y)| x + y).collect()
}

/// As [`deal`], with at least one each when there are enough.
fn deal_at_least_one(total: usize, weights: &[f64]) -> Vec<usize> {
    let base = usize::from(total >= weights.len());
    let mut out = deal(total - base * weights.len(), weights);
    for x in &mut out {
        *x += base;
    }
    out
}

/// `total` dealt in proportion to `of[i] * shares[i]`, never more than
/// `of[i]` each; what a full one cannot take goes to the others in turn.
fn deal_capped(total: usize, of: &[usize], shares: &[f64]) -> Vec<usize> {
    let weights: Vec<f64> = of.iter().zip(shares).map(|(&p, s)| p as f64 * s).collect();
    let mut out = deal(total, &weights);
    let mut spill = 0;
    for (x, &cap) in out.iter_mut().zip(of) {
        spill += x.saturating_sub(cap);
        *x = (*x).min(cap);
    }
    // Spill to the most open-prone first (the recent rounds are last).
    for i in (0..out.len()).rev().cycle().take(out.len() * 2) {
        if spill == 0 {
            break;
        }
        let room = (of[i] - out[i]).min(spill);
        out[i] += room;
        spill -= room;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dealing_sums_to_the_total() {
        let weights = [1.0, 2.5, 0.5, 3.0];
        for total in [0, 1, 7, 4683] {
            assert_eq!(deal(total, &weights).iter().sum::<usize>(), total);
            let one = deal_at_least_one(total, &weights);
            assert_eq!(one.iter().sum::<usize>(), total);
        }
        let capped = deal_capped(10, &[2, 3, 10], &[0.9, 0.9, 0.01]);
        assert_eq!(capped.iter().sum::<usize>(), 10);
        assert!(capped.iter().zip([2, 3, 10]).all(|(x, cap)| *x <= cap));
    }

    #[test]
    fn the_fates_hold_the_source_s_people() {
        let fates = Source::scaled(1.0).clue_fates();
        assert_eq!(fates.len(), 1331);
        let people = fates
            .iter()
            .filter(|f| matches!(f, ClueFate::Disciplined | ClueFate::OrganisationalHandling))
            .count();
        assert_eq!(people, 268);
    }
}
