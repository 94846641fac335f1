//! HopSkipJumpAttack (Chen, Jordan & Wainwright, IEEE S&P 2020): evasion
//! through an API that returns only the predicted label.
//!
//! An API that answers with its top class alone (extraction's `top-1`
//! output hardening) gives the Square Attack and the text attacks no score
//! to climb. HopSkipJump needs only the decision "still the true class or
//! not": it starts from a misclassified random image, bisects back towards
//! the clean one to the decision boundary, estimates the boundary's normal
//! there from the decisions on random probes around the point, steps along
//! it and bisects back to the boundary, each round closer to the clean
//! image. It is a minimum-distance attack: a row counts as broken at every
//! radius its perturbation fits in.
//!
//! The constants and schedules are the reference implementation's
//! (Jianbo-Lab/HSJA): `100·√t` probes at iteration `t` (at most 10,000) at
//! radius `δ` (0.1 at the first iteration, then `√d·θ·d′` for L2 or
//! `d·θ·d′` for L∞, `d′` the distance before the last bisection),
//! bisections to `θ = γ/(d√d)` (L2) or `γ/d²` (L∞) with `γ = 1`, and a step
//! of the current distance over `√t`, halved until it stays misclassified.
//! The random start draws uniform noise until one image is misclassified
//! (at most 100 draws, as ART does) and blends it towards the clean image
//! by bisection to 0.001. A model may give all noise one class (a digits
//! CNN calls it one digit), which leaves the rows of that class without a
//! start; those try, in a seeded order, up to 100 of the attacker's own
//! images of other classes (the test set's first 100 rows), as a targeted
//! decision-based attack starts from an image of its target class, and keep
//! the closest blend of the first 5 that are misclassified.
//!
//! Rows search in lock step, every round asking the model about all rows'
//! images in one call; each row draws from its own seeded generator, so its
//! search does not depend on the rows beside it. A row stops when its
//! budget is spent or once its perturbation fits in every radius asked
//! about: a smaller one would change no figure.

use burn::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::api::Api;
use super::{AttackError, AttackResult, AttackTable, epsilon_key, images};
use crate::batch::{EvalSetup, HostBatch};
use crate::config::{ApiOutput, Distance, HsjaPlan};
use crate::data::Dataset;
use crate::model::{Classifier, HostInput, predicted_classes};
use crate::progress::Progress;

/// Probes at the first iteration; `100·√t` at iteration `t`.
const INIT_PROBES: f64 = 100.0;
/// Most probes in one gradient estimate.
const MAX_PROBES: usize = 10_000;
/// The bisection's precision relative to the dimension.
const GAMMA: f64 = 1.0;
/// Noise images drawn for a start, and images of other classes tried after.
const START_TRIES: usize = 100;
/// The random start's blend is bisected to this share.
const BLEND_TOLERANCE: f64 = 0.001;
/// Test rows an attacker starts from where no noise image is misclassified.
const START_POOL: usize = 100;
/// Misclassified images of other classes a row without a noise start
/// blends towards its clean image, keeping the closest.
const IMAGE_STARTS: usize = 5;
/// Halvings before a step is given up: by then it is far below the
/// resolution of an f32 pixel.
const MAX_HALVINGS: usize = 40;
/// Rows searched together: each gradient estimate holds up to 10,000
/// probe images a row.
const ROWS_AT_ONCE: usize = 32;

/// The search's norm and budget, shared by every row.
#[derive(Debug, Clone)]
pub struct Geometry {
    /// The norm distances are measured in.
    pub norm: Distance,
    /// Values per image, `d`.
    pub len: usize,
    /// Queries per row, the clean one included.
    pub max_queries: usize,
    /// Radii a row keeps its first perturbation within.
    pub epsilons: Vec<f32>,
}

impl Geometry {
    /// `θ`, the bisections' stopping width: `γ/(d√d)` for L2, `γ/d²` for L∞.
    pub fn theta(&self) -> f64 {
        let d = self.len as f64;
        match self.norm {
            Distance::L2 => GAMMA / (d * d.sqrt()),
            Distance::Linf => GAMMA / (d * d),
        }
    }

    /// `δ`, the probes' radius at iteration `t` (from 1), `last` the distance
    /// of the point the last bisection started from.
    pub fn delta(&self, t: usize, last: f64) -> f64 {
        let d = self.len as f64;
        match (t, self.norm) {
            (1, _) => 0.1,
            (_, Distance::L2) => d.sqrt() * self.theta() * last,
            (_, Distance::Linf) => d * self.theta() * last,
        }
    }
}

/// Probes of the gradient estimate at iteration `t` (from 1).
pub fn probes(t: usize) -> usize {
    ((INIT_PROBES * (t as f64).sqrt()) as usize).min(MAX_PROBES)
}

