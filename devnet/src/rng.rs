//! Deterministic randomness: sha256(seed ‖ label ‖ counter). Keys, memo nonces and fault
//! rolls all come from here, so a seeded devnet replays exactly.

use sha2::{Digest, Sha256};

#[derive(Clone, Debug)]
pub struct Rng {
    seed: Vec<u8>,
    counter: u64,
}

impl Rng {
    /// With `None`, a seed from the clock and process id: unpredictable enough for a
    /// development chain, and no OS randomness dependency.
    pub fn new(seed: Option<&[u8]>) -> Self {
        let seed = match seed {
            Some(s) => s.to_vec(),
            None => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                let mut s = now.to_le_bytes().to_vec();
                s.extend_from_slice(&std::process::id().to_le_bytes());
                let probe = Box::new(0u8);
                s.extend_from_slice(&(&*probe as *const u8 as usize).to_le_bytes());
                s
            }
        };
        Rng { seed, counter: 0 }
    }

    /// A fresh 32 bytes for `label`.
    pub fn bytes(&mut self, label: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((self.seed.len() as u64).to_le_bytes());
        h.update(&self.seed);
        h.update(label.as_bytes());
        h.update(self.counter.to_le_bytes());
        self.counter += 1;
        h.finalize().into()
    }

    pub fn u64(&mut self, label: &str) -> u64 {
        let b = self.bytes(label);
        u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self, label: &str) -> f64 {
        (self.u64(label) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_repeatable_and_labels_differ() {
        let mut a = Rng::new(Some(b"s"));
        let mut b = Rng::new(Some(b"s"));
        assert_eq!(a.bytes("k"), b.bytes("k"));
        assert_ne!(a.bytes("k"), b.bytes("n"));
        let u = a.unit("f");
        assert!((0.0..1.0).contains(&u));
    }
}
