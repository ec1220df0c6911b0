//! Coordinates modulo 𝑝 = 2²⁵⁶ − 2³² − 977 in nine 29-bit limbs: the field 𝑘×𝑮 uses
//! inside wasm ([`crate::generator`]).
//!
//! k256 picks its field by pointer width, so inside wasm32 it has ten 26-bit limbs and
//! 100 products a multiplication, although wasm computes in 64 bits. Nine 29-bit limbs
//! need 81 products, and a column of them still fits 64 bits. Native code keeps k256's
//! five 52-bit limbs with 128-bit products, which wasm does not have.
//!
//! Every operation is straight-line arithmetic: nothing branches on or indexes memory
//! by a value. Bounds follow k256's *magnitudes*: a value of magnitude 𝑚 has every limb
//! at most 𝑚·[`LIMB`]. Products and [`Field29::normalize_weak`] give magnitude 1;
//! [`Field29::mul`] takes inputs of magnitude at most 2 (checked in debug builds, whose
//! overflow checks would also catch a column that did not fit).

use k256::FieldElement;

const BITS: u32 = 29;
const MASK: u64 = (1 << BITS) - 1;
/// The largest limb of magnitude 1.
pub(crate) const LIMB: u64 = (1 << BITS) + (1 << 15);
/// 2²⁶¹ ≡ 2³⁷ + 0x7A20 (mod 𝑝) (32·(2³² + 977)): a carry out of limb 8 comes back as
/// 0x7A20 in limb 0 and 2⁸ in limb 1.
const FOLD: u64 = 0x7A20;
const FOLD_SHIFT: u32 = 8;
/// 32·𝑝 in limbs each just below 2²⁹, for negation without a borrow.
const P32: [u64; 9] = [0x1FFF_85E0, 0x1FFF_FEFF, MASK, MASK, MASK, MASK, MASK, MASK, MASK];

#[derive(Clone, Copy, Debug)]
pub(crate) struct Field29([u64; 9]);

impl Field29 {
    pub(crate) const ZERO: Self = Field29([0; 9]);
    pub(crate) const ONE: Self = Field29([1, 0, 0, 0, 0, 0, 0, 0, 0]);

