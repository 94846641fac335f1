//! FAB-T, L∞ and L2 (Croce & Hein, "Minimally distorted adversarial
//! examples with a fast adaptive boundary attack", ICML 2020): the targeted
//! FAB attack AutoAttack runs third, between APGD-T and the Square Attack.
//!
//! FAB looks for the smallest perturbation that changes the class, not the
//! highest loss within ε: at each step it linearises the margin `z_t − z_y`
//! toward the target class `t` and projects onto that hyperplane within the
//! pixel box, both from the current point and from the clean image, moving
//! to a mix of the two (weighted toward the clean image's projection by the
//! ratio of their sizes, at most `ALPHA_MAX`), overshooting by `ETA`. Once a
//! point fools the model it is kept if smaller than the best so far, and the
//! search steps back toward the clean image by `BETA`. A row counts as
//! broken when the smallest fooling point lies within ε.
//!
//! As AutoAttack's standard version runs it: one restart, so no random
//! start and no randomness at all; targets the classes the model ranks
//! 2nd, 3rd, ... at the clean image, each on the rows still correct. The
//! projection and the search replay the reference implementation's numbers
//! (`bench/fab_reference.sh`).

use burn::prelude::*;

use crate::config::{Attack, AttackKind, Distance};
use crate::model::readback::values;
use crate::model::{Classifier, ModelInput, ReadbackError, predicted_classes};

/// The largest weight of the clean image's projection in a step.
pub const ALPHA_MAX: f32 = 0.1;
/// How far a step overshoots the linearised boundary.
pub const ETA: f32 = 1.05;
/// How far back toward the clean image a fooling point steps.
pub const BETA: f32 = 0.9;

/// Which case of the projection a row took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Every pixel moves by the same amount toward its far end, none
    /// reaching it.
    Uniform,
    /// The pixels with the least room reach their far end and the rest move
    /// by the same amount; a binary search finds how many saturate.
    Saturating,
    /// Out of reach within the box: every pixel goes to its far end.
    Corner,
}

/// The smallest L∞ step `d` with `w·(t + d) = b` and `t + d` in the pixel
/// box, where one exists (else the move to the box corner the hyperplane's
/// side points at), as the reference's `projection_linf` computes it, in
/// the same order of float operations where they matter.
pub fn projection_linf(t: &[f32], w: &[f32], b: f32) -> (Vec<f32>, Reach) {
    let n = t.len();
    let dot = |u: &[f32], v: &[f32]| u.iter().zip(v).map(|(a, b)| a * b).sum::<f32>();
    let sign = if dot(w, t) - b >= 0.0 { 1.0 } else { -1.0 };
    let w: Vec<f32> = w.iter().map(|v| v * sign).collect();
    let b = b * sign;
    // Each pixel's far end along the hyperplane's normal (1 where w < 0).
    let a: Vec<f32> = w.iter().map(|&v| if v < 0.0 { 1.0 } else { 0.0 }).collect();
    let mut d: Vec<f32> = (0..n).map(|j| if w[j] != 0.0 { a[j] - t[j] } else { 0.0 }).collect();
    // How far each pixel can move toward its far end.
    let p: Vec<f32> = (0..n).map(|j| a[j] - t[j] * (2.0 * a[j] - 1.0)).collect();
    let mut indp: Vec<usize> = (0..n).collect();
    indp.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let b = b - dot(&w, t);
    let b0 = dot(&w, &d);
    let (mut s, mut sb) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut s_acc, mut sb_acc) = (0.0f32, 0.0f32);
    for &j in indp.iter().rev() {
        s_acc += w[j].abs();
        sb_acc += -w[j] * d[j];
        s.push(s_acc);
        sb.push(sb_acc + b0);
    }
    let last = n - 1;
    let reach = if b - (sb[last] - s[last] * p[indp[0]]) > 0.0 {
        Reach::Uniform
    } else if b - b0 > 0.0 {
        Reach::Saturating
    } else {
        Reach::Corner
    };
    match reach {
        Reach::Uniform => {
            let lambda = ((b - sb[last]) / -s[last]).max(0.0);
            for (dj, aj) in d.iter_mut().zip(&a) {
                *dj = (2.0 * aj - 1.0) * lambda;
            }
        }
        Reach::Saturating => {
            let (mut lb, mut ub) = (0.0f32, last as f32);
            for _ in 0..(n as f64).log2().ceil() as usize {
                let mid = ((lb + ub) / 2.0).floor();
                let k = mid as usize;
                if b - (sb[k] - s[k] * p[indp[last - k]]) > 0.0 {
                    lb = mid;
                } else {
                    ub = mid;
                }
            }
            let k = lb as usize;
            let lambda = ((b - sb[k]) / -s[k]).max(0.0);
            for (dj, aj) in d.iter_mut().zip(&a) {
                *dj = lambda.min(*dj) * aj + (-lambda).max(*dj) * (1.0 - aj);
            }
        }
        Reach::Corner => {}
    }
    for (dj, wj) in d.iter_mut().zip(&w) {
        if *wj == 0.0 {
            *dj = 0.0;
        }
    }
    (d, reach)
}

