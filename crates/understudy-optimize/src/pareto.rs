//! Which candidates the search keeps building on, and which it reports: GEPA's per-item Pareto
//! set (every candidate that is best on at least one validation item, so that a candidate good
//! on a different part of the task is not thrown away for a narrowly better average), and the
//! quality-vs-latency front (no other candidate is both at least as accurate and faster).

/// A candidate's validation results.
#[derive(Debug, Clone)]
pub struct Point {
    pub id: usize,
    /// Per validation item, in one fixed order shared by every candidate.
    pub scores: Vec<f64>,
    pub mean_ms: f64,
}

impl Point {
    pub fn mean(&self) -> f64 {
        self.scores.iter().sum::<f64>() / self.scores.len().max(1) as f64
    }
}

/// `(id, items it is best on)` for every candidate best on at least one item some candidate
/// gets any credit on; when no candidate gets credit anywhere, the best mean alone.
pub fn item_front(points: &[Point]) -> Vec<(usize, usize)> {
    let items = points.iter().map(|p| p.scores.len()).min().unwrap_or(0);
    let mut wins = vec![0usize; points.len()];
    for i in 0..items {
        let best = points.iter().map(|p| p.scores[i]).fold(0.0, f64::max);
        if best <= 0.0 {
            continue;
        }
        for (w, p) in wins.iter_mut().zip(points) {
            if p.scores[i] >= best {
                *w += 1;
            }
        }
    }
    let front: Vec<(usize, usize)> = points
        .iter()
        .zip(&wins)
        .filter(|(_, w)| **w > 0)
        .map(|(p, w)| (p.id, *w))
        .collect();
    if front.is_empty() {
        return best(points).map(|p| vec![(p.id, 0)]).unwrap_or_default();
    }
    front
}

/// The parent for step `turn`: candidates of the item front in turn, each as often as the
/// items it is best on (GEPA samples by that weight; a fixed rotation keeps reruns identical).
pub fn parent(points: &[Point], turn: usize) -> Option<usize> {
    let front = item_front(points);
    let weights: usize = front.iter().map(|(_, w)| (*w).max(1)).sum();
    if weights == 0 {
        return None;
    }
    // Step through the weighted list with a stride coprime to most sizes.
    let mut slot = (turn * 7) % weights;
    for (id, w) in &front {
        let w = (*w).max(1);
        if slot < w {
            return Some(*id);
        }
        slot -= w;
    }
    front.first().map(|(id, _)| *id)
}

/// The highest mean score, the faster of equals.
pub fn best(points: &[Point]) -> Option<&Point> {
    points.iter().max_by(|a, b| {
        a.mean()
            .total_cmp(&b.mean())
            .then(b.mean_ms.total_cmp(&a.mean_ms))
    })
}

/// Ids of the candidates no other candidate beats on both mean score and mean latency.
pub fn quality_latency_front(points: &[Point]) -> Vec<usize> {
    points
        .iter()
        .filter(|p| {
            !points.iter().any(|q| {
                q.id != p.id
                    && q.mean() >= p.mean()
                    && q.mean_ms <= p.mean_ms
                    && (q.mean() > p.mean() || q.mean_ms < p.mean_ms)
            })
        })
        .map(|p| p.id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(id: usize, scores: &[f64], ms: f64) -> Point {
        Point {
            id,
            scores: scores.to_vec(),
            mean_ms: ms,
        }
    }

    #[test]
    fn a_candidate_best_on_one_item_stays_in_the_set() {
        let points = [
            point(0, &[1.0, 1.0, 0.0, 0.0], 100.0),
            point(1, &[0.0, 0.0, 1.0, 0.0], 50.0),
            point(2, &[1.0, 0.0, 0.0, 0.0], 10.0),
        ];
        assert_eq!(item_front(&points), vec![(0, 2), (1, 1), (2, 1)]);
        assert_eq!(best(&points).unwrap().id, 0);
        // 2 is fastest; 1 is slower than 2 and no more accurate; 0 is the most accurate.
        assert_eq!(quality_latency_front(&points), vec![0, 2]);
        let parents: Vec<usize> = (0..4).filter_map(|t| parent(&points, t)).collect();
        assert!(
            parents.contains(&0) && parents.contains(&1) && parents.contains(&2),
            "{parents:?}"
        );
    }

    #[test]
    fn with_no_credit_anywhere_the_best_mean_is_the_parent() {
        let points = [point(4, &[0.0, 0.0], 9.0), point(5, &[0.0, 0.0], 3.0)];
        assert_eq!(item_front(&points), vec![(5, 0)]);
        assert_eq!(parent(&points, 3), Some(5));
    }
}
