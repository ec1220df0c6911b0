//! Variable-time modular inversion (Kaliski's almost inverse, a binary extended
//! Euclid) for *blinded* values only.
//!
//! Its running time depends on its input, so callers pass 𝑥·𝑏 for a secret 𝑏 they
//! multiply back afterwards: the time then tells nothing of 𝑥. k256's inversions are a
//! constant-time addition chain (about 270 field squarings) or, for scalars, a binary
//! Euclid on 32-bit limbs inside the component; this one works on four 64-bit words,
//! which wasm has natively, and only shifts, adds and subtracts in its loop.

use std::sync::OnceLock;

use k256::elliptic_curve::{Field, PrimeField};
use k256::{FieldElement, Scalar};

/// A 256-bit number, least significant word first.
pub(crate) type U256 = [u64; 4];

/// The secp256k1 group order 𝑛.
pub(crate) const ORDER: U256 = [0xBFD2_5E8C_D036_4141, 0xBAAE_DCE6_AF48_A03B, 0xFFFF_FFFF_FFFF_FFFE, 0xFFFF_FFFF_FFFF_FFFF];
/// The secp256k1 field prime 𝑝.
pub(crate) const PRIME: U256 = [0xFFFF_FFFE_FFFF_FC2F, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF];

pub(crate) fn from_be_bytes(bytes: &[u8; 32]) -> U256 {
    let mut out = [0u64; 4];
    for (i, word) in out.iter_mut().enumerate() {
        let start = 32 - 8 * (i + 1);
        *word = u64::from_be_bytes(bytes[start..start + 8].try_into().expect("8 bytes"));
    }
    out
}