/// Which case of the L2 projection a row took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReachL2 {
    /// The plain projection onto the hyperplane stays in the box.
    Free,
    /// Some pixels stop at the box; the rest move along the normal, by an
    /// amount a binary search finds.
    Clipped,
    /// Out of reach within the box: every pixel as far as it goes.
    Corner,
}

/// The smallest L2 step `d` with `w·(t + d) = b` and `t + d` in the pixel
/// box, where one exists (else as far toward the hyperplane as the box
/// allows), as the reference's `projection_l2` computes it.
pub fn projection_l2(t: &[f32], w: &[f32], b: f32) -> (Vec<f32>, ReachL2) {
    const BIG: f32 = 1e12;
    let n = t.len();
    let c = t.iter().zip(w).map(|(t, w)| w * t).sum::<f32>() - b;
    let sign = if c >= 0.0 { 1.0 } else { -1.0 };
    let w: Vec<f32> = w.iter().map(|v| v * sign).collect();
    let c = c * sign;
    // How far along −w each pixel can move before it meets the box.
    let r: Vec<f32> = (0..n)
        .map(|j| {
            if w[j].abs() < 1e-8 {
                return BIG;
            }
            let v = (t[j] / w[j]).max((t[j] - 1.0) / w[j]).clamp(-BIG, BIG);
            if v == -BIG { BIG } else { v }
        })
        .collect();
    let mut indr: Vec<usize> = (0..n).collect();
    indr.sort_by(|&i, &j| r[i].total_cmp(&r[j]));
    let zero_big = |v: f32| if v == BIG { 0.0 } else { v };
    let rs: Vec<f32> = indr.iter().map(|&j| zero_big(r[j])).collect();
    let rs2: Vec<f32> = (0..n).map(|k| if k + 1 < n { zero_big(r[indr[k + 1]]) } else { 0.0 }).collect();
    let w3s: Vec<f32> = indr.iter().map(|&j| w[j] * w[j]).collect();
    let w5: f32 = w3s.iter().sum();
    let mut ws = Vec::with_capacity(n);
    let mut acc = 0.0f32;
    for v in &w3s {
        acc += v;
        ws.push(w5 - acc);
    }
    let mut d: Vec<f32> = (0..n).map(|j| if w[j].abs() > 1e-8 { -(r[j] * w[j]) } else { 0.0 }).collect();
    let mut s = Vec::with_capacity(n + 1);
    s.push(-w5 * rs[0]);
    let mut acc = 0.0f32;
    for k in 0..n {
        acc += (-rs2[k] + rs[k]) * ws[k];
        s.push(acc - w5 * rs[0]);
    }
    let reach = if s[0] + c < 0.0 {
        ReachL2::Free
    } else if d.iter().zip(&w).map(|(d, w)| d * w).sum::<f32>() + c > 0.0 {
        ReachL2::Corner
    } else {
        ReachL2::Clipped
    };
    match reach {
        ReachL2::Free => {
            let alpha = c / w5;
            for (dj, wj) in d.iter_mut().zip(&w) {
                *dj = -alpha * wj;
            }
        }
        ReachL2::Clipped => {
            let (mut lb, mut ub) = (0.0f32, (n - 1) as f32);
            for _ in 0..(n as f64).log2().ceil() as usize {
                let mid = ((lb + ub) / 2.0).floor();
                if s[mid as usize] + c > 0.0 {
                    lb = mid;
                } else {
                    ub = mid;
                }
            }
            let k = lb as usize;
            let alpha = if ws[k] == 0.0 { 0.0 } else { (s[k] + c) / ws[k] + rs[k] };
            for j in 0..n {
                if alpha <= r[j] {
                    d[j] = -alpha * w[j];
                }
            }
        }
        ReachL2::Corner => {}
    }
    for (dj, wj) in d.iter_mut().zip(&w) {
        if wj.abs() <= 1e-8 {
            *dj = 0.0;
        }
    }
    (d, reach)
}

