//! 𝑘×𝑮 for signatures and key derivation, from a table of multiples of 𝑮.
//!
//! k256's own table keeps projective points and halves its size with four doublings at
//! the end; inside the component (32-bit field limbs) every field multiplication counts.
//! Here each of the 65 signed radix-16 digits of 𝑘 picks one of eight *affine* points
//! `j·16^i·𝑮` (a constant-time scan of the window, then a conditional negation) and adds
//! it with k256's complete mixed addition: 65 mixed additions, no doublings, and no
//! exceptional cases to handle (the formulas are complete; a zero digit picks the
//! identity, which the mixed addition passes over in constant time). Nothing branches on
//! or indexes memory by 𝑘.
//!
//! The table (520 points, about 43 KB) is computed once per instance, on first use.

use std::sync::OnceLock;

use k256::elliptic_curve::subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use k256::elliptic_curve::BatchNormalize;
use k256::{AffinePoint, ProjectivePoint, Scalar};

/// Signed radix-16 digits of a scalar below 2^256: 64 nibbles and a final carry.
const WINDOWS: usize = 65;
/// Multiples per window: digits are in [-8, 8).
const PER_WINDOW: usize = 8;

struct Table(Vec<[AffinePoint; PER_WINDOW]>);

static TABLE: OnceLock<Table> = OnceLock::new();

fn table() -> &'static Table {
    TABLE.get_or_init(|| {
        let mut points = Vec::with_capacity(WINDOWS * PER_WINDOW);
        let mut base = ProjectivePoint::GENERATOR;
        for _ in 0..WINDOWS {
            let mut multiple = base;
            for _ in 0..PER_WINDOW {
                points.push(multiple);
                multiple += base;
            }
            base = base.double().double().double().double();
        }
        let affine: Vec<AffinePoint> = ProjectivePoint::batch_normalize(points.as_slice());
        Table(affine.chunks_exact(PER_WINDOW).map(|w| w.try_into().expect("chunks of PER_WINDOW")).collect())
    })
}

/// 𝑘 = Σ dᵢ·16^i with every dᵢ in [-8, 8) (the last one 0 or 1), computed without
/// branches.
fn digits(k: &Scalar) -> [i8; WINDOWS] {
    let bytes = k.to_bytes();
    let mut d = [0i8; WINDOWS];
    for (i, byte) in bytes.iter().rev().enumerate() {
        d[2 * i] = (byte & 0x0f) as i8;
        d[2 * i + 1] = (byte >> 4) as i8;
    }
    for i in 0..WINDOWS - 1 {
        let carry = (d[i] + 8) >> 4;
        d[i] -= carry << 4;
        d[i + 1] += carry;
    }
    d
}

/// `digit·16^i·𝑮` for `digit` in [-8, 8], scanning the whole window.
fn select(window: &[AffinePoint; PER_WINDOW], digit: i8) -> AffinePoint {
    let negative = digit >> 7; // all ones when negative
    let magnitude = ((digit ^ negative) - negative) as u8;
    let mut point = AffinePoint::IDENTITY;
    for (j, candidate) in window.iter().enumerate() {
        point.conditional_assign(candidate, magnitude.ct_eq(&(j as u8 + 1)));
    }
    let flip = Choice::from((negative & 1) as u8);
    AffinePoint::conditional_select(&point, &-point, flip)
}

/// 𝑘×𝑮, in constant time.
pub(crate) fn mul_generator(k: &Scalar) -> ProjectivePoint {
    let table = table();
    let digits = digits(k);
    let mut acc = ProjectivePoint::IDENTITY;
    for (window, &digit) in table.0.iter().zip(digits.iter()) {
        acc += select(window, digit);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::ops::MulByGenerator;
    use k256::elliptic_curve::{Field, PrimeField};
    use sha2::Digest;
    use proptest::prelude::*;

    fn k256_says(k: &Scalar) -> AffinePoint {
        ProjectivePoint::mul_by_generator(k).to_affine()
    }

    #[test]
    fn digits_add_up_to_the_scalar() {
        let sixteen = Scalar::from(16u64);
        for k in [Scalar::ZERO, Scalar::ONE, -Scalar::ONE, Scalar::from(8u64), Scalar::from(0x8888_8888u64), -Scalar::from(7u64)] {
            let d = digits(&k);
            assert!(d[..WINDOWS - 1].iter().all(|&x| (-8..8).contains(&x)) && (0..=1).contains(&d[WINDOWS - 1]));
            let back = d.iter().rev().fold(Scalar::ZERO, |acc, &x| {
                acc * sixteen + if x < 0 { -Scalar::from((-x) as u64) } else { Scalar::from(x as u64) }
            });
            assert_eq!(back, k);
        }
    }

    #[test]
    fn edge_scalars_match_k256() {
        let mut cases = vec![Scalar::ZERO, Scalar::ONE, Scalar::from(2u64), -Scalar::ONE, -Scalar::from(2u64), Scalar::from(8u64)];
        // Every digit +8 before recoding (0x88…), every digit -8 after, single high bits.
        cases.push(Scalar::from_repr([0x88; 32].into()).unwrap());
        cases.push(Scalar::from_repr([0x77; 32].into()).unwrap());
        for bit in [0u32, 3, 4, 63, 64, 127, 128, 252, 255] {
            cases.push(Scalar::from(2u64).pow_vartime([bit as u64]));
        }
        for k in cases {
            assert_eq!(mul_generator(&k).to_affine(), k256_says(&k), "k = {:?}", k.to_bytes());
        }
    }

    proptest! {
        #[test]
        fn random_scalars_match_k256(bytes in any::<[u8; 32]>()) {
            let k = <Scalar as k256::elliptic_curve::ops::Reduce<k256::U256>>::reduce_bytes(&bytes.into());
            prop_assert_eq!(mul_generator(&k).to_affine(), k256_says(&k));
        }
    }

    #[test]
    fn consecutive_scalars_match_k256() {
        let seed: [u8; 32] = sha2::Sha256::digest(b"consecutive").into();
        let mut k = <Scalar as k256::elliptic_curve::ops::Reduce<k256::U256>>::reduce_bytes(&seed.into());
        for _ in 0..64 {
            assert_eq!(mul_generator(&k).to_affine(), k256_says(&k));
            k += Scalar::ONE;
        }
    }
}