pub(crate) fn to_be_bytes(x: &U256) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, word) in x.iter().enumerate() {
        let start = 32 - 8 * (i + 1);
        out[start..start + 8].copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[inline(always)]
fn is_zero(x: &U256) -> bool {
    x.iter().all(|&w| w == 0)
}

#[inline(always)]
fn less(a: &U256, b: &U256) -> bool {
    for i in (0..4).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

/// a + b, and the carry out.
#[inline(always)]
fn add(a: &U256, b: &U256) -> (U256, bool) {
    let mut out = [0u64; 4];
    let mut carry = false;
    for i in 0..4 {
        let (s, c1) = a[i].overflowing_add(b[i]);
        let (s, c2) = s.overflowing_add(carry as u64);
        out[i] = s;
        carry = c1 | c2;
    }
    (out, carry)
}

/// a − b, and the borrow out.
#[inline(always)]
fn sub(a: &U256, b: &U256) -> (U256, bool) {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for i in 0..4 {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(borrow as u64);
        out[i] = d;
        borrow = b1 | b2;
    }
    (out, borrow)
}

/// x / 2^n for 0 < n < 256.
#[inline(always)]
fn shift_right(x: &mut U256, n: u32) {
    let (words, bits) = ((n / 64) as usize, n % 64);
    for i in 0..4 {
        let lo = x.get(i + words).copied().unwrap_or(0);
        let hi = x.get(i + words + 1).copied().unwrap_or(0);
        x[i] = if bits == 0 { lo } else { (lo >> bits) | (hi << (64 - bits)) };
    }
}

/// x · 2^n for 0 < n < 256, the bits above 2^256 dropped.
#[inline(always)]
fn shift_left(x: &mut U256, n: u32) {
    let (words, bits) = ((n / 64) as usize, n % 64);
    for i in (0..4).rev() {
        let hi = if i >= words { x[i - words] } else { 0 };
        let lo = if i > words { x[i - words - 1] } else { 0 };
        x[i] = if bits == 0 { hi } else { (hi << bits) | (lo >> (64 - bits)) };
    }
}

#[inline(always)]
fn trailing_zeros(x: &U256) -> u32 {
    let mut n = 0;
    for &w in x {
        if w != 0 {
            return n + w.trailing_zeros();
        }
        n += 64;
    }
    n
}

/// The "almost inverse" (Kaliski 1995): (a⁻¹·2^𝑗 mod m, 𝑗) for an odd prime m and
/// 0 < a < m, with 256 ≤ 𝑗 ≤ 512. Its loop only shifts, adds and subtracts, without
/// reducing mod m; the caller takes the 2^𝑗 out with one multiplication (see
/// [`power_of_two`]). `None` for 0 or a ≥ m.
pub(crate) fn almost_inverse_vartime(a: &U256, m: &U256) -> Option<(U256, u32)> {
    if is_zero(a) || !less(a, m) {
        return None;
    }
    // Invariant: u·s + v·r = m, so r, s ≤ m until the last step doubles r; u, v odd at
    // the top of the loop; gcd(u, v) = gcd(a, m) = 1.
    let (mut u, mut v) = (*m, *a);
    let (mut r, mut s): (U256, U256) = ([0; 4], [1, 0, 0, 0]);
    let mut j = trailing_zeros(&v);
    if j > 0 {
        shift_right(&mut v, j); // r is 0: doubling it changes nothing
    }
    loop {
        if less(&v, &u) {
            u = sub(&u, &v).0;
            r = add(&r, &s).0;
            let zeros = trailing_zeros(&u);
            shift_right(&mut u, zeros);
            shift_left(&mut s, zeros);
            j += zeros;
        } else if less(&u, &v) {
            v = sub(&v, &u).0;
            s = add(&s, &r).0;
            let zeros = trailing_zeros(&v);
            shift_right(&mut v, zeros);
            shift_left(&mut r, zeros);
            j += zeros;
        } else {
            // u = v = 1: the last step, v → 0, doubles r, which may pass 2^256.
            let (doubled, carry) = add(&r, &r);
            let (reduced, borrow) = sub(&doubled, m);
            r = if carry || !borrow { reduced } else { doubled };
            j += 1;
            break;
        }
    }
    Some((if is_zero(&r) { r } else { sub(m, &r).0 }, j))
}

/// 2^𝑛 mod m for 𝑛 ≤ 256 and m between 2^255 and 2^256.
pub(crate) fn power_of_two(n: u32, m: &U256) -> U256 {
    if n == 256 {
        return sub(&[0; 4], m).0; // 2^256 − m
    }
    let mut x = [0u64; 4];
    x[(n / 64) as usize] = 1 << (n % 64);
    x
}

/// 𝑥⁻¹ for a scalar, in time that depends on 𝑥 (pass a blinded one); `None` for 0.
pub(crate) fn invert_scalar_vartime(x: &Scalar) -> Option<Scalar> {
    static INV_2_POW_512: OnceLock<Scalar> = OnceLock::new();
    let (almost, j) = almost_inverse_vartime(&from_be_bytes(&x.to_bytes().into()), &ORDER)?;
    if j > 512 {
        return x.invert().into(); // beyond Kaliski's bound: never happens
    }
    let almost = Option::<Scalar>::from(Scalar::from_repr(to_be_bytes(&almost).into()))?;
    let factor = Option::<Scalar>::from(Scalar::from_repr(to_be_bytes(&power_of_two(512 - j, &ORDER)).into()))?;
    let c = INV_2_POW_512.get_or_init(|| Scalar::from(2u64).invert().unwrap().pow_vartime([512]));
    Some(almost * factor * c)
}

/// 𝑥⁻¹ for a field element, in time that depends on 𝑥 (pass a blinded one); `None`
/// for 0. The result is normalized.
pub(crate) fn invert_field_vartime(x: &FieldElement) -> Option<FieldElement> {
    static INV_2_POW_512: OnceLock<FieldElement> = OnceLock::new();
    let (almost, j) = almost_inverse_vartime(&from_be_bytes(&x.normalize().to_bytes().into()), &PRIME)?;
    if j > 512 {
        return Option::<FieldElement>::from(x.invert()).map(|i| i.normalize()); // never happens
    }
    let almost = Option::<FieldElement>::from(FieldElement::from_bytes(&to_be_bytes(&almost).into()))?;
    let factor = Option::<FieldElement>::from(FieldElement::from_bytes(&to_be_bytes(&power_of_two(512 - j, &PRIME)).into()))?;
    let c = INV_2_POW_512.get_or_init(|| FieldElement::from(2u64).invert().unwrap().pow_vartime([512]));
    Some((almost * &factor * c).normalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::ops::Reduce;
    use proptest::prelude::*;

    #[test]
    fn bytes_round_trip_and_constants_are_the_curve_s() {
        let bytes: [u8; 32] = core::array::from_fn(|i| i as u8 * 7 + 1);
        assert_eq!(to_be_bytes(&from_be_bytes(&bytes)), bytes);
        // n − 1 and p − 1 are the largest values each type accepts.
        assert_eq!(to_be_bytes(&sub(&ORDER, &[1, 0, 0, 0]).0), <[u8; 32]>::from((-Scalar::ONE).to_bytes()));
        assert_eq!(to_be_bytes(&sub(&PRIME, &[1, 0, 0, 0]).0), <[u8; 32]>::from((-FieldElement::ONE).normalize().to_bytes()));
    }

    #[test]
    fn shifts() {
        let x: U256 = [0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210, 0x1111_2222_3333_4444, 0x8000_0000_0000_0001];
        for n in [1u32, 5, 63, 64, 65, 127, 128, 200, 255] {
            let mut r = x;
            shift_right(&mut r, n);
            let mut l = r;
            shift_left(&mut l, n);
            // Right then left clears the low n bits and nothing else.
            let mut expected = x;
            for (i, w) in expected.iter_mut().enumerate() {
                let low = (n as usize).saturating_sub(64 * i).min(64);
                *w &= if low == 64 { 0 } else { !0u64 << low };
            }
            assert_eq!(l, expected, "n = {n}");
        }
        assert_eq!(trailing_zeros(&[0, 0, 8, 0]), 131);
    }

    #[test]
    fn edges() {
        assert_eq!(invert_scalar_vartime(&Scalar::ZERO), None);
        assert_eq!(invert_field_vartime(&FieldElement::ZERO), None);
        assert_eq!(almost_inverse_vartime(&ORDER, &ORDER), None);
        for x in [Scalar::ONE, Scalar::from(2u64), -Scalar::ONE, -Scalar::from(2u64), Scalar::from(u64::MAX)] {
            assert_eq!(invert_scalar_vartime(&x), Option::<Scalar>::from(x.invert()));
        }
        for x in [FieldElement::ONE, FieldElement::from(2u64), -FieldElement::ONE, FieldElement::from(u64::MAX)] {
            let expected = Option::<FieldElement>::from(x.invert()).unwrap().normalize();
            assert_eq!(invert_field_vartime(&x).unwrap().to_bytes(), expected.to_bytes());
        }
        assert_eq!(power_of_two(256, &PRIME), [0x1_0000_03D1, 0, 0, 0]);
        assert_eq!(power_of_two(70, &ORDER), [0, 64, 0, 0]);
    }

    proptest! {
        #[test]
        fn scalars_match_k256(bytes in any::<[u8; 32]>()) {
            let x = <Scalar as Reduce<k256::U256>>::reduce_bytes(&bytes.into());
            prop_assert_eq!(invert_scalar_vartime(&x), Option::<Scalar>::from(x.invert()));
        }

        #[test]
        fn field_elements_match_k256(bytes in any::<[u8; 32]>()) {
            let Some(x) = Option::<FieldElement>::from(FieldElement::from_bytes(&bytes.into())) else { return Ok(()) };
            let expected = Option::<FieldElement>::from(x.invert()).map(|i| i.normalize().to_bytes());
            prop_assert_eq!(invert_field_vartime(&x).map(|i| i.to_bytes()), expected);
        }

        /// Small and sparse values take the longest and shortest paths through the loop.
        #[test]
        fn sparse_values_match_k256(bit in 0u32..256, low in any::<u64>()) {
            let x = Scalar::from(2u64).pow_vartime([bit as u64]) + Scalar::from(low);
            prop_assert_eq!(invert_scalar_vartime(&x), Option::<Scalar>::from(x.invert()));
            let f = FieldElement::from(2u64).pow_vartime([bit as u64]) + FieldElement::from(low);
            let expected = Option::<FieldElement>::from(f.invert()).map(|i| i.normalize().to_bytes());
            prop_assert_eq!(invert_field_vartime(&f).map(|i| i.to_bytes()), expected);
        }
    }
}