    /// From 32 big-endian bytes of a value below 2²⁵⁶ (magnitude 1).
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut words = [0u64; 4]; // little-endian 64-bit words
        for (i, chunk) in bytes.rchunks_exact(8).enumerate() {
            words[i] = u64::from_be_bytes(chunk.try_into().expect("8 bytes"));
        }
        let mut limbs = [0u64; 9];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let (word, offset) = ((i * 29) / 64, (i * 29) % 64);
            let mut bits = words[word] >> offset;
            if offset + 29 > 64 && word + 1 < 4 {
                bits |= words[word + 1] << (64 - offset);
            }
            *limb = bits & MASK;
        }
        Field29(limbs)
    }

    /// The canonical value (below 𝑝), 32 big-endian bytes.
    pub(crate) fn to_bytes(&self) -> [u8; 32] {
        let mut l = self.normalize_weak().0;
        carry(&mut l);
        // Now every limb is below 2²⁹ (the carry out of limb 8 was folded back and could
        // not carry again) and the value below 2²⁶¹. Bits 256 and up are worth 2³² + 977
        // each; folding them twice leaves a value below 2²⁵⁶.
        for _ in 0..2 {
            let high = l[8] >> 24;
            l[8] &= (1 << 24) - 1;
            l[0] += high * 977;
            l[1] += high << 3;
            carry(&mut l);
        }
        // Subtract 𝑝 if the value is at least 𝑝: then v + 2³² + 977 reaches 2²⁵⁶.
        let mut w = l;
        w[0] += 977;
        w[1] += 1 << 3;
        carry(&mut w);
        let at_least_p = ((w[8] >> 24) & 1).wrapping_neg();
        w[8] &= (1 << 24) - 1;
        for (a, b) in l.iter_mut().zip(w) {
            *a ^= at_least_p & (*a ^ b);
        }
        let mut words = [0u64; 4];
        for (i, limb) in l.iter().enumerate() {
            let (word, offset) = ((i * 29) / 64, (i * 29) % 64);
            words[word] |= limb << offset;
            if offset + 29 > 64 && word + 1 < 4 {
                words[word + 1] |= limb >> (64 - offset);
            }
        }
        let mut out = [0u8; 32];
        for (chunk, word) in out.rchunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    pub(crate) fn from_field(f: &FieldElement) -> Self {
        Self::from_bytes(&f.normalize().to_bytes().into())
    }

    pub(crate) fn to_field(&self) -> FieldElement {
        Option::from(FieldElement::from_bytes(&self.to_bytes().into())).expect("a canonical value is below p")
    }

    /// The limbs, for packing into a table entry (all below 2²⁹ for a value from bytes).
    pub(crate) fn limbs(&self) -> &[u64; 9] {
        &self.0
    }

    pub(crate) fn from_limbs(limbs: [u64; 9]) -> Self {
        Field29(limbs)
    }

    /// The product, magnitude 1. Both inputs of magnitude at most 2: nine products of
    /// limbs below 2.5·2²⁹ sum to less than 2⁶³·⁸², which leaves room for the folds.
    #[inline]
    pub(crate) fn mul(&self, rhs: &Self) -> Self {
        let (a, b) = (&self.0, &rhs.0);
        debug_assert!(a.iter().chain(b).all(|&l| l < 5 << 28), "multiplication input above magnitude 2");
        let mut t = [0u64; 17];
        for i in 0..9 {
            for j in 0..9 {
                t[i + j] += a[i] * b[j];
            }
        }
        // Columns 9..16 as limbs (each below 2²⁹) and what carries out of them.
        let mut c = 0;
        for column in t.iter_mut().skip(9) {
            let v = *column + c;
            *column = v & MASK;
            c = v >> BITS;
        }
        // Limb 𝑘 ≥ 9 weighs 2^(29(𝑘−9))·2²⁶¹; the carry out weighs 2^(29·8)·2²⁶¹, whose
        // 2⁸ part weighs 2²⁶¹ again and folds once more.
        for k in 9..17 {
            t[k - 9] += t[k] * FOLD;
            t[k - 8] += t[k] << FOLD_SHIFT;
        }
        t[8] += c * FOLD;
        t[0] += (c << FOLD_SHIFT) * FOLD;
        t[1] += c << (2 * FOLD_SHIFT);
        let mut r = [0u64; 9];
        r.copy_from_slice(&t[..9]);
        Field29(r).normalize_weak()
    }

    /// Magnitudes add.
    #[inline]
    pub(crate) fn add(&self, rhs: &Self) -> Self {
        let mut r = self.0;
        for (a, b) in r.iter_mut().zip(&rhs.0) {
            *a += b;
        }
        Field29(r)
    }

    /// −self for a value of magnitude at most `magnitude`: (𝑚+1)·32𝑝 − self, magnitude 𝑚+1.
    #[inline]
    pub(crate) fn negate(&self, magnitude: u32) -> Self {
        debug_assert!(self.0.iter().all(|&l| l <= magnitude as u64 * LIMB), "negation input above its magnitude");
        let k = magnitude as u64 + 1;
        let mut r = [0u64; 9];
        for ((out, a), p) in r.iter_mut().zip(&self.0).zip(P32) {
            *out = k * p - a;
        }
        Field29(r)
    }

    /// Magnitude times `k`.
    #[inline]
    pub(crate) fn mul_small(&self, k: u32) -> Self {
        let mut r = self.0;
        for a in r.iter_mut() {
            *a *= k as u64;
        }
        Field29(r)
    }

    /// The same value, magnitude 1, for any limbs below 2⁶³·⁹ (the carry out of limb 8
    /// is then below 2³⁵, and folding it carries at most 2¹⁴ into limb 2).
    #[inline]
    pub(crate) fn normalize_weak(&self) -> Self {
        let mut l = self.0;
        let mut c = 0;
        for limb in l.iter_mut() {
            let v = *limb + c;
            *limb = v & MASK;
            c = v >> BITS;
        }
        l[0] += c * FOLD;
        l[1] += (c << FOLD_SHIFT) + (l[0] >> BITS);
        l[0] &= MASK;
        l[2] += l[1] >> BITS;
        l[1] &= MASK;
        Field29(l)
    }

    /// `b` where `choice` is all ones, `a` where it is zero.
    #[inline]
    pub(crate) fn select(a: &Self, b: &Self, choice: u64) -> Self {
        let mut r = a.0;
        for (x, y) in r.iter_mut().zip(&b.0) {
            *x ^= choice & (*x ^ y);
        }
        Field29(r)
    }
}

