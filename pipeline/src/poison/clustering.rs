//! Activation clustering (Chen et al. 2018, "Detecting Backdoor Attacks on
//! Deep Neural Networks by Activation Clustering"): poisoned rows of a class
//! reach its label through the trigger, not the class's own features, so
//! their activations form a cluster of their own. Per class, the centred
//! penultimate features are reduced to 10 principal components and split
//! by 2-means; the smaller cluster is flagged when it holds less than
//! `size_threshold` of the class and the split's silhouette score is above
//! `silhouette_threshold` (IBM ART's "silhouette-scores" analysis, with its
//! defaults 0.35 and 0.1). ART reduces with ICA or PCA; this uses PCA.

/// Principal components kept, as Chen et al. and ART do.
const DIMS: usize = 10;
/// Rows of a class the silhouette score is computed on, at most (evenly spaced).
const SILHOUETTE_ROWS: usize = 2000;

/// What the clustering decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Each row's score: its distance to its class's larger cluster's centre
    /// minus that to the smaller one's (positive: closer to the smaller).
    pub scores: Vec<f64>,
    /// Rows in a flagged cluster, sorted.
    pub flagged: Vec<usize>,
}

/// Clusters every class of `features` (row-major) and flags suspect clusters.
pub fn activation_clustering(
    features: &[Vec<f64>],
    labels: &[usize],
    classes: usize,
    size_threshold: f64,
    silhouette_threshold: f64,
) -> Verdict {
    let mut scores = vec![0.0; features.len()];
    let mut flagged = Vec::new();
    for class in 0..classes {
        let rows: Vec<usize> = (0..features.len()).filter(|&r| labels[r] == class).collect();
        if rows.len() < 4 {
            continue;
        }
        let reduced = reduce(&rows.iter().map(|&r| features[r].as_slice()).collect::<Vec<_>>());
        let (assign, centres) = two_means(&reduced);
        let sizes = [assign.iter().filter(|&&a| a == 0).count(), assign.iter().filter(|&&a| a == 1).count()];
        let small = usize::from(sizes[1] < sizes[0]);
        for (&r, z) in rows.iter().zip(&reduced) {
            scores[r] = distance(z, &centres[1 - small]) - distance(z, &centres[small]);
        }
        let share = sizes[small] as f64 / rows.len() as f64;
        if sizes[small] > 0 && share < size_threshold && silhouette(&reduced, &assign) > silhouette_threshold
        {
            flagged.extend(rows.iter().zip(&assign).filter(|&(_, &a)| a == small).map(|(&r, _)| r));
        }
    }
    flagged.sort_unstable();
    Verdict { scores, flagged }
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt()
}

/// The rows, centred, projected on their top principal components (power
/// iteration with deflation: deterministic).
pub fn reduce(rows: &[&[f64]]) -> Vec<Vec<f64>> {
    let width = rows.first().map_or(0, |r| r.len());
    let n = rows.len() as f64;
    let mut mean = vec![0.0; width];
    for r in rows {
        for (m, v) in mean.iter_mut().zip(r.iter()) {
            *m += v / n;
        }
    }
    let centred: Vec<Vec<f64>> =
        rows.iter().map(|r| r.iter().zip(&mean).map(|(v, m)| v - m).collect()).collect();
    let mut gram = super::linalg::gram(&centred, width);
    let mut components = Vec::new();
    for k in 0..DIMS.min(width) {
        let start = (0..width).map(|i| 1.0 + ((i + k) % width) as f64 * 1e-3).collect();
        let (v, eigen) = super::linalg::top_eigenvector(&gram, width, start);
        if eigen < 1e-12 {
            break;
        }
        // Deflate: what is left has no variance along v.
        for i in 0..width {
            for j in 0..width {
                gram[i * width + j] -= eigen * v[i] * v[j];
            }
        }
        components.push(v);
    }
    centred
        .iter()
        .map(|x| components.iter().map(|c| x.iter().zip(c).map(|(a, b)| a * b).sum()).collect())
        .collect()
}

/// Lloyd's 2-means from the row furthest from the centre and the row
/// furthest from that one; assignments and the two centres.
pub fn two_means(z: &[Vec<f64>]) -> (Vec<usize>, [Vec<f64>; 2]) {
    let width = z.first().map_or(0, Vec::len);
    let origin = vec![0.0; width];
    let far = |from: &[f64]| {
        (0..z.len())
            .max_by(|&a, &b| distance(&z[a], from).total_cmp(&distance(&z[b], from)).then(b.cmp(&a)))
            .unwrap_or(0)
    };
    let first = far(&origin);
    let second = far(&z[first]);
    let mut centres = [z[first].clone(), z[second].clone()];
    let mut assign = vec![usize::MAX; z.len()];
    for _ in 0..100 {
        let next: Vec<usize> =
            z.iter().map(|p| usize::from(distance(p, &centres[1]) < distance(p, &centres[0]))).collect();
        if next == assign {
            break;
        }
        assign = next;
        for (k, centre) in centres.iter_mut().enumerate() {
            let members: Vec<&Vec<f64>> =
                z.iter().zip(&assign).filter(|&(_, &a)| a == k).map(|(p, _)| p).collect();
            if members.is_empty() {
                continue;
            }
            *centre = (0..width)
                .map(|d| members.iter().map(|p| p[d]).sum::<f64>() / members.len() as f64)
                .collect();
        }
    }
    (assign, centres)
}

