//! Hash maps keyed by the trace's IDs (goroutines, Ps, threads, strings, stacks): looked up
//! several times per event, so the hash must be cheap, yet the IDs come from the input, so it
//! is keyed by a per-process random seed to keep crafted IDs from colliding on purpose.
//! [`DenseIdMap`] goes further for IDs that are small in practice (Ps): a vector indexed by ID.
//! [`SlabIdMap`] is for IDs that are small-ish but many and short-lived (goroutines): entries in a
//! vector whose vacant places are reused, found through a vector of slot numbers indexed by ID.

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

/// `id` as a vector index when it is below `limit` (negative IDs never are): the dense part of
/// both maps below.
#[inline]
fn index_below(id: i64, limit: usize) -> Option<usize> {
    usize::try_from(id).ok().filter(|&i| i < limit)
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
    pub(crate) fn get(&self, id: i64) -> Option<&V> {
        match index_below(id, DENSE_IDS) {
            Some(i) => self.dense.get(i)?.as_ref(),
            None => self.sparse.get(&id),
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: i64) -> Option<&mut V> {
        match index_below(id, DENSE_IDS) {
            Some(i) => self.dense.get_mut(i)?.as_mut(),
            None => self.sparse.get_mut(&id),
        }
    }

    pub(crate) fn insert(&mut self, id: i64, value: V) {
        match index_below(id, DENSE_IDS) {
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

/// IDs below this find their entry in a [`SlabIdMap`] through its index vector (4 bytes per ID,
/// so at most 256 KiB); Go numbers goroutines from 1 up, and a program has to create 65,536 of
/// them before its IDs go to the hash map.
const INDEXED_IDS: usize = 1 << 16;

/// No entry, in a [`SlabIdMap`]'s index.
const NO_SLOT: u32 = u32::MAX;

/// A map from IDs that are mostly below [`INDEXED_IDS`] (goroutines): the entries sit in a
/// vector, and a vector indexed by ID holds each one's position there, so a lookup is two loads
/// and no hashing. Larger IDs find their position through a hash map.
///
/// A removed entry's place is left where it is, its value dropped (a default one in its place),
/// and taken by the next insert: a device's interrupt callbacks create and destroy a goroutine
/// at every interrupt, and moving the last entry (about 130 bytes) into the hole, then the
/// removed value out to the caller, was 2.5% of the device trace's instructions. An entry is
/// live while the index maps its ID to its own position, so nothing marks the vacant ones.
#[derive(Debug)]
pub(crate) struct SlabIdMap<V> {
    /// Entries with their IDs, live and vacant, in no particular order.
    entries: Vec<(i64, V)>,
    /// Positions in `entries` that no live entry holds.
    vacant: Vec<u32>,
    /// Position in `entries` by ID below [`INDEXED_IDS`], [`NO_SLOT`] for none.
    index: Vec<u32>,
    /// Position in `entries` of the other IDs.
    sparse: IdMap<i64, u32>,
}

impl<V> Default for SlabIdMap<V> {
    fn default() -> Self {
        SlabIdMap {
            entries: Vec::new(),
            vacant: Vec::new(),
            index: Vec::new(),
            sparse: id_map(),
        }
    }
}

/// The position of `id`'s entry, by a [`SlabIdMap`]'s `index` and `sparse`.
#[inline]
fn slot_of(index: &[u32], sparse: &IdMap<i64, u32>, id: i64) -> Option<usize> {
    let slot = match index_below(id, INDEXED_IDS) {
        Some(i) => *index.get(i)?,
        None => *sparse.get(&id)?,
    };
    (slot != NO_SLOT).then_some(slot as usize)
}

impl<V: Default> SlabIdMap<V> {
    /// The position of `id`'s entry.
    #[inline]
    fn slot(&self, id: i64) -> Option<usize> {
        slot_of(&self.index, &self.sparse, id)
    }

    /// Records `slot` as the position of `id`'s entry.
    fn set_slot(&mut self, id: i64, slot: u32) {
        match index_below(id, INDEXED_IDS) {
            Some(i) => {
                if self.index.len() <= i {
                    self.index.resize(i + 1, NO_SLOT);
                }
                if let Some(at) = self.index.get_mut(i) {
                    *at = slot;
                }
            }
            None => {
                self.sparse.insert(id, slot);
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, id: i64) -> Option<&V> {
        let slot = self.slot(id)?;
        self.entries.get(slot).map(|(_, value)| value)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: i64) -> Option<&mut V> {
        let slot = self.slot(id)?;
        self.entries.get_mut(slot).map(|(_, value)| value)
    }

    #[inline]
    pub(crate) fn contains_key(&self, id: i64) -> bool {
        self.slot(id).is_some()
    }

    /// Makes `id`'s entry a default value (replacing any it had), to be filled in where it
    /// lies: a vacant place holds a default value already, so taking one writes only the ID,
    /// where a value built by the caller would be moved in whole (a goroutine's state, about
    /// 120 bytes, at every interrupt of a device).
    pub(crate) fn insert_default(&mut self, id: i64) -> &mut V {
        let slot = match self.slot(id).filter(|&slot| slot < self.entries.len()) {
            Some(slot) => {
                if let Some((_, value)) = self.entries.get_mut(slot) {
                    *value = V::default();
                }
                slot
            }
            None => {
                let slot = match self.vacant.pop().map(|slot| slot as usize) {
                    Some(slot) if slot < self.entries.len() => {
                        if let Some((at, _)) = self.entries.get_mut(slot) {
                            *at = id;
                        }
                        slot
                    }
                    _ => {
                        self.entries.push((id, V::default()));
                        self.entries.len() - 1
                    }
                };
                // Fewer entries than IDs: a position always fits the index's u32.
                self.set_slot(id, u32::try_from(slot).unwrap_or(NO_SLOT));
                slot
            }
        };
        // Below the length on every path above.
        &mut self.entries[slot].1
    }

    /// Removes `id`'s entry, dropping its value; whether there was one.
    pub(crate) fn remove(&mut self, id: i64) -> bool {
        let Some(slot) = self.slot(id) else {
            return false;
        };
        match index_below(id, INDEXED_IDS) {
            Some(i) => {
                if let Some(at) = self.index.get_mut(i) {
                    *at = NO_SLOT;
                }
            }
            None => {
                self.sparse.remove(&id);
            }
        }
        if let Some((_, value)) = self.entries.get_mut(slot) {
            // Vacant places hold a default value (see `insert_default`).
            drop(std::mem::take(value));
            // A position held by an entry fits the index's u32.
            self.vacant.push(slot as u32);
        }
        true
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i64, &V)> {
        let (index, sparse) = (&self.index, &self.sparse);
        (self.entries.iter().enumerate())
            .filter(move |&(at, &(id, _))| slot_of(index, sparse, id) == Some(at))
            .map(|(_, (id, value))| (*id, value))
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

    /// A map works whatever the hash, but one that puts IDs together makes every look-up a
    /// walk: IDs as a trace has them (consecutive, strided, negative) and byte keys hash apart.
    #[test]
    fn ids_hash_apart() {
        let hash = IdHash::new();
        let ids = (0..1024i64)
            .chain((1..1024).map(|i| i * 4096))
            .chain(-1024..0);
        let id_hashes: std::collections::HashSet<u64> = ids.map(|id| hash.hash_one(id)).collect();
        assert_eq!(id_hashes.len(), 3071);
        let byte_hashes: std::collections::HashSet<u64> = (0..1024u32)
            .map(|i| hash.hash_one(format!("string {i}").as_bytes()))
            .collect();
        assert_eq!(byte_hashes.len(), 1024);
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

    #[test]
    fn slab_maps_keep_entries_apart_through_removals() {
        let mut map = SlabIdMap::default();
        let ids = [
            1,
            2,
            3,
            -1,
            1 << 40,
            i64::MIN,
            INDEXED_IDS as i64,
            70_000,
            17,
        ];
        for id in ids {
            *map.insert_default(id) = id.wrapping_mul(3);
        }
        let places = map.entries.len();
        assert_eq!(*map.insert_default(2), 0, "replaced by a default");
        *map.insert_default(2) = 5;
        assert_eq!(map.entries.len(), places, "replaced in its place");
        assert_eq!(map.get(2), Some(&5));
        // Removing entries moves others; each must still be found under its own ID.
        for (n, id) in [1, 1 << 40, 17, -1].into_iter().enumerate() {
            assert_eq!(map.get(id), Some(&id.wrapping_mul(3)));
            assert!(map.contains_key(id));
            assert!(map.remove(id));
            assert!(!map.remove(id));
            assert!(!map.contains_key(id));
            assert_eq!(map.iter().count(), ids.len() - n - 1);
        }
        for id in [3, i64::MIN, INDEXED_IDS as i64, 70_000] {
            assert_eq!(map.get(id), Some(&id.wrapping_mul(3)));
        }
        if let Some(v) = map.get_mut(70_000) {
            *v = 1;
        }
        let mut entries: Vec<(i64, i64)> = map.iter().map(|(id, &v)| (id, v)).collect();
        entries.sort_unstable();
        assert_eq!(
            entries,
            [
                (i64::MIN, i64::MIN.wrapping_mul(3)),
                (2, 5),
                (3, 9),
                (65_536, 196_608),
                (70_000, 1)
            ]
        );
        assert_eq!(map.get(4), None);
        assert!(map.index.len() <= 18, "only small IDs take index slots");
        // New entries take the vacant places (the removed IDs among them, now elsewhere) and
        // are found there; the vacant ones are never seen.
        let places = map.entries.len();
        for id in [17, 1 << 40, 100, -5] {
            let value = map.insert_default(id);
            assert_eq!(*value, 0, "a vacant place holds a default value");
            *value = id + 1;
        }
        assert_eq!(map.entries.len(), places, "vacant places reused");
        for id in [17, 1 << 40, 100, -5] {
            assert_eq!(map.get(id), Some(&(id + 1)));
        }
        assert_eq!(map.get(1), None);
        assert_eq!(map.get(-1), None);
        assert_eq!(map.iter().count(), 9);
        assert!(map.remove(2));
        assert_eq!(map.iter().count(), 8);
        assert!(map.iter().all(|(id, _)| id != 2));
    }
}
