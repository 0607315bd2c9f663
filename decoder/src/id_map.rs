//! Hash maps keyed by the trace's IDs (goroutines, Ps, threads, strings, stacks): looked up
//! several times per event, so the hash must be cheap, yet the IDs come from the input, so it
//! is keyed by a per-process random seed to keep crafted IDs from colliding on purpose.

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
}
