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

    /// Inputs on which pattern-defeating quicksort runs out of good pivots and falls back to
    /// heapsort (limit reached): found by a hill-climbing search over permutations that kept
    /// the swaps bringing a sort closer to that fallback. Two hold distinct keys, two hold each
    /// key many times, so that heapsort's order of equal keys shows.
    const HEAPSORT_INPUTS: [&[u64]; 4] = [
        &[
            18, 12, 16, 25, 23, 34, 10, 36, 4, 15, 39, 6, 3, 37, 17, 32, 22, 9, 26, 13, 2, 5, 20,
            35, 0, 8, 7, 30, 24, 14, 1, 11, 29, 21, 27, 33, 38, 31, 28, 19,
        ],
        &[
            94, 13, 72, 83, 70, 47, 23, 52, 11, 54, 91, 66, 68, 74, 86, 48, 59, 65, 24, 3, 39, 8,
            42, 30, 44, 78, 34, 16, 25, 21, 79, 71, 85, 12, 17, 53, 81, 41, 60, 31, 76, 90, 36, 55,
            92, 56, 96, 10, 93, 95, 69, 28, 38, 40, 0, 29, 57, 6, 51, 43, 7, 98, 14, 18, 58, 19,
            22, 64, 46, 73, 67, 63, 9, 32, 84, 49, 87, 1, 88, 62, 4, 35, 26, 97, 20, 75, 45, 61,
            99, 27, 89, 80, 50, 77, 37, 5, 82, 15, 2, 33,
        ],
        &[
            1, 0, 1, 1, 1, 3, 4, 0, 4, 2, 2, 4, 3, 4, 0, 0, 1, 3, 0, 3, 2, 1, 4, 1, 1, 4, 2, 0, 4,
            3, 4, 3, 0, 2, 2, 4, 3, 1, 4, 0, 3, 1, 2, 1, 0, 3, 0, 2, 4, 0, 2, 3, 0, 2, 2, 2, 4, 3,
            1, 3,
        ],
        &[
            7, 1, 2, 4, 8, 9, 7, 2, 0, 4, 0, 7, 0, 6, 4, 2, 7, 1, 1, 6, 3, 1, 7, 4, 2, 5, 9, 9, 6,
            8, 8, 5, 3, 5, 5, 8, 0, 0, 7, 8, 3, 5, 3, 4, 9, 8, 6, 6, 1, 6, 9, 3, 9, 2, 0, 4, 1, 5,
            3, 2,
        ],
    ];

    /// The keys `GO_PROGRAM` sorts, one input per entry: shapes of every size class of Go's
    /// sort (insertion, median of three, ninther), random, ascending, descending,
    /// saw-toothed and nearly sorted, with few or many equal keys; a descending run after an
    /// ascending one, which Go reverses in place away from the slice's start; and the heapsort
    /// inputs.
    fn inputs() -> Vec<(String, Vec<u64>)> {
        let mut all = Vec::new();
        for n in [13usize, 20, 49, 50, 60, 100, 333] {
            for modulus in [2u64, 3, 7, 1000] {
                for pattern in 0..6 {
                    let mut x = (n as u64) * 31 + modulus;
                    let keys = (0..n).map(|i| match pattern {
                        0 => {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            x % modulus
                        }
                        1 => i as u64 % modulus,
                        2 => (n - i) as u64 % modulus,
                        3 => (n - i) as u64 / (1 + modulus / 3),
                        4 => i as u64 / (1 + modulus / 3),
                        // Nearly sorted: the second and third keys exchanged.
                        _ => {
                            let key = match i {
                                1 => 2,
                                2 => 1,
                                _ => i as u64,
                            };
                            key / (1 + modulus / 3)
                        }
                    });
                    all.push((format!("{n}/{modulus}/{pattern}"), keys.collect()));
                }
            }
        }
        let rise_then_fall = (0..333u64).map(|i| if i < 45 { i } else { 666 - i });
        all.push(("rise-then-fall".to_owned(), rise_then_fall.collect()));
        for (k, keys) in HEAPSORT_INPUTS.iter().enumerate() {
            all.push((format!("heapsort/{k}"), keys.to_vec()));
        }
        all
    }

    /// Reads one input per line (a label, then keys) from the file named by its argument, and
    /// prints for each the label, how many comparisons `slices.SortFunc` made, and where each
    /// key came from, in sorted order.
    const GO_PROGRAM: &str = r#"package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

type p struct{ k, i int }

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	lines := bufio.NewScanner(f)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		v := make([]p, len(fields)-1)
		for i, field := range fields[1:] {
			k, err := strconv.Atoi(field)
			if err != nil {
				panic(err)
			}
			v[i] = p{k, i}
		}
		comparisons := 0
		slices.SortFunc(v, func(a, b p) int { comparisons++; return a.k - b.k })
		fmt.Printf("%s %d", fields[0], comparisons)
		for _, e := range v {
			fmt.Printf(" %d", e.i)
		}
		fmt.Println()
	}
}
"#;

    /// The same order as Go's for equal keys is not enough: the same comparisons, counted,
    /// show the same steps, where distinct keys would come out sorted by any path.
    #[test]
    fn equal_keys_come_out_in_gos_order_after_gos_comparisons() {
        let Some(go) = gotrace_go_oracle::require_go("go_sort against Go") else {
            return;
        };
        let dir = gotrace_go_oracle::scratch_dir();
        let program = dir.join("go-sort.go");
        std::fs::write(&program, GO_PROGRAM).unwrap();
        let inputs = inputs();
        let listing: String = inputs
            .iter()
            .map(|(label, keys)| {
                let keys: Vec<String> = keys.iter().map(u64::to_string).collect();
                format!("{label} {}\n", keys.join(" "))
            })
            .collect();
        let input_file = dir.join("go-sort-inputs.txt");
        std::fs::write(&input_file, listing).unwrap();
        let output = go
            .command()
            .arg("run")
            .arg(&program)
            .arg(&input_file)
            .output()
            .unwrap();
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
        assert_eq!(go_lines.len(), inputs.len());
        for ((label, keys), go_line) in inputs.into_iter().zip(go_lines) {
            let mut pairs: Vec<(u64, usize)> = keys.into_iter().zip(0..).collect();
            let comparisons = std::cell::Cell::new(0usize);
            sort_like_go(&mut pairs, |a, b| {
                comparisons.set(comparisons.get() + 1);
                a.0 < b.0
            });
            let order: Vec<String> = pairs.iter().map(|p| p.1.to_string()).collect();
            assert_eq!(
                format!("{label} {} {}", comparisons.get(), order.join(" ")),
                go_line
            );
        }
    }

    #[test]
    fn short_slices_keep_equal_elements_in_order() {
        // Go sorts up to 12 elements by insertion, which is stable.
        let out = sorted(&[(2, 0), (1, 1), (2, 2), (1, 3)]);
        assert_eq!(out, [(1, 1), (1, 3), (2, 0), (2, 2)]);
    }
}
