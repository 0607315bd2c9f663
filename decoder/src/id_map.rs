//! Hash maps keyed by the trace's IDs (goroutines, Ps, threads, strings, stacks): looked up
//! several times per event, so the hash must be cheap, yet the IDs come from the input, so it
//! is keyed by a per-process random seed to keep crafted IDs from colliding on purpose.
//! [`DenseIdMap`] goes further for IDs that are small in practice (Ps): a vector indexed by ID.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;

pub(crate) type IdMap<K, V> = HashMap<K, V, IdHash>;

/// A new, empty map.
pub(crate) fn id_map<K, V>() -> IdMap<K, V> {
    HashMap::with_hasher(IdHash::new())
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct IdHash {
    seed: [u64; 2],
}

impl IdHash {
    fn new() -> Self {
        static SEED: OnceLock<[u64; 2]> = OnceLock::new();
        let seed = *SEED.get_or_init(|| {
            let state = RandomState::new();
            [state.hash_one(0x5eed_u64), state.hash_one(0xfeed_u64) | 1]
        });
        IdHash { seed }
    }
}

impl Default for IdHash {
    fn default() -> Self {
        IdHash::new()
    }
}

impl BuildHasher for IdHash {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            seed: self.seed,
            state: self.seed[0],
        }
    }
}

/// Folded multiply of each written word with the seed.
pub(crate) struct IdHasher {
    seed: [u64; 2],
    state: u64,
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, value: u64) {
        let product = u128::from(self.state ^ value) * u128::from(self.seed[1]);
        self.state = (product as u64) ^ ((product >> 64) as u64);
    }

    fn write_i64(&mut self, value: i64) {
        self.write_u64(value as u64);
    }

    fn finish(&self) -> u64 {
        self.state
    }
}

/// IDs below this live in the vector of a [`DenseIdMap`]: a P's ID is below `GOMAXPROCS`.
const DENSE_IDS: usize = 1024;

/// A map from IDs that are normally small: those below [`DENSE_IDS`] index a vector (grown to
/// the largest such ID seen), the others, which only hostile input has, go to a hash map.
#[derive(Debug)]
pub(crate) struct DenseIdMap<V> {
    dense: Vec<Option<V>>,
    sparse: IdMap<i64, V>,
}

impl<V> Default for DenseIdMap<V> {
    fn default() -> Self {
        DenseIdMap {
            dense: Vec::new(),
            sparse: id_map(),
        }
    }
}

impl<V> DenseIdMap<V> {
    #[inline]
    fn index(id: i64) -> Option<usize> {
        usize::try_from(id).ok().filter(|&i| i < DENSE_IDS)
    }

    #[inline]
    pub(crate) fn get(&self, id: i64) -> Option<&V> {
        match Self::index(id) {
            Some(i) => self.dense.get(i)?.as_ref(),
            None => self.sparse.get(&id),
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: i64) -> Option<&mut V> {
        match Self::index(id) {
            Some(i) => self.dense.get_mut(i)?.as_mut(),
            None => self.sparse.get_mut(&id),
        }
    }

    pub(crate) fn insert(&mut self, id: i64, value: V) {
        match Self::index(id) {
            Some(i) => {
                if self.dense.len() <= i {
                    self.dense.resize_with(i + 1, || None);
                }
                if let Some(slot) = self.dense.get_mut(i) {
                    *slot = Some(value);
                }
            }
            None => {
                self.sparse.insert(id, value);
            }
        }
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i64, &V)> {
        let dense = (self.dense.iter().enumerate())
            .filter_map(|(i, slot)| Some((i as i64, slot.as_ref()?)));
        dense.chain(self.sparse.iter().map(|(&id, value)| (id, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keep_their_entries_apart() {
        let mut map: IdMap<i64, i64> = id_map();
        for id in -1000..1000 {
            map.insert(id * 4096, id);
        }
        assert_eq!(map.len(), 2000);
        assert!((-1000..1000).all(|id| map.get(&(id * 4096)) == Some(&id)));
        let hash = IdHash::new();
        assert_ne!(hash.hash_one(1u64), hash.hash_one(2u64));
    }

    #[test]
    fn dense_maps_hold_small_and_huge_ids_alike() {
        let mut map = DenseIdMap::default();
        for id in [0, 3, -1, 1 << 40, i64::MIN, DENSE_IDS as i64] {
            map.insert(id, id.wrapping_mul(2));
        }
        map.insert(3, 7);
        for id in [0, -1, 1 << 40, i64::MIN, DENSE_IDS as i64] {
            assert_eq!(map.get(id), Some(&id.wrapping_mul(2)));
        }
        assert_eq!(map.get(3), Some(&7));
        assert_eq!(map.get(2), None);
        assert_eq!(map.get(5000), None);
        if let Some(v) = map.get_mut(0) {
            *v = 9;
        }
        assert_eq!(map.get(0), Some(&9));
        let mut ids: Vec<i64> = map.iter().map(|(id, _)| id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [i64::MIN, -1, 0, 3, DENSE_IDS as i64, 1 << 40]);
        assert!(map.dense.len() <= 4, "only small IDs take vector slots");
    }
}