/// The mean silhouette coefficient (Rousseeuw 1987) of a two-cluster split,
/// over at most [`SILHOUETTE_ROWS`] evenly spaced rows (as sklearn's
/// `sample_size`); 0 when a cluster is empty.
pub fn silhouette(z: &[Vec<f64>], assign: &[usize]) -> f64 {
    let step = z.len().div_ceil(SILHOUETTE_ROWS).max(1);
    let picked: Vec<usize> = (0..z.len()).step_by(step).collect();
    let counts = [0, 1].map(|k| picked.iter().filter(|&&i| assign[i] == k).count());
    if counts.contains(&0) {
        return 0.0;
    }
    let mut total = 0.0;
    for &i in &picked {
        let mut sums = [0.0, 0.0];
        for &j in &picked {
            if j != i {
                sums[assign[j]] += distance(&z[i], &z[j]);
            }
        }
        let own = assign[i];
        if counts[own] == 1 {
            // A singleton's coefficient is 0 by convention.
            continue;
        }
        let a = sums[own] / (counts[own] - 1) as f64;
        let b = sums[1 - own] / counts[1 - own] as f64;
        let m = a.max(b);
        if m > 0.0 {
            total += (b - a) / m;
        }
    }
    total / picked.len() as f64
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;

    /// `n` points of a Gaussian-ish blob around `centre` in 12 dimensions.
    fn blob(rng: &mut impl Rng, centre: f64, n: usize, axis: usize) -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| {
                let mut p: Vec<f64> = (0..12).map(|_| rng.random_range(-1.0..1.0)).collect();
                p[axis] += centre;
                p
            })
            .collect()
    }

    #[test]
    fn the_silhouette_matches_a_hand_computation() {
        // Clusters {0, 1} and {4}: a(0) = 1, b(0) = 4, s = 0.75; s(1) = (3 - 1) / 3;
        // the singleton scores 0. Mean over three points.
        let z = vec![vec![0.0], vec![1.0], vec![4.0]];
        let s = silhouette(&z, &[0, 0, 1]);
        assert!((s - (0.75 + 2.0 / 3.0) / 3.0).abs() < 1e-12, "{s}");
    }

    #[test]
    fn a_planted_cluster_is_flagged_and_clean_classes_are_not() {
        let mut rng = augment::seed::rng(9);
        let mut features = Vec::new();
        let mut labels = Vec::new();
        // Class 0: 200 clean rows and 40 poisoned far along axis 5 (17% of the class).
        features.extend(blob(&mut rng, 0.0, 200, 0));
        features.extend(blob(&mut rng, 8.0, 40, 5));
        labels.extend(std::iter::repeat_n(0, 240));
        // Class 1: one clean blob, which 2-means splits about in half.
        features.extend(blob(&mut rng, 3.0, 150, 2));
        labels.extend(std::iter::repeat_n(1, 150));
        let v = activation_clustering(&features, &labels, 2, 0.35, 0.1);
        assert_eq!(v.flagged, (200..240).collect::<Vec<_>>());
        assert!(v.scores[200..240].iter().all(|&s| s > 0.0), "poisoned rows lie nearer the small cluster");
        // Without the planted rows, nothing is flagged.
        let clean = activation_clustering(&features[..200], &labels[..200], 1, 0.35, 0.1);
        assert!(clean.flagged.is_empty(), "{} flagged", clean.flagged.len());
    }

    #[test]
    fn principal_components_come_out_largest_first() {
        // Spread 5 along axis 3, 1 along axis 7, nearly nothing elsewhere.
        let rows: Vec<Vec<f64>> = (0..50)
            .map(|i| {
                let t = f64::from(i) / 49.0 - 0.5;
                let mut p = vec![0.0; 9];
                p[3] = 10.0 * t;
                p[7] = 2.0 * (t * 7.0).sin();
                p
            })
            .collect();
        let z = reduce(&rows.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let var = |k: usize| z.iter().map(|p| p[k] * p[k]).sum::<f64>();
        assert!(var(0) > var(1) && var(1) > 1e-6, "{} {}", var(0), var(1));
        // The first component is axis 3.
        let corr: f64 = z.iter().zip(&rows).map(|(p, r)| p[0] * r[3]).sum::<f64>().abs();
        assert!(corr / (var(0).sqrt() * rows.iter().map(|r| r[3] * r[3]).sum::<f64>().sqrt()) > 0.99);
    }
}
