//! Fingerprints: a fast 64-bit hasher, and the hash of a value with it.
//!
//! An explorer recognises a state it has seen by a fingerprint: a 64-bit hash of the
//! state's parts, compared instead of the state itself. Two distinct states whose
//! fingerprints collide are taken for one and the second is never explored (TLC, the
//! TLA+ model checker, takes the same risk); with 64 bits and tens of millions of
//! states that risk is remote, but it is a risk. The hasher runs for every state the
//! search reaches, so it is the search's inner loop: it needs speed and spread, not
//! resistance to an adversary, which is why it is not the standard library's SipHash.

use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A fast 64-bit hasher for fingerprints (the multiply-rotate step of rustc's
/// `FxHasher`, with a final avalanche). The explorer hashes every state it reaches, so
/// the hasher is its inner loop; it needs speed and spread, not resistance to an
/// adversary.
///
/// It hashes the same on every platform: bytes are taken as little-endian 64-bit words,
/// and every integer is widened to 64 bits first.
#[derive(Default)]
pub struct Fx(u64);

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // A final avalanche (splitmix64's), so that the low bits the hash set uses
        // depend on every input bit.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The fingerprint of `value`: its [`Hash`] fed to a fresh [`Fx`].
#[inline]
pub fn hash_of(value: impl Hash) -> u64 {
    let mut h = Fx::default();
    value.hash(&mut h);
    h.finish()
}

/// A [`Hasher`] builder for hash sets and maps whose keys are fingerprints already:
/// `HashSet<u64, BuildFx>` spends no time on SipHash.
pub type BuildFx = BuildHasherDefault<Fx>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_fingerprint_is_the_same_in_every_run() {
        // Pinned, as worked out from the definition: 42 times the multiplier, then
        // splitmix64's avalanche. A change to the hasher shows here first.
        assert_eq!(hash_of(42u64), 0xe214_952e_5491_74e8);
        assert_eq!(hash_of((1u8, 2u32)), hash_of((1u64, 2u64)));
    }

    #[test]
    fn bytes_are_hashed_as_little_endian_words() {
        let mut bytes = Fx::default();
        bytes.write(&[1, 0, 0, 0, 0, 0, 0, 0, 2]);
        let mut words = Fx::default();
        words.write_u64(1);
        words.write_u64(2);
        assert_eq!(bytes.finish(), words.finish());
    }

    #[test]
    fn small_integers_are_widened_to_64_bits() {
        let of = |f: &dyn Fn(&mut Fx)| {
            let mut h = Fx::default();
            f(&mut h);
            h.finish()
        };
        let wide = of(&|h| h.write_u64(7));
        assert_eq!(of(&|h| h.write_u8(7)), wide);
        assert_eq!(of(&|h| h.write_u32(7)), wide);
        assert_eq!(of(&|h| h.write_usize(7)), wide);
    }

    #[test]
    fn order_matters() {
        assert_ne!(hash_of((1u64, 2u64)), hash_of((2u64, 1u64)));
    }

    #[test]
    fn the_low_bits_depend_on_the_high_bits() {
        // Values that differ only in their top 16 bits: without the final avalanche
        // their hashes would share every low bit, and a hash set would put them all in
        // one bucket.
        let low: HashSet<u64> = (0..1000u64).map(|i| hash_of(i << 48) & 0xffff).collect();
        assert!(low.len() > 950, "{} distinct low halves of 1000", low.len());
    }
}
