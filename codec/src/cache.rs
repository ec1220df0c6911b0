//! Small bounded caches for work the chain layer would otherwise repeat on every call:
//! parsing the same `CWD…` keys, and the ECDH with the same counterpart (see `memo`).
//! Ordered maps, not hash maps: no random seed, so the component stays deterministic.

use std::borrow::Borrow;
use std::collections::{BTreeMap, VecDeque};

/// At most `capacity` entries; when full, the oldest insertion goes first (and is
/// dropped, which zeroizes values that zeroize on drop).
pub(crate) struct Bounded<K, V> {
    map: BTreeMap<K, V>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Ord + Clone, V> Bounded<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Bounded { map: BTreeMap::new(), order: VecDeque::with_capacity(capacity), capacity: capacity.max(1) }
    }

    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) {
        if self.map.contains_key(&key) {
            return;
        }
        if self.map.len() >= self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.map.remove(&oldest);
            }
        }
        self.order.push_back(key.clone());
        self.map.insert(key, value);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Bounded;

    #[test]
    fn never_grows_past_capacity_and_evicts_the_oldest() {
        let mut c = Bounded::new(3);
        for i in 0..10u32 {
            c.insert(i, i * 10);
            assert!(c.len() <= 3);
        }
        assert_eq!((c.get(&6), c.get(&7), c.get(&9)), (None, Some(&70), Some(&90)));
        c.insert(9, 0); // present: kept as it was
        assert_eq!(c.get(&9), Some(&90));
    }
}