/// The smallest fooling point a search found for a row, and its distance
/// from the clean image in the attack's norm.
pub type Found = Option<(Vec<f32>, f32)>;

/// The projection of the attack's norm.
fn project(norm: Distance, t: &[f32], w: &[f32], b: f32) -> Vec<f32> {
    match norm {
        Distance::Linf => projection_linf(t, w, b).0,
        Distance::L2 => projection_l2(t, w, b).0,
    }
}

/// One targeted search from the clean images `x0` (`per` pixels a row)
/// toward `targets`, the reference's `attack_single_run_targeted`: per
/// row, the smallest fooling point found and its L∞ distance from the
/// clean image, if any. `device` holds `model`'s autodiff twin.
#[allow(clippy::too_many_arguments)]
pub fn search<M: Classifier>(
    model: &M,
    norm: Distance,
    x0: &[f32],
    dims: [usize; 4],
    labels: &[usize],
    targets: &[usize],
    steps: usize,
    device: &Device,
) -> Result<Vec<Found>, ReadbackError> {
    let [n, ..] = dims;
    let per = x0.len() / n.max(1);
    let mut x1 = x0.to_vec();
    let mut best: Vec<Found> = vec![None; n];
    for _ in 0..steps {
        let (margins, gradient) = margin_gradient(model, &x1, dims, labels, targets, device)?;
        for (i, &margin) in margins.iter().enumerate() {
            let rows = i * per..(i + 1) * per;
            let (cur, clean, w) = (&x1[rows.clone()], &x0[rows.clone()], &gradient[rows.clone()]);
            // The linearised boundary w·z = b through the current point.
            let b = -margin + w.iter().zip(cur).map(|(g, x)| g * x).sum::<f32>();
            let (d1, d2) = (project(norm, cur, w, b), project(norm, clean, w, b));
            let (a1, a2) = (norm.length(&d1).max(1e-8), norm.length(&d2).max(1e-8));
            let alpha = (a1 / (a1 + a2)).clamp(0.0, ALPHA_MAX);
            let next: Vec<f32> = (0..per)
                .map(|j| {
                    ((cur[j] + ETA * d1[j]) * (1.0 - alpha) + (clean[j] + d2[j] * ETA) * alpha)
                        .clamp(0.0, 1.0)
                })
                .collect();
            x1[rows].copy_from_slice(&next);
        }
        let input = Tensor::<4>::from_data(TensorData::new(x1.clone(), dims), device).autodiff();
        let predicted = predicted_classes(model.logits(ModelInput::Images(input)).inner())?;
        for i in 0..n {
            if predicted[i] == labels[i] {
                continue;
            }
            let rows = i * per..(i + 1) * per;
            let moved = norm.distance(&x1[rows.clone()], &x0[rows.clone()]);
            if best[i].as_ref().is_none_or(|(_, s)| moved < *s) {
                best[i] = Some((x1[rows.clone()].to_vec(), moved));
            }
            for j in rows {
                x1[j] = x0[j] + (x1[j] - x0[j]) * BETA;
            }
        }
    }
    Ok(best)
}

/// Per row, `z_t − z_y` at `x` and its gradient, read back to the host.
fn margin_gradient<M: Classifier>(
    model: &M,
    x: &[f32],
    dims: [usize; 4],
    labels: &[usize],
    targets: &[usize],
    device: &Device,
) -> Result<(Vec<f32>, Vec<f32>), ReadbackError> {
    let n = dims[0];
    let input = Tensor::<4>::from_data(TensorData::new(x.to_vec(), dims), device).autodiff().require_grad();
    let logits = model.logits(ModelInput::Images(input.clone()));
    let classes = logits.dims()[1];
    let host = values::<f32, 2, Float>(logits.clone().inner(), n * classes, "attack logits")?;
    // +1 at the target, −1 at the true class: the summed margins' gradient
    // is each row's own, rows being independent.
    let mut signs = vec![0.0f32; n * classes];
    for (i, (&y, &t)) in labels.iter().zip(targets).enumerate() {
        signs[i * classes + t] += 1.0;
        signs[i * classes + y] -= 1.0;
    }
    let signs = Tensor::<2>::from_data(TensorData::new(signs, [n, classes]), device).autodiff();
    let total = (logits * signs).sum();
    let gradient = match input.grad(&total.backward()) {
        Some(g) => super::white_box::contiguous(g),
        None => Tensor::<4>::zeros(dims, device),
    };
    let gradient = values::<f32, 4, Float>(gradient, x.len(), "attack gradient")?;
    let margins =
        host.chunks(classes).zip(labels.iter().zip(targets)).map(|(z, (&y, &t))| z[t] - z[y]).collect();
    Ok((margins, gradient))
}