/// One row's search.
pub struct HsjaRow {
    clean: Vec<f32>,
    label: usize,
    rng: Xoshiro256PlusPlus,
    queries: usize,
    /// Still searching: classified correctly, a start found, budget left,
    /// a radius not yet reached.
    active: bool,
    /// A misclassified point near the boundary once the start is found
    /// (the clean image before).
    current: Vec<f32>,
    /// Its distance to the clean image.
    dist: f64,
    /// The distance of the point the last bisection started from.
    dist_before: f64,
    /// For each radius, the first point found within it and the queries
    /// spent by then.
    within: Vec<Option<(Vec<f32>, usize)>>,
}

impl HsjaRow {
    /// A row to attack: `clean` is its pixels; `radii` how many radii it
    /// keeps a perturbation for.
    pub fn new(clean: Vec<f32>, label: usize, seed: u64, radii: usize) -> HsjaRow {
        HsjaRow {
            current: clean.clone(),
            clean,
            label,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            queries: 0,
            active: true,
            dist: 0.0,
            dist_before: 0.0,
            within: vec![None; radii],
        }
    }

    fn budget_left(&self, g: &Geometry) -> usize {
        g.max_queries.saturating_sub(self.queries)
    }

    /// The image at radius `k` of the geometry (the first perturbation found
    /// within it, or the clean image) and the queries spent by then (all of
    /// them where none was found).
    pub fn outcome(&self, k: usize) -> (&[f32], usize) {
        match &self.within[k] {
            Some((x, q)) => (x, *q),
            None => (&self.clean, self.queries),
        }
    }

    /// Queries the whole search took.
    pub fn queries(&self) -> usize {
        self.queries
    }

    /// Stands at `point`, misclassified, at the end of a bisection that
    /// started `before` away.
    fn arrive(&mut self, point: Vec<f32>, before: f64, g: &Geometry) {
        let dist = g.norm.distance(&point, &self.clean);
        for (slot, &eps) in self.within.iter_mut().zip(&g.epsilons) {
            if slot.is_none() && dist <= eps {
                *slot = Some((point.clone(), self.queries));
            }
        }
        self.dist = f64::from(dist);
        self.dist_before = before;
        self.current = point;
        if self.within.iter().all(Option::is_some) {
            self.active = false;
        }
    }

    /// `n` probes around the current point: directions normal (L2) or
    /// uniform on [−1, 1] (L∞), scaled to length `delta`, clipped to [0, 1].
    fn probes(&mut self, n: usize, delta: f64, g: &Geometry) -> Vec<f32> {
        let mut out = Vec::with_capacity(n * g.len);
        let mut v = vec![0f32; g.len];
        for _ in 0..n {
            for x in &mut v {
                *x = match g.norm {
                    Distance::L2 => StandardNormal.sample(&mut self.rng),
                    Distance::Linf => self.rng.random_range(-1.0f32..1.0),
                };
            }
            let length = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            let scale = if length > 0.0 { delta / length } else { 0.0 };
            out.extend(
                self.current
                    .iter()
                    .zip(&v)
                    .map(|(c, r)| (f64::from(*c) + scale * f64::from(*r)).clamp(0.0, 1.0) as f32),
            );
        }
        out
    }
}

/// The boundary's estimated normal at `current`, from probes at radius
/// `delta` and whether each was misclassified: the mean of the probe
/// directions weighted ±1, less the mean weight unless all agree, scaled to
/// unit L2 length; its signs for L∞.
fn direction(current: &[f32], probes: &[f32], fooled: &[bool], delta: f64, norm: Distance) -> Vec<f32> {
    let sign = |f: bool| if f { 1.0 } else { -1.0 };
    let mean = fooled.iter().map(|&f| sign(f)).sum::<f64>() / fooled.len().max(1) as f64;
    let mut grad = vec![0f64; current.len()];
    for (probe, &f) in probes.chunks_exact(current.len()).zip(fooled) {
        let w = if mean.abs() == 1.0 { sign(f) } else { sign(f) - mean };
        for ((g, p), x) in grad.iter_mut().zip(probe).zip(current) {
            *g += w * f64::from(p - x) / delta;
        }
    }
    let length = grad.iter().map(|v| v * v).sum::<f64>().sqrt();
    grad.iter()
        .map(|&v| match norm {
            Distance::L2 if length > 0.0 => (v / length) as f32,
            Distance::L2 => 0.0,
            Distance::Linf if v > 0.0 => 1.0,
            Distance::Linf if v < 0.0 => -1.0,
            Distance::Linf => 0.0,
        })
        .collect()
}

/// A bisection between a row's clean image and a misclassified `far` point.
struct Bisection {
    row: usize,
    far: Vec<f32>,
    low: f64,
    high: f64,
    threshold: f64,
    /// Along the blend `(1 − α)·x + α·far` (L2 and the random start), or
    /// `far` clipped to the L∞ ball of radius `α` around `x`.
    blend: bool,
}

