//! Variable-time modular inversion (binary extended Euclid) for *blinded* values only.
//!
//! Its running time depends on its input, so callers pass 𝑥·𝑏 for a secret 𝑏 they
//! multiply back afterwards: the time then tells nothing of 𝑥. k256's own variable-time
//! scalar inversion works on 32-bit limbs inside the component (a fifth of a signature);
//! this one works on four 64-bit words, which wasm has natively.

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

fn is_zero(x: &U256) -> bool {
    x.iter().all(|&w| w == 0)
}

fn is_one(x: &U256) -> bool {
    x[0] == 1 && x[1] == 0 && x[2] == 0 && x[3] == 0
}

fn less(a: &U256, b: &U256) -> bool {
    for i in (0..4).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

/// a + b, and the carry out.
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

/// x / 2, with `top` as the bit shifted into the highest place.
fn halve(x: &mut U256, top: bool) {
    for i in 0..3 {
        x[i] = (x[i] >> 1) | (x[i + 1] << 63);
    }
    x[3] = (x[3] >> 1) | ((top as u64) << 63);
}

/// x / 2 mod m, for x < m and m odd.
fn halve_mod(x: &mut U256, m: &U256) {
    if x[0] & 1 == 0 {
        halve(x, false);
    } else {
        let (sum, carry) = add(x, m);
        *x = sum;
        halve(x, carry);
    }
}

/// a − b mod m, for a, b < m.
fn sub_mod(a: &U256, b: &U256, m: &U256) -> U256 {
    let (d, borrow) = sub(a, b);
    if borrow {
        add(&d, m).0
    } else {
        d
    }
}

/// a⁻¹ mod m for an odd prime m and 0 < a < m; `None` for 0 or a ≥ m.
pub(crate) fn invert_vartime(a: &U256, m: &U256) -> Option<U256> {
    if is_zero(a) || !less(a, m) {
        return None;
    }
    // Invariants: x1·a ≡ u and x2·a ≡ v (mod m); gcd(u, v) = gcd(a, m) = 1.
    let (mut u, mut v) = (*a, *m);
    let (mut x1, mut x2): (U256, U256) = ([1, 0, 0, 0], [0; 4]);
    while !is_one(&u) && !is_one(&v) {
        while u[0] & 1 == 0 {
            halve(&mut u, false);
            halve_mod(&mut x1, m);
        }
        while v[0] & 1 == 0 {
            halve(&mut v, false);
            halve_mod(&mut x2, m);
        }
        if less(&u, &v) {
            v = sub(&v, &u).0;
            x2 = sub_mod(&x2, &x1, m);
        } else {
            u = sub(&u, &v).0;
            x1 = sub_mod(&x1, &x2, m);
        }
    }
    Some(if is_one(&u) { x1 } else { x2 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::ops::Reduce;
    use k256::elliptic_curve::PrimeField;
    use k256::{FieldElement, Scalar};
    use proptest::prelude::*;

    fn scalar_inverse(bytes: [u8; 32]) -> Option<[u8; 32]> {
        invert_vartime(&from_be_bytes(&bytes), &ORDER).map(|x| to_be_bytes(&x))
    }

    #[test]
    fn bytes_round_trip_and_constants_are_the_curve_s() {
        let bytes: [u8; 32] = core::array::from_fn(|i| i as u8 * 7 + 1);
        assert_eq!(to_be_bytes(&from_be_bytes(&bytes)), bytes);
        // n − 1 and p − 1 are the largest values each type accepts.
        assert_eq!(to_be_bytes(&sub(&ORDER, &[1, 0, 0, 0]).0), <[u8; 32]>::from((-Scalar::ONE).to_bytes()));
        assert_eq!(to_be_bytes(&sub(&PRIME, &[1, 0, 0, 0]).0), <[u8; 32]>::from((-FieldElement::ONE).normalize().to_bytes()));
    }

    #[test]
    fn edges() {
        assert_eq!(invert_vartime(&[0; 4], &ORDER), None);
        assert_eq!(invert_vartime(&ORDER, &ORDER), None);
        assert_eq!(invert_vartime(&[1, 0, 0, 0], &ORDER), Some([1, 0, 0, 0]));
        for x in [Scalar::from(2u64), -Scalar::ONE, -Scalar::from(2u64), Scalar::from(u64::MAX)] {
            let expected: [u8; 32] = Option::<Scalar>::from(x.invert()).unwrap().to_bytes().into();
            assert_eq!(scalar_inverse(x.to_bytes().into()), Some(expected));
        }
        let p_minus_1 = sub(&PRIME, &[1, 0, 0, 0]).0;
        assert_eq!(invert_vartime(&p_minus_1, &PRIME), Some(p_minus_1)); // (−1)⁻¹ = −1
    }

    proptest! {
        #[test]
        fn scalars_match_k256(bytes in any::<[u8; 32]>()) {
            let x = <Scalar as Reduce<k256::U256>>::reduce_bytes(&bytes.into());
            let expected = Option::<Scalar>::from(x.invert()).map(|i| <[u8; 32]>::from(i.to_bytes()));
            prop_assert_eq!(scalar_inverse(x.to_bytes().into()), expected);
        }

        #[test]
        fn field_elements_match_k256(bytes in any::<[u8; 32]>()) {
            let Some(x) = Option::<FieldElement>::from(FieldElement::from_bytes(&bytes.into())) else { return Ok(()) };
            let expected = Option::<FieldElement>::from(x.invert()).map(|i| <[u8; 32]>::from(i.normalize().to_bytes()));
            prop_assert_eq!(invert_vartime(&from_be_bytes(&bytes), &PRIME).map(|i| to_be_bytes(&i)), expected);
        }
    }

    #[test]
    fn scalar_from_repr_takes_the_result() {
        let x = Scalar::from(12345u64);
        let inv = Scalar::from_repr(scalar_inverse(x.to_bytes().into()).unwrap().into()).unwrap();
        assert_eq!(inv * x, Scalar::ONE);
    }
}
