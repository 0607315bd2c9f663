//! The unstable sort of Go's `slices.SortFunc` (pattern-defeating quicksort), step for step.
//!
//! Go's parser sorts two things with it: the frontier of thread cursors when the earliest one
//! cannot advance, and the CPU samples of a generation. Both may hold equal timestamps, and the
//! order in which equal elements come out decides which event Go emits first. Rust's own sorts
//! order equal elements differently, so to print the same event stream as Go we sort the same
//! way Go does.

/// Sorts `data` exactly as Go's `slices.SortFunc(data, cmp)` would, where `less(a, b)` is
/// `cmp(a, b) < 0`.
pub(crate) fn sort_like_go<T>(data: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let n = data.len();
    let limit = (usize::BITS - n.leading_zeros()) as usize;
    Pdq { data, less: &less }.sort(0, n, limit);
}

#[derive(PartialEq, Eq)]
enum Hint {
    Unknown,
    Increasing,
    Decreasing,
}

struct Pdq<'a, T, F: Fn(&T, &T) -> bool> {
    data: &'a mut [T],
    less: &'a F,
}

impl<T, F: Fn(&T, &T) -> bool> Pdq<'_, T, F> {
    fn lt(&self, i: usize, j: usize) -> bool {
        (self.less)(&self.data[i], &self.data[j])
    }

    fn insertion_sort(&mut self, a: usize, b: usize) {
        for i in a + 1..b {
            let mut j = i;
            while j > a && self.lt(j, j - 1) {
                self.data.swap(j, j - 1);
                j -= 1;
            }
        }
    }

    fn sift_down(&mut self, lo: usize, hi: usize, first: usize) {
        let mut root = lo;
        loop {
            let mut child = 2 * root + 1;
            if child >= hi {
                return;
            }
            if child + 1 < hi && self.lt(first + child, first + child + 1) {
                child += 1;
            }
            if !self.lt(first + root, first + child) {
                return;
            }
            self.data.swap(first + root, first + child);
            root = child;
        }
    }

    fn heap_sort(&mut self, a: usize, b: usize) {
        let first = a;
        let hi = b - a;
        // Only called on more than 12 elements, so hi >= 1.
        for i in (0..=(hi - 1) / 2).rev() {
            self.sift_down(i, hi, first);
        }
        for i in (0..hi).rev() {
            self.data.swap(first, first + i);
            self.sift_down(0, i, first);
        }
    }

    fn sort(&mut self, mut a: usize, mut b: usize, mut limit: usize) {
        const MAX_INSERTION: usize = 12;
        let mut was_balanced = true;
        let mut was_partitioned = true;
        loop {
            let length = b - a;
            if length <= MAX_INSERTION {
                self.insertion_sort(a, b);
                return;
            }
            if limit == 0 {
                self.heap_sort(a, b);
                return;
            }
            if !was_balanced {
                self.break_patterns(a, b);
                limit -= 1;
            }
            let (mut pivot, mut hint) = self.choose_pivot(a, b);
            if hint == Hint::Decreasing {
                self.reverse_range(a, b);
                pivot = (b - 1) - (pivot - a);
                hint = Hint::Increasing;
            }
            if was_balanced
                && was_partitioned
                && hint == Hint::Increasing
                && self.partial_insertion_sort(a, b)
            {
                return;
            }
            if a > 0 && !self.lt(a - 1, pivot) {
                a = self.partition_equal(a, b, pivot);
                continue;
            }
            let (mid, already_partitioned) = self.partition(a, b, pivot);
            was_partitioned = already_partitioned;
            let (left_len, right_len) = (mid - a, b - mid);
            let balance_threshold = length / 8;
            if left_len < right_len {
                was_balanced = left_len >= balance_threshold;
                self.sort(a, mid, limit);
                a = mid + 1;
            } else {
                was_balanced = right_len >= balance_threshold;
                self.sort(mid + 1, b, limit);
                b = mid;
            }
        }
    }

    fn partition(&mut self, a: usize, b: usize, pivot: usize) -> (usize, bool) {
        self.data.swap(a, pivot);
        // i and j are inclusive bounds of what remains; j may step below a + 1 (to a), never
        // below a, so signed arithmetic is not needed.
        let (mut i, mut j) = (a + 1, b - 1);
        while i <= j && self.lt(i, a) {
            i += 1;
        }
        while i <= j && !self.lt(j, a) {
            j -= 1;
        }
        if i > j {
            self.data.swap(j, a);
            return (j, true);
        }
        self.data.swap(i, j);
        i += 1;
        j -= 1;
        loop {
            while i <= j && self.lt(i, a) {
                i += 1;
            }
            while i <= j && !self.lt(j, a) {
                j -= 1;
            }
            if i > j {
                break;
            }
            self.data.swap(i, j);
            i += 1;
            j -= 1;
        }
        self.data.swap(j, a);
        (j, false)
    }

    fn partition_equal(&mut self, a: usize, b: usize, pivot: usize) -> usize {
        self.data.swap(a, pivot);
        let (mut i, mut j) = (a + 1, b - 1);
        loop {
            while i <= j && !self.lt(a, i) {
                i += 1;
            }
            while i <= j && self.lt(a, j) {
                j -= 1;
            }
            if i > j {
                break;
            }
            self.data.swap(i, j);
            i += 1;
            j -= 1;
        }
        i
    }

    fn partial_insertion_sort(&mut self, a: usize, b: usize) -> bool {
        const MAX_STEPS: usize = 5;
        const SHORTEST_SHIFTING: usize = 50;
        let mut i = a + 1;
        for _ in 0..MAX_STEPS {
            while i < b && !self.lt(i, i - 1) {
                i += 1;
            }
            if i == b {
                return true;
            }
            if b - a < SHORTEST_SHIFTING {
                return false;
            }
            self.data.swap(i, i - 1);
            if i - a >= 2 {
                let mut j = i - 1;
                while j >= 1 {
                    if !self.lt(j, j - 1) {
                        break;
                    }
                    self.data.swap(j, j - 1);
                    j -= 1;
                }
            }
            if b - i >= 2 {
                let mut j = i + 1;
                while j < b {
                    if !self.lt(j, j - 1) {
                        break;
                    }
                    self.data.swap(j, j - 1);
                    j += 1;
                }
            }
        }
        false
    }

    fn break_patterns(&mut self, a: usize, b: usize) {
        let length = b - a;
        if length >= 8 {
            let mut random = length as u64;
            let modulus = 1usize << (usize::BITS - length.leading_zeros());
            let start = a + (length / 4) * 2 - 1;
            for idx in start..=start + 2 {
                random ^= random << 13;
                random ^= random >> 7;
                random ^= random << 17;
                let mut other = (random as usize) & (modulus - 1);
                if other >= length {
                    other -= length;
                }
                self.data.swap(idx, a + other);
            }
        }
    }

    fn choose_pivot(&mut self, a: usize, b: usize) -> (usize, Hint) {
        const SHORTEST_NINTHER: usize = 50;
        const MAX_SWAPS: usize = 4 * 3;
        let l = b - a;
        let mut swaps = 0;
        let mut i = a + l / 4;
        let mut j = a + l / 4 * 2;
        let mut k = a + l / 4 * 3;
        if l >= 8 {
            if l >= SHORTEST_NINTHER {
                i = self.median(i - 1, i, i + 1, &mut swaps);
                j = self.median(j - 1, j, j + 1, &mut swaps);
                k = self.median(k - 1, k, k + 1, &mut swaps);
            }
            j = self.median(i, j, k, &mut swaps);
        }
        match swaps {
            0 => (j, Hint::Increasing),
            MAX_SWAPS => (j, Hint::Decreasing),
            _ => (j, Hint::Unknown),
        }
    }

    fn order2(&self, a: usize, b: usize, swaps: &mut usize) -> (usize, usize) {
        if self.lt(b, a) {
            *swaps += 1;
            return (b, a);
        }
        (a, b)
    }

    fn median(&self, a: usize, b: usize, c: usize, swaps: &mut usize) -> usize {
        let (a, b) = self.order2(a, b, swaps);
        let (b, c) = self.order2(b, c, swaps);
        let (_, b) = self.order2(a, b, swaps);
        let _ = c;
        b
    }

    fn reverse_range(&mut self, a: usize, b: usize) {
        self.data[a..b].reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorts pairs by their first element only, so that the second shows where equal keys went.
    fn sorted(pairs: &[(u32, u32)]) -> Vec<(u32, u32)> {
        let mut v = pairs.to_vec();
        sort_like_go(&mut v, |a, b| a.0 < b.0);
        v
    }

    #[test]
    fn sorts_by_key() {
        for n in [0usize, 1, 5, 12, 13, 49, 50, 51, 200, 1000] {
            let pairs: Vec<(u32, u32)> = (0..n as u32)
                .map(|i| ((i.wrapping_mul(2_654_435_761)) % 17, i))
                .collect();
            let out = sorted(&pairs);
            assert!(out.windows(2).all(|w| w[0].0 <= w[1].0), "n={n}");
            let mut seconds: Vec<u32> = out.iter().map(|p| p.1).collect();
            seconds.sort_unstable();
            assert_eq!(seconds, (0..n as u32).collect::<Vec<_>>());
        }
    }

    /// The inputs of `GO_PROGRAM`, which Go sorts with `slices.SortFunc` by key.
    fn inputs() -> Vec<(String, Vec<(u64, usize)>)> {
        let mut all = Vec::new();
        for n in [13usize, 20, 49, 50, 60, 100, 333] {
            for modulus in [2u64, 3, 7, 1000] {
                for pattern in 0..4 {
                    let mut x = (n as u64) * 31 + modulus;
                    let keys = (0..n).map(|i| {
                        let key = match pattern {
                            0 => {
                                x ^= x << 13;
                                x ^= x >> 7;
                                x ^= x << 17;
                                x % modulus
                            }
                            1 => i as u64 % modulus,
                            2 => (n - i) as u64 % modulus,
                            _ => (n - i) as u64 / (1 + modulus / 3),
                        };
                        (key, i)
                    });
                    all.push((format!("{n} {modulus} {pattern}"), keys.collect()));
                }
            }
        }
        all
    }

    const GO_PROGRAM: &str = r#"package main

import (
	"fmt"
	"slices"
)

type p struct{ k, i int }

func main() {
	for _, n := range []int{13, 20, 49, 50, 60, 100, 333} {
		for _, mod := range []int{2, 3, 7, 1000} {
			for pattern := 0; pattern < 4; pattern++ {
				v := make([]p, n)
				x := uint64(n*31 + mod)
				for i := range v {
					var k int
					switch pattern {
					case 0:
						x ^= x << 13
						x ^= x >> 7
						x ^= x << 17
						k = int(x % uint64(mod))
					case 1:
						k = i % mod
					case 2:
						k = (n - i) % mod
					case 3:
						k = (n - i) / (1 + mod/3)
					}
					v[i] = p{k, i}
				}
				slices.SortFunc(v, func(a, b p) int { return a.k - b.k })
				fmt.Printf("%d %d %d", n, mod, pattern)
				for _, e := range v {
					fmt.Printf(" %d", e.i)
				}
				fmt.Println()
			}
		}
	}
}
"#;

    #[test]
    fn equal_keys_come_out_in_gos_order() {
        let Some(go) = gotrace_go_oracle::require_go("go_sort against Go") else {
            return;
        };
        let program = gotrace_go_oracle::scratch_dir().join("go-sort.go");
        std::fs::write(&program, GO_PROGRAM).unwrap();
        let output = go.command().arg("run").arg(&program).output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let go_lines: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let inputs = inputs();
        assert_eq!(go_lines.len(), inputs.len());
        for ((label, mut keys), go_line) in inputs.into_iter().zip(go_lines) {
            sort_like_go(&mut keys, |a, b| a.0 < b.0);
            let ours: Vec<String> = keys.iter().map(|k| k.1.to_string()).collect();
            assert_eq!(format!("{label} {}", ours.join(" ")), go_line);
        }
    }

    #[test]
    fn short_slices_keep_equal_elements_in_order() {
        // Go sorts up to 12 elements by insertion, which is stable.
        let out = sorted(&[(2, 0), (1, 1), (2, 2), (1, 3)]);
        assert_eq!(out, [(1, 1), (1, 3), (2, 0), (2, 2)]);
    }
}