/// Adversarial versions of `x` (plain tensor) with true classes `y`: rows
/// the model already misclassifies, and rows no target's search broke
/// within ε, come back as they went in; each target searches only the
/// rows no earlier one broke.
///
/// # Shapes
/// `x`: `[n, c, h, w]`, `y`: `[n]` → `[n, c, h, w]`
pub fn perturb<M: Classifier>(
    model: &M,
    x: Tensor<4>,
    y: Tensor<1, Int>,
    attack: &Attack,
) -> Result<Tensor<4>, ReadbackError> {
    let dims = x.dims();
    let n = dims[0];
    let per = dims[1] * dims[2] * dims[3];
    let device = x.device();
    let labels: Vec<usize> =
        values::<i64, 1, Int>(y, n, "attack labels")?.into_iter().map(|l| l as usize).collect();
    let logits = model.logits(ModelInput::Images(x.clone().autodiff())).inner();
    let clean = values::<f32, 2, Float>(logits.clone(), n * logits.dims()[1], "attack logits")?;
    let pixels = values::<f32, 4, Float>(x, n * per, "attack images")?;
    let classes = clean.len() / n.max(1);
    let ranking: Vec<Vec<usize>> = clean.chunks(classes).map(super::apgd::order).collect();
    // `by_rank[k][i]`: the class row `i` ranks (k+1)-th.
    let by_rank: Vec<Vec<usize>> = (0..classes).map(|k| ranking.iter().map(|r| r[k]).collect()).collect();
    let mut broken: Vec<bool> = by_rank[0].iter().zip(&labels).map(|(&top, &y)| top != y).collect();
    let mut out = pixels.clone();
    let eps = attack.epsilon as f32;
    let AttackKind::FabT { norm } = attack.kind else {
        unreachable!("white_box::perturb sends only FAB-T here")
    };
    let aims = attack.targets.unwrap_or(super::apgd::TARGETS).min(classes - 1);
    for aim in by_rank.iter().skip(1).take(aims) {
        let rows: Vec<usize> = (0..n).filter(|&i| !broken[i]).collect();
        if rows.is_empty() {
            break;
        }
        let part: Vec<f32> =
            rows.iter().flat_map(|&i| pixels[i * per..(i + 1) * per].iter().copied()).collect();
        let part_labels: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
        let targets: Vec<usize> = rows.iter().map(|&i| aim[i]).collect();
        let found = search(
            model,
            norm,
            &part,
            [rows.len(), dims[1], dims[2], dims[3]],
            &part_labels,
            &targets,
            attack.steps,
            &device,
        )?;
        for (&i, f) in rows.iter().zip(found) {
            if let Some((image, _)) = f.filter(|(_, size)| *size <= eps) {
                out[i * per..(i + 1) * per].copy_from_slice(&image);
                broken[i] = true;
            }
        }
    }
    Ok(Tensor::from_data(TensorData::new(out, dims), &device))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::reference_net::{floats, load};

    fn fixture() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/fixtures/fab_reference.json")).expect("fixture")
    }

    #[test]
    fn the_projection_is_the_reference_implementations() {
        let fixture = fixture();
        let mut seen = Vec::new();
        for (k, case) in fixture["projections"].as_array().expect("projections").iter().enumerate() {
            let (t, w, b) = (floats(&case["t"]), floats(&case["w"]), case["b"].as_f64().expect("b") as f32);
            let (d, reach) = projection_linf(&t, &w, b);
            for (j, (ours, theirs)) in d.iter().zip(floats(&case["d"])).enumerate() {
                assert!(
                    (ours - theirs).abs() <= 1e-5,
                    "case {k} pixel {j}: {ours} against {theirs} ({reach:?})"
                );
            }
            // Never outside the box; a pixel with no weight stays put.
            for j in 0..t.len() {
                assert!((-1e-6..=1.0 + 1e-6).contains(&(t[j] + d[j])), "case {k} pixel {j}");
                assert!(w[j] != 0.0 || d[j] == 0.0, "case {k} pixel {j} moved with no weight");
            }
            // Where reachable, the step lands on the hyperplane.
            let at = w.iter().zip(&t).zip(&d).map(|((w, t), d)| w * (t + d)).sum::<f32>();
            let scale = w.iter().map(|v| v.abs()).sum::<f32>();
            if reach != Reach::Corner {
                assert!((at - b).abs() <= 1e-4 * scale.max(1.0), "case {k}: w·(t+d) {at}, b {b} ({reach:?})");
            }
            seen.push(reach);
        }
        // The fixture takes every branch of the projection.
        for reach in [Reach::Saturating, Reach::Uniform, Reach::Corner] {
            assert!(seen.contains(&reach), "no case reaches {reach:?}: {seen:?}");
        }
    }

    #[test]
    fn the_l2_projection_is_the_reference_implementations() {
        let fixture = fixture();
        let mut seen = Vec::new();
        for (k, case) in fixture["projections_l2"].as_array().expect("projections").iter().enumerate() {
            let (t, w, b) = (floats(&case["t"]), floats(&case["w"]), case["b"].as_f64().expect("b") as f32);
            let (d, reach) = projection_l2(&t, &w, b);
            for (j, (ours, theirs)) in d.iter().zip(floats(&case["d"])).enumerate() {
                assert!(
                    (ours - theirs).abs() <= 1e-5,
                    "case {k} pixel {j}: {ours} against {theirs} ({reach:?})"
                );
            }
            for j in 0..t.len() {
                assert!((-1e-5..=1.0 + 1e-5).contains(&(t[j] + d[j])), "case {k} pixel {j}: {}", t[j] + d[j]);
                assert!(w[j] != 0.0 || d[j] == 0.0, "case {k} pixel {j} moved with no weight");
            }
            let at = w.iter().zip(&t).zip(&d).map(|((w, t), d)| w * (t + d)).sum::<f32>();
            let scale = w.iter().map(|v| v.abs()).sum::<f32>();
            if reach != ReachL2::Corner {
                assert!((at - b).abs() <= 1e-4 * scale.max(1.0), "case {k}: w·(t+d) {at}, b {b} ({reach:?})");
            }
            seen.push(reach);
        }
        for reach in [ReachL2::Free, ReachL2::Clipped, ReachL2::Corner] {
            assert!(seen.contains(&reach), "no case reaches {reach:?}: {seen:?}");
        }
        // By hand: from (0.5, 0.5) onto x + y = 1.2 the step is (0.1, 0.1);
        // from (0.95, 0.5) the first pixel stops at 1 and the second takes
        // the rest (0.05, 0.15).
        let (d, reach) = projection_l2(&[0.5, 0.5], &[1.0, 1.0], 1.2);
        assert_eq!(reach, ReachL2::Free);
        assert!((d[0] - 0.1).abs() < 1e-6 && (d[1] - 0.1).abs() < 1e-6, "{d:?}");
        let (d, reach) = projection_l2(&[0.95, 0.5], &[1.0, 1.0], 1.6);
        assert_eq!(reach, ReachL2::Clipped);
        assert!((d[0] - 0.05).abs() < 1e-6 && (d[1] - 0.1).abs() < 1e-6, "{d:?}");
    }

    #[test]
    fn the_projection_inside_the_box_is_the_smallest_step() {
        // w = (1, 1), b = 1.2 from t = (0.5, 0.5): moving both by 0.1 is the
        // smallest L∞ step; with the first pixel at 0.95 it can move only
        // 0.05, so the second moves 0.1 (b = 1.6) or 0.2 (b = 1.7).
        let (d, reach) = projection_linf(&[0.5, 0.5], &[1.0, 1.0], 1.2);
        assert_eq!(reach, Reach::Uniform);
        assert!((d[0] - 0.1).abs() < 1e-6 && (d[1] - 0.1).abs() < 1e-6, "{d:?}");
        let (d, reach) = projection_linf(&[0.95, 0.5], &[1.0, 1.0], 1.6);
        assert_eq!(reach, Reach::Saturating);
        assert!((d[0] - 0.05).abs() < 1e-6 && (d[1] - 0.1).abs() < 1e-6, "{d:?}");
        let (d, _) = projection_linf(&[0.95, 0.5], &[1.0, 1.0], 1.7);
        assert!((d[0] - 0.05).abs() < 1e-6 && (d[1] - 0.2).abs() < 1e-6, "{d:?}");
        // Out of reach: both pixels to the far end.
        let (d, reach) = projection_linf(&[0.5, 0.5], &[1.0, 1.0], 2.5);
        assert_eq!(reach, Reach::Corner);
        assert!((d[0] - 0.5).abs() < 1e-6 && (d[1] - 0.5).abs() < 1e-6, "{d:?}");
    }

    #[test]
    fn replays_the_reference_search_to_its_numbers() {
        // bench/fab_reference.sh: the reference FAB-T's search from the
        // clean images (no random start with one restart) on the Auto-PGD
        // fixture's network, toward the class each row ranks 2nd, 3rd, 4th.
        let fixture = fixture();
        let cpu = Device::flex();
        let (model, x, ys) = load(&cpu);
        let dims = [10, 1, 3, 4];
        let clean = crate::attack::reference_net::logits(&model, &x, dims, &cpu);
        let ranking: Vec<Vec<usize>> = clean.chunks(4).map(super::super::apgd::order).collect();
        for case in fixture["cases"].as_array().expect("cases") {
            let norm = if case["norm"] == "L2" { Distance::L2 } else { Distance::Linf };
            let rank = case["target_rank"].as_u64().expect("rank") as usize;
            let steps = case["steps"].as_u64().expect("steps") as usize;
            let targets: Vec<usize> = ranking.iter().map(|r| r[rank - 1]).collect();
            let found =
                search(&model, norm, &x, dims, &ys, &targets, steps, &cpu.clone().autodiff()).expect("fab");
            let fooled: Vec<bool> =
                case["fooled"].as_array().expect("fooled").iter().map(|b| b == true).collect();
            let (sizes, result) = (floats(&case["size"]), floats(&case["result"]));
            for (i, f) in found.iter().enumerate() {
                assert_eq!(f.is_some(), fooled[i], "{norm:?} rank {rank} row {i}: fooled");
                let Some((image, size)) = f else { continue };
                assert!(
                    (size - sizes[i]).abs() <= 1e-5,
                    "rank {rank} row {i}: size {size} against {}",
                    sizes[i]
                );
                for (j, (a, b)) in image.iter().zip(&result[i * 12..(i + 1) * 12]).enumerate() {
                    assert!((a - b).abs() <= 1e-5, "{norm:?} rank {rank} row {i} pixel {j}: {a} against {b}");
                }
            }
        }
    }

    #[test]
    fn only_rows_broken_within_the_radius_change() {
        let cpu = Device::flex();
        let (model, x, ys) = load(&cpu);
        let sizes = floats(&fixture()["cases"][0]["size"]);
        let attack = Attack {
            targets: Some(1),
            ..Attack::new(AttackKind::FabT { norm: Distance::Linf }, 0.03, 20, 0.0, false, 1)
        };
        let input = Tensor::<4>::from_data(TensorData::new(x.clone(), [10, 1, 3, 4]), &cpu);
        let labels = Tensor::<1, Int>::from_data(
            TensorData::new(ys.iter().map(|&y| y as i64).collect::<Vec<_>>(), [10]),
            &cpu,
        );
        let out = perturb(&model, input, labels, &attack).expect("fab");
        let out = out.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32");
        for i in 0..10 {
            let moved = Distance::Linf.distance(&out[i * 12..(i + 1) * 12], &x[i * 12..(i + 1) * 12]);
            // The rank-2 search's smallest sizes decide: within 0.03 it is that point, else the clean row.
            if sizes[i] <= 0.03 {
                assert!((moved - sizes[i]).abs() <= 1e-5, "row {i}: moved {moved}, reference {}", sizes[i]);
            } else {
                assert_eq!(moved, 0.0, "row {i} (smallest {}) should come back clean", sizes[i]);
            }
        }
        assert!(sizes.iter().any(|&s| s <= 0.03) && sizes.iter().any(|&s| s > 0.03), "{sizes:?}");
    }
}