impl Bisection {
    /// The random start's search, along the blend to 0.001.
    fn start(row: usize, far: Vec<f32>) -> Bisection {
        Bisection { row, far, low: 0.0, high: 1.0, threshold: BLEND_TOLERANCE, blend: true }
    }

    /// To the boundary at `θ`, in the norm's own projection.
    fn boundary(row: usize, far: Vec<f32>, clean: &[f32], g: &Geometry) -> Bisection {
        match g.norm {
            Distance::L2 => Bisection { row, far, low: 0.0, high: 1.0, threshold: g.theta(), blend: true },
            Distance::Linf => {
                let d = f64::from(Distance::Linf.distance(&far, clean));
                Bisection {
                    row,
                    far,
                    low: 0.0,
                    high: d,
                    threshold: (d * g.theta()).min(g.theta()),
                    blend: false,
                }
            }
        }
    }

    fn at(&self, clean: &[f32], alpha: f64) -> Vec<f32> {
        let (x, p) = (clean.iter().map(|&v| f64::from(v)), self.far.iter().map(|&v| f64::from(v)));
        if self.blend {
            x.zip(p).map(|(x, p)| ((1.0 - alpha) * x + alpha * p) as f32).collect()
        } else {
            x.zip(p).map(|(x, p)| p.clamp(x - alpha, x + alpha) as f32).collect()
        }
    }
}

/// Classes, one per image, for `n` images of `len` values.
pub type Decide<'a> = dyn FnMut(&[f32], usize) -> Result<Vec<usize>, AttackError> + 'a;

/// One round: each ask is a row and its images, all sent in one call;
/// returns whether each image was misclassified. Each image costs its row
/// a query.
fn round(
    rows: &mut [HsjaRow],
    asks: &[(usize, Vec<f32>)],
    len: usize,
    decide: &mut Decide,
) -> Result<Vec<Vec<bool>>, AttackError> {
    let images: Vec<f32> = asks.iter().flat_map(|(_, x)| x.iter().copied()).collect();
    let n = images.len() / len.max(1);
    let classes = if n == 0 { Vec::new() } else { decide(&images, n)? };
    let mut at = 0;
    Ok(asks
        .iter()
        .map(|(i, x)| {
            let k = x.len() / len.max(1);
            rows[*i].queries += k;
            let fooled = classes[at..at + k].iter().map(|&c| c != rows[*i].label).collect();
            at += k;
            fooled
        })
        .collect())
}

/// Runs every bisection to its width (or its row's budget) and returns each
/// row's misclassified end point and the distance it started from.
fn bisect(
    rows: &mut [HsjaRow],
    mut items: Vec<Bisection>,
    g: &Geometry,
    decide: &mut Decide,
) -> Result<Vec<(usize, Vec<f32>, f64)>, AttackError> {
    loop {
        // A row may bisect several candidates at once; its budget bounds them all.
        let mut left: Vec<usize> = rows.iter().map(|r| r.budget_left(g)).collect();
        let open: Vec<usize> = (0..items.len())
            .filter(|&k| {
                let b = &items[k];
                let go = b.high - b.low > b.threshold && left[b.row] > 0;
                left[b.row] -= usize::from(go);
                go
            })
            .collect();
        if open.is_empty() {
            break;
        }
        let asks: Vec<(usize, Vec<f32>)> = open
            .iter()
            .map(|&k| {
                let b = &items[k];
                (b.row, b.at(&rows[b.row].clean, (b.low + b.high) / 2.0))
            })
            .collect();
        let answers = round(rows, &asks, g.len, decide)?;
        for (&k, fooled) in open.iter().zip(&answers) {
            let b = &mut items[k];
            let mid = (b.low + b.high) / 2.0;
            if fooled[0] {
                b.high = mid;
            } else {
                b.low = mid;
            }
        }
    }
    Ok(items
        .into_iter()
        .map(|b| {
            let clean = &rows[b.row].clean;
            let before = f64::from(g.norm.distance(&b.far, clean));
            (b.row, b.at(clean, b.high), before)
        })
        .collect())
}

/// Runs the searches of `rows` to the end, starting where noise fails
/// from `starts`.
pub fn run(
    rows: &mut [HsjaRow],
    g: &Geometry,
    starts: &Starts,
    decide: &mut Decide,
) -> Result<(), AttackError> {
    // A misclassified row is not attacked; it costs its one query.
    let asks: Vec<(usize, Vec<f32>)> =
        (0..rows.len()).filter(|&i| rows[i].active).map(|i| (i, rows[i].clean.clone())).collect();
    let answers = round(rows, &asks, g.len, decide)?;
    for ((i, _), fooled) in asks.iter().zip(&answers) {
        rows[*i].active = !fooled[0];
    }
    start(rows, g, starts, decide)?;
    for t in 1.. {
        let active: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].active).collect();
        if active.is_empty() {
            break;
        }
        iterate(rows, &active, t, g, decide)?;
    }
    Ok(())
}