/// Carries every limb into the next, and the carry out of limb 8 back into limbs 0 and 1.
fn carry(l: &mut [u64; 9]) {
    let mut c = 0;
    for limb in l.iter_mut() {
        let v = *limb + c;
        *limb = v & MASK;
        c = v >> BITS;
    }
    l[0] += c * FOLD;
    l[1] += c << FOLD_SHIFT;
    let mut c = 0;
    for limb in l.iter_mut() {
        let v = *limb + c;
        *limb = v & MASK;
        c = v >> BITS;
    }
    debug_assert_eq!(c, 0, "a folded carry cannot carry out again");
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::Field;
    use proptest::prelude::*;

    fn k(f: &FieldElement) -> [u8; 32] {
        f.normalize().to_bytes().into()
    }

    fn element(bytes: [u8; 32]) -> FieldElement {
        Option::from(FieldElement::from_bytes(&bytes.into())).unwrap_or(FieldElement::ONE)
    }

    /// The same value with every limb as large as magnitude 2 allows: 𝑎 + 32𝑝·2 − …
    /// built as 𝑎 + (−0 at magnitude 1), then checked against k256 like any other.
    fn heavy(f: &Field29) -> Field29 {
        f.add(&Field29::ZERO.negate(0)) // limbs up to LIMB + 32p limbs: magnitude 2
    }

    fn edge_values() -> Vec<FieldElement> {
        let mut p_minus = [0xffu8; 32];
        p_minus[27] = 0xfe; // 𝑝 − 1 = FF…FF FFFFFFFE FFFFFC2E
        p_minus[30] = 0xfc;
        p_minus[31] = 0x2e;
        let mut v = vec![FieldElement::ZERO, FieldElement::ONE, -FieldElement::ONE, FieldElement::from_u64(977), FieldElement::from_u64(1 << 32)];
        v.push(Option::from(FieldElement::from_bytes(&p_minus.into())).expect("p - 1 is below p"));
        v.push(-FieldElement::from_u64(1 << 32));
        v.push(-FieldElement::from_u64(978));
        for bit in [28u32, 29, 57, 58, 231, 232, 255] {
            v.push(FieldElement::from_u64(2).pow_vartime([bit as u64]));
        }
        v.iter().map(FieldElement::normalize).collect()
    }

    #[test]
    fn edge_values_round_trip_and_multiply() {
        let values = edge_values();
        for a in &values {
            let fa = Field29::from_field(a);
            assert_eq!(fa.to_bytes(), k(a));
            assert_eq!(heavy(&fa).to_bytes(), k(a));
            assert_eq!(fa.negate(1).to_bytes(), k(&-*a));
            for b in &values {
                let fb = Field29::from_field(b);
                let expected = k(&(*a * b));
                assert_eq!(fa.mul(&fb).to_bytes(), expected);
                assert_eq!(heavy(&fa).mul(&heavy(&fb)).to_bytes(), expected);
                assert_eq!(fa.add(&fb).normalize_weak().to_bytes(), k(&(*a + b)));
            }
        }
    }

    /// Values at or above 𝑝 in limbs (not canonical) come out canonical.
    #[test]
    fn non_canonical_limbs_reduce() {
        let p = Field29::ZERO.negate(0).normalize_weak(); // 32𝑝 ≡ 0
        assert_eq!(p.to_bytes(), [0; 32]);
        let mut all = [MASK; 9]; // 2²⁶¹ − 1 ≡ 2³⁷ + 0x7A1F
        assert_eq!(Field29(all).to_bytes(), k(&(FieldElement::from_u64(1 << 37) + FieldElement::from_u64(0x7A1F))));
        all[8] = (1 << 24) - 1; // 2²⁵⁶ − 1 ≡ 2³² + 976
        assert_eq!(Field29(all).to_bytes(), k(&FieldElement::from_u64((1 << 32) + 976)));
    }

    proptest! {
        #[test]
        fn arithmetic_matches_k256(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), small in 0u32..64) {
            let (a, b) = (element(a), element(b));
            let (fa, fb) = (Field29::from_field(&a), Field29::from_field(&b));
            prop_assert_eq!(fa.to_field(), a.normalize());
            prop_assert_eq!(fa.mul(&fb).to_bytes(), k(&(a * b)));
            prop_assert_eq!(heavy(&fa).mul(&heavy(&fb)).to_bytes(), k(&(a * b)));
            prop_assert_eq!(fa.add(&fb).mul(&fb.negate(1)).to_bytes(), k(&((a + b) * -b)));
            prop_assert_eq!(fa.mul_small(small).normalize_weak().to_bytes(), k(&(a * FieldElement::from_u64(small as u64))));
            let one = (small & 1) as u64;
            prop_assert_eq!(Field29::select(&fa, &fb, one.wrapping_neg()).to_bytes(), k(if one == 1 { &b } else { &a }));
        }
    }
}
