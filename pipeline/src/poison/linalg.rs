//! The little linear algebra the poison filters need: the Gram matrix of
//! feature rows and its leading eigenvectors, by power iteration from a
//! fixed start, so every result is deterministic.

/// `mᵀm` of the rows of `m`, row-major `width × width`.
pub fn gram(m: &[Vec<f64>], width: usize) -> Vec<f64> {
    let mut g = vec![0.0; width * width];
    for row in m {
        for i in 0..width {
            if row[i] == 0.0 {
                continue;
            }
            for j in 0..width {
                g[i * width + j] += row[i] * row[j];
            }
        }
    }
    g
}

/// The leading eigenvector of the symmetric `g` (unit length) and its
/// eigenvalue, iterating from `start`; a zero vector and 0 when `g` maps
/// the start to nothing.
pub fn top_eigenvector(g: &[f64], width: usize, start: Vec<f64>) -> (Vec<f64>, f64) {
    let mut v = start;
    let mut value = 0.0;
    for _ in 0..500 {
        let next: Vec<f64> = (0..width).map(|i| (0..width).map(|j| g[i * width + j] * v[j]).sum()).collect();
        let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return (vec![0.0; width], 0.0);
        }
        let next: Vec<f64> = next.iter().map(|x| x / norm).collect();
        let moved: f64 = next.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
        v = next;
        value = norm;
        if moved < 1e-12 {
            break;
        }
    }
    (v, value)
}