/// Images of known classes an attacker holds, to start from where noise
/// fails: each row tries those of other classes than its own.
pub type Starts = [(Vec<f32>, usize)];

/// Rounds of one image per searching row, `next(row index, row, starts
/// found so far)` offering it, until no row is offered one; the images the
/// model misclassifies join the row's `found`.
fn offer(
    rows: &mut [HsjaRow],
    found: &mut [Vec<Vec<f32>>],
    g: &Geometry,
    decide: &mut Decide,
    mut next: impl FnMut(usize, &mut HsjaRow, usize) -> Option<Vec<f32>>,
) -> Result<(), AttackError> {
    loop {
        let mut asks = Vec::new();
        for (i, row) in rows.iter_mut().enumerate() {
            if row.active
                && row.budget_left(g) > 0
                && let Some(x) = next(i, row, found[i].len())
            {
                asks.push((i, x));
            }
        }
        if asks.is_empty() {
            return Ok(());
        }
        let answers = round(rows, &asks, g.len, decide)?;
        for ((i, x), fooled) in asks.into_iter().zip(answers) {
            if fooled[0] {
                found[i].push(x);
            }
        }
    }
}

/// The random start: noise until misclassified, else one of `starts`,
/// blended towards the clean image, then bisected to the boundary.
fn start(
    rows: &mut [HsjaRow],
    g: &Geometry,
    starts: &Starts,
    decide: &mut Decide,
) -> Result<(), AttackError> {
    let mut found: Vec<Vec<Vec<f32>>> = vec![Vec::new(); rows.len()];
    let mut draws = vec![0usize; rows.len()];
    offer(rows, &mut found, g, decide, |i, row, found| {
        (found == 0 && draws[i] < START_TRIES).then(|| {
            draws[i] += 1;
            (0..g.len).map(|_| row.rng.random::<f32>()).collect()
        })
    })?;
    // A model may give all noise one class, and the rows of that class then
    // need an image the model gives another. Those lie farther off than
    // blended noise, so a row keeps the closest of a few.
    let mut order: Vec<Vec<usize>> = rows
        .iter_mut()
        .zip(&found)
        .map(|(row, f)| {
            if !f.is_empty() {
                return Vec::new();
            }
            let mut o: Vec<usize> = (0..starts.len()).filter(|&k| starts[k].1 != row.label).collect();
            o.shuffle(&mut row.rng);
            o.truncate(START_TRIES);
            o.reverse();
            o
        })
        .collect();
    offer(rows, &mut found, g, decide, |i, _, found| {
        if found < IMAGE_STARTS { order[i].pop().map(|k| starts[k].0.clone()) } else { None }
    })?;
    let mut blends = Vec::new();
    for (i, candidates) in found.into_iter().enumerate() {
        if rows[i].active && !candidates.is_empty() {
            blends.extend(candidates.into_iter().map(|x| Bisection::start(i, x)));
        } else {
            // Nothing fooled the model: nothing is found at any radius.
            rows[i].active = false;
        }
    }
    let mut closest: Vec<Option<(f32, Vec<f32>)>> = vec![None; rows.len()];
    for (i, p, _) in bisect(rows, blends, g, decide)? {
        let d = g.norm.distance(&p, &rows[i].clean);
        if closest[i].as_ref().is_none_or(|(best, _)| d < *best) {
            closest[i] = Some((d, p));
        }
    }
    let items = closest
        .into_iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|(_, p)| Bisection::boundary(i, p, &rows[i].clean, g)))
        .collect();
    for (i, point, before) in bisect(rows, items, g, decide)? {
        rows[i].arrive(point, before, g);
        rows[i].active &= rows[i].budget_left(g) > 0;
    }
    Ok(())
}

/// A step from the current point along the estimated normal.
struct Step {
    row: usize,
    update: Vec<f32>,
    size: f64,
    halvings: usize,
    taken: Option<Vec<f32>>,
}

/// Iteration `t` of every active row: estimate the normal, step, bisect back.
fn iterate(
    rows: &mut [HsjaRow],
    active: &[usize],
    t: usize,
    g: &Geometry,
    decide: &mut Decide,
) -> Result<(), AttackError> {
    let mut asks = Vec::with_capacity(active.len());
    let mut deltas = Vec::with_capacity(active.len());
    for &i in active {
        let row = &mut rows[i];
        let delta = g.delta(t, row.dist_before);
        asks.push((i, row.probes(probes(t).min(row.budget_left(g)), delta, g)));
        deltas.push(delta);
    }
    let answers = round(rows, &asks, g.len, decide)?;
    let mut steps: Vec<Step> = asks
        .iter()
        .zip(answers.iter().zip(&deltas))
        .map(|((i, x), (fooled, &delta))| Step {
            row: *i,
            update: direction(&rows[*i].current, x, fooled, delta, g.norm),
            size: rows[*i].dist / (t as f64).sqrt(),
            halvings: 0,
            taken: None,
        })
        .collect();
    drop(asks);
    loop {
        let open: Vec<usize> = (0..steps.len())
            .filter(|&k| {
                let s = &steps[k];
                s.taken.is_none() && s.halvings <= MAX_HALVINGS && rows[s.row].budget_left(g) > 0
            })
            .collect();
        if open.is_empty() {
            break;
        }
        let tries: Vec<(usize, Vec<f32>)> = open
            .iter()
            .map(|&k| {
                let s = &steps[k];
                let x = rows[s.row]
                    .current
                    .iter()
                    .zip(&s.update)
                    .map(|(c, u)| (f64::from(*c) + s.size * f64::from(*u)).clamp(0.0, 1.0) as f32)
                    .collect();
                (s.row, x)
            })
            .collect();
        let answers = round(rows, &tries, g.len, decide)?;
        for ((&k, (_, x)), fooled) in open.iter().zip(tries).zip(&answers) {
            let s = &mut steps[k];
            if fooled[0] {
                s.taken = Some(x);
            } else {
                s.size /= 2.0;
                s.halvings += 1;
            }
        }
    }
    let mut items = Vec::new();
    for s in steps {
        match s.taken {
            Some(x) => items.push(Bisection::boundary(s.row, x, &rows[s.row].clean, g)),
            // Out of budget, or no step short enough stayed misclassified.
            None => rows[s.row].active = false,
        }
    }
    for (i, point, before) in bisect(rows, items, g, decide)? {
        rows[i].arrive(point, before, g);
        rows[i].active &= rows[i].budget_left(g) > 0;
    }
    Ok(())
}

/// Runs every planned HopSkipJumpAttack on `model` (evaluation mode, plain
/// device). The progress bar counts queries.
pub fn evaluate<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    plans: &[HsjaPlan],
    device: &Device,
    progress: &Progress,
) -> Result<AttackTable, AttackError> {
    let total: usize = plans.iter().map(|p| p.examples.min(test.len()) * p.max_queries).sum();
    let bar = progress.bar(total as u64, "attack");
    let mut table = AttackTable::new();
    for plan in plans {
        bar.set_message(plan.norm.hsja_name());
        let results = attack_dataset(model, test, setup, plan, device, &mut |n| bar.inc(n as u64))?;
        for (&eps, result) in plan.epsilons.iter().zip(results) {
            table.entry(plan.norm.hsja_name().to_owned()).or_default().insert(epsilon_key(eps), result);
        }
    }
    bar.finish_and_clear();
    Ok(table)
}

/// The attacker's own labelled images, to start from where noise fails:
/// the test set's first rows, the same for every row attacked.
pub fn start_pool<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
) -> Result<Vec<(Vec<f32>, usize)>, AttackError> {
    let rows: Vec<usize> = (0..test.len().min(START_POOL)).collect();
    let pool = setup.clean_batch(test, &rows, model)?;
    let HostInput::Images { pixels, shape: [_, c, h, w] } = &pool.input else {
        return Err(AttackError::Modality { attack: "HopSkipJumpAttack", need: "image data" });
    };
    Ok(pixels.chunks_exact(c * h * w).zip(&pool.labels).map(|(x, &l)| (x.to_vec(), l as usize)).collect())
}

/// Rows `rows` of `test` as the model reads them, their shape, and each
/// row's search over all of `plan`'s radii, starting where noise fails
/// from `starts` ([`start_pool`]); `queried(n)` hears of each round's `n`
/// queries.
#[allow(clippy::too_many_arguments)]
pub fn attack_rows<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    plan: &HsjaPlan,
    rows: &[usize],
    starts: &Starts,
    device: &Device,
    queried: &mut dyn FnMut(usize),
) -> Result<(HostBatch, [usize; 4], Vec<HsjaRow>), AttackError> {
    let host = setup.clean_batch(test, rows, model)?;
    let HostInput::Images { pixels, shape } = &host.input else {
        return Err(AttackError::Modality { attack: "HopSkipJumpAttack", need: "image data" });
    };
    let [_, c, h, w] = *shape;
    let len = c * h * w;
    let g = Geometry {
        norm: plan.norm,
        len,
        max_queries: plan.max_queries,
        epsilons: plan.epsilons.iter().map(|&e| e as f32).collect(),
    };
    let name = plan.norm.hsja_name();
    let mut searches: Vec<HsjaRow> = rows
        .iter()
        .zip(pixels.chunks_exact(len))
        .zip(&host.labels)
        .map(|((&r, x), &label)| {
            // One search serves every radius, so the seed leaves ε out.
            let seed = augment::seed::derive(setup.seed, r as u64, 0, name);
            HsjaRow::new(x.to_vec(), label as usize, seed, g.epsilons.len())
        })
        .collect();
    // The attacker reads what an API that answers with its top class returns.
    let mut api = Api::new(model, ApiOutput::Top1, None, device);
    let batch = setup.eval.batch_size.max(1) * len;
    run(&mut searches, &g, starts, &mut |x, n| {
        queried(n);
        let mut classes = Vec::with_capacity(n);
        for chunk in x.chunks(batch) {
            classes.extend(api.top_labels(&images(chunk, chunk.len() / len, [c, h, w]))?);
        }
        Ok(classes)
    })?;
    let shape = *shape;
    Ok((host, shape, searches))
}

/// The images of `searches` at radius `k`, as a host batch of `shape`.
pub fn attacked(searches: &[HsjaRow], k: usize, shape: [usize; 4]) -> HostInput {
    let pixels = searches.iter().flat_map(|s| s.outcome(k).0.iter().copied()).collect();
    HostInput::Images { pixels, shape }
}

/// One result per radius of `plan` over its first `examples` rows.
fn attack_dataset<M: Classifier>(
    model: &M,
    test: &Dataset,
    setup: &EvalSetup,
    plan: &HsjaPlan,
    device: &Device,
    done: &mut dyn FnMut(usize),
) -> Result<Vec<AttackResult>, AttackError> {
    let started = std::time::Instant::now();
    let rows: Vec<usize> = (0..test.len().min(plan.examples)).collect();
    let radii = plan.epsilons.len();
    let (mut correct, mut flipped, mut norm_sum, mut queries) = (
        vec![Vec::with_capacity(rows.len()); radii],
        vec![0usize; radii],
        vec![0f64; radii],
        vec![0usize; radii],
    );
    let mut clean_correct = 0usize;
    let starts = start_pool(model, test, setup)?;
    for chunk in rows.chunks(ROWS_AT_ONCE) {
        let (clean, shape, searches) = attack_rows(model, test, setup, plan, chunk, &starts, device, done)?;
        let before = predicted_classes(model.logits(clean.input.to_device(device)))?;
        let labels: Vec<usize> = clean.labels.iter().map(|&l| l as usize).collect();
        clean_correct += before.iter().zip(&labels).filter(|(b, l)| b == l).count();
        for k in 0..radii {
            // What the model predicts on the final images, as every attack reports.
            let after = predicted_classes(model.logits(attacked(&searches, k, shape).to_device(device)))?;
            for (((b, a), l), search) in before.iter().zip(&after).zip(&labels).zip(&searches) {
                correct[k].push(a == l);
                flipped[k] += usize::from(b == l && a != l);
                let (image, q) = search.outcome(k);
                norm_sum[k] += f64::from(plan.norm.distance(image, &search.clean));
                queries[k] += q;
            }
        }
        done((chunk.len() * plan.max_queries).saturating_sub(searches.iter().map(HsjaRow::queries).sum()));
    }
    let n = rows.len().max(1) as f64;
    // One search served every radius: each is charged an equal share of it.
    let seconds = started.elapsed().as_secs_f64() / radii.max(1) as f64;
    Ok(correct
        .into_iter()
        .enumerate()
        .map(|(k, correct)| AttackResult {
            accuracy: correct.iter().filter(|&&c| c).count() as f64 / n,
            success_rate: if clean_correct == 0 { 0.0 } else { flipped[k] as f64 / clean_correct as f64 },
            mean_norm: norm_sum[k] / n,
            mean_queries: Some(queries[k] as f64 / n),
            examples: rows.len(),
            correct,
            stages: Vec::new(),
            seconds,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedules_are_the_reference_implementations() {
        let g = |norm| Geometry { norm, len: 784, max_queries: 100, epsilons: vec![0.1] };
        // θ = γ/(d√d) and γ/d² at d = 784 (28 × 28).
        assert!((g(Distance::L2).theta() - 1.0 / (784.0 * 28.0)).abs() < 1e-15);
        assert!((g(Distance::Linf).theta() - 1.0 / 614_656.0).abs() < 1e-18);
        // δ: 0.1 first, then √d·θ·d′ (L2) and d·θ·d′ (L∞), both d′/d at γ = 1.
        for norm in Distance::ALL {
            assert_eq!(g(norm).delta(1, 3.0), 0.1);
            assert!((g(norm).delta(2, 0.5) - 0.5 / 784.0).abs() < 1e-12, "{norm:?}");
        }
        // int(100·√t), at most 10,000.
        let reference = [(1, 100), (2, 141), (3, 173), (10, 316), (50, 707), (9999, 9999), (10_001, 10_000)];
        for (t, n) in reference {
            assert_eq!(probes(t), n, "iteration {t}");
        }
    }

    #[test]
    fn the_normal_estimate_follows_the_decisions() {
        // Probes fooled on the +x side only: the estimate points along +x.
        let current = [0.5f32, 0.5];
        let probes = [0.75f32, 0.5, 0.25, 0.5, 0.5, 0.75, 0.5, 0.25];
        let fooled = [true, false, false, false];
        let d = direction(&current, &probes, &fooled, 0.25, Distance::L2);
        assert_eq!(d, [1.0, 0.0]);
        assert_eq!(direction(&current, &probes, &fooled, 0.25, Distance::Linf), [1.0, 0.0]);
        // All fooled: the mean direction, as the reference's special case.
        let d = direction(&current, &probes[..4], &[true, true], 0.25, Distance::L2);
        assert_eq!(d, [0.0, 0.0], "opposite probes cancel");
    }

    /// Class 0 where `w·x + b > 0`, class 1 elsewhere.
    struct Halfspace {
        w: Vec<f32>,
        b: f32,
    }

    const LEN: usize = 64;

    impl Halfspace {
        fn new(seed: u64) -> Halfspace {
            let mut rng = augment::seed::rng(seed);
            let w: Vec<f32> = (0..LEN).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            // The grey image scores 0.45, so rows near it have the margins `rows_of` wants.
            let b = 0.45 - 0.5 * w.iter().sum::<f32>();
            Halfspace { w, b }
        }

        fn score(&self, x: &[f32]) -> f32 {
            self.w.iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + self.b
        }

        fn class(&self, x: &[f32]) -> usize {
            usize::from(self.score(x) <= 0.0)
        }

        /// The least distance from `x` to the boundary in `norm`: the margin
        /// over the dual norm of `w` (the nearest point stays inside [0, 1]
        /// for the rows these tests draw).
        fn distance(&self, x: &[f32], norm: Distance) -> f32 {
            let dual = match norm {
                Distance::L2 => self.w.iter().map(|v| v * v).sum::<f32>().sqrt(),
                Distance::Linf => self.w.iter().map(|v| v.abs()).sum(),
            };
            self.score(x).abs() / dual
        }
    }

    /// Rows in [0.3, 0.7] with a margin of 0.3 to 0.6 on the class-0 side.
    fn rows_of(model: &Halfspace, n: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = augment::seed::rng(seed);
        let mut out = Vec::new();
        while out.len() < n {
            let x: Vec<f32> = (0..LEN).map(|_| rng.random_range(0.3f32..0.7)).collect();
            if (0.3..0.6).contains(&model.score(&x)) {
                out.push(x);
            }
        }
        out
    }

    fn search(model: &Halfspace, rows: &mut [HsjaRow], g: &Geometry, asked: &mut Vec<f32>) {
        let mut decide = |x: &[f32], n: usize| -> Result<Vec<usize>, AttackError> {
            assert_eq!(x.len(), n * LEN);
            asked.extend_from_slice(x);
            Ok(x.chunks_exact(LEN).map(|row| model.class(row)).collect())
        };
        run(rows, g, &[], &mut decide).expect("decisions");
    }

    /// The least distance found over the least possible, per row, with a
    /// radius no row reaches so every search spends its budget.
    fn ratios(norm: Distance, budget: usize) -> Vec<f32> {
        let model = Halfspace::new(1);
        let clean = rows_of(&model, 6, 2);
        let g = Geometry { norm, len: LEN, max_queries: budget, epsilons: vec![1e-6] };
        let mut rows: Vec<HsjaRow> =
            clean.iter().enumerate().map(|(i, x)| HsjaRow::new(x.clone(), 0, 10 + i as u64, 1)).collect();
        search(&model, &mut rows, &g, &mut Vec::new());
        rows.iter()
            .zip(&clean)
            .map(|(r, x)| {
                assert_eq!(r.queries(), budget, "a row that never reaches its radius spends its budget");
                assert_eq!(model.class(&r.current), 1, "the search stands on the misclassified side");
                g.norm.distance(&r.current, x) / model.distance(x, norm)
            })
            .collect()
    }

    #[test]
    fn on_a_linear_boundary_l2_searches_reach_the_least_distance() {
        // 2.1-3.4% above the least at 3,000 queries (6-10% at 1,000).
        let r = ratios(Distance::L2, 3000);
        assert!(r.iter().all(|&q| (1.0..1.05).contains(&q)), "found / least L2 distances: {r:?}");
    }

    #[test]
    fn on_a_linear_boundary_linf_searches_reach_the_least_distance() {
        // 3.4-6.9% above the least at 3,000 queries (9-23% at 1,000): sign
        // steps converge more slowly than L2's.
        let r = ratios(Distance::Linf, 3000);
        assert!(r.iter().all(|&q| (1.0..1.10).contains(&q)), "found / least L∞ distances: {r:?}");
    }

    #[test]
    fn searches_stay_in_range_keep_to_budget_and_record_each_radius_once_reached() {
        let model = Halfspace::new(3);
        let clean = rows_of(&model, 8, 4);
        // The last row's label is not the model's answer: its one query, no search.
        let label = |i: usize| usize::from(i == 7);
        let radii = [0.05f32, 0.1, 1.0];
        for norm in Distance::ALL {
            let g = Geometry { norm, len: LEN, max_queries: 400, epsilons: radii.to_vec() };
            let mut rows: Vec<HsjaRow> = clean
                .iter()
                .enumerate()
                .map(|(i, x)| HsjaRow::new(x.clone(), label(i), i as u64, 3))
                .collect();
            let mut asked = Vec::new();
            search(&model, &mut rows, &g, &mut asked);
            assert!(asked.iter().all(|p| (0.0..=1.0).contains(p)), "a query left [0, 1]");
            assert_eq!(rows[7].queries(), 1);
            assert_eq!(rows[7].outcome(0), (&clean[7][..], 1));
            for (i, row) in rows.iter().enumerate().take(7) {
                assert!(row.queries() <= 400, "row {i}: {} queries", row.queries());
                let least = model.distance(&clean[i], norm);
                for (k, &eps) in radii.iter().enumerate() {
                    let (image, q) = row.outcome(k);
                    let d = norm.distance(image, &clean[i]);
                    if d == 0.0 {
                        // Nothing within ε: possible only where ε is below the least distance
                        // or the budget ran out, and then it was spent.
                        assert_eq!(q, row.queries(), "row {i} radius {eps}");
                        continue;
                    }
                    assert!(d <= eps && d >= least * 0.999, "row {i}: {d} at radius {eps}, least {least}");
                    assert_eq!(model.class(image), 1, "row {i}: a recorded image is misclassified");
                    assert!(q <= row.queries());
                }
                // A search stops once every radius is reached (the smallest last), and
                // spends its whole budget otherwise.
                let all = (0..3).all(|k| row.outcome(k).0 != &clean[i][..]);
                let expected = if all { row.outcome(0).1 } else { 400 };
                assert_eq!(row.queries(), expected, "row {i}: every radius reached: {all}");
            }
        }
    }

    #[test]
    fn where_no_noise_fools_the_model_a_row_starts_from_an_image_of_another_class() {
        // Class 1 for dark images only: uniform noise (mean 0.5) never fools it.
        let dark = |x: &[f32]| usize::from(x.iter().sum::<f32>() < 0.2 * LEN as f32);
        let clean = vec![0.5f32; LEN];
        let g = Geometry { norm: Distance::Linf, len: LEN, max_queries: 1000, epsilons: vec![0.45] };
        let mut decide = |x: &[f32], _: usize| -> Result<Vec<usize>, AttackError> {
            Ok(x.chunks_exact(LEN).map(dark).collect())
        };
        let mut alone = vec![HsjaRow::new(clean.clone(), 0, 7, 1)];
        run(&mut alone, &g, &[], &mut decide).expect("decisions");
        assert_eq!(alone[0].queries(), 1 + START_TRIES, "the clean query and every noise draw");
        assert_eq!(alone[0].outcome(0).0, &clean[..], "nothing found");
        // An image of the row's own class is never tried; the dark one is.
        let starts = vec![(vec![0.9f32; LEN], 0), (vec![0.05f32; LEN], 1)];
        let mut row = vec![HsjaRow::new(clean.clone(), 0, 7, 1)];
        run(&mut row, &g, &starts, &mut decide).expect("decisions");
        let (image, _) = row[0].outcome(0);
        assert_eq!(dark(image), 1, "the row is broken");
        // The least L∞ change darkens every pixel to 0.2: 0.3 away.
        let d = Distance::Linf.distance(image, &clean);
        assert!((0.3..0.45).contains(&d), "L∞ {d}");
    }

    #[test]
    fn a_rows_search_does_not_depend_on_the_rows_beside_it() {
        let model = Halfspace::new(5);
        let clean = rows_of(&model, 5, 6);
        let g = Geometry { norm: Distance::L2, len: LEN, max_queries: 300, epsilons: vec![0.05, 0.2] };
        let row = |i: usize| HsjaRow::new(clean[i].clone(), 0, 50 + i as u64, 2);
        let mut together: Vec<HsjaRow> = (0..5).map(row).collect();
        search(&model, &mut together, &g, &mut Vec::new());
        for (i, beside) in together.iter().enumerate() {
            let mut alone = vec![row(i)];
            search(&model, &mut alone, &g, &mut Vec::new());
            for k in 0..2 {
                assert_eq!(alone[0].outcome(k), beside.outcome(k), "row {i} radius {k}");
            }
            assert_eq!(alone[0].queries(), beside.queries(), "row {i}");
        }
    }
}
