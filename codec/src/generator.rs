//! 𝑘×𝑮 for signatures and key derivation, from a table of multiples of 𝑮.
//!
//! k256's own table keeps projective points, scans them with a constant-time choice per
//! limb, and halves its size with four doublings at the end; inside the component
//! (32-bit field limbs) every field multiplication counts. Here each of the 52 signed
//! 5-bit digits of 𝑘 picks one of sixteen *affine* points `j·32^i·𝑮` (a constant-time
//! scan of the window as plain words, then a conditional negation) and adds it with the
//! complete mixed addition of Renes, Costello and Batina (2015, Algorithm 8, for 𝑎 = 0):
//! 52 mixed additions, no doublings, no exceptional cases (a zero digit keeps the sum as
//! it was, chosen in constant time). Nothing branches on or indexes memory by 𝑘. The
//! point stays projective so that signing can blind its 𝑍 before inverting it
//! ([`Point::to_affine_blinded`]).
//!
//! The table (832 points, 53 KB) is computed once per instance, on first use, and
//! checked against k256 in the tests.

use std::sync::OnceLock;

use k256::elliptic_curve::group::prime::PrimeCurveAffine;
use k256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use k256::elliptic_curve::subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use k256::elliptic_curve::BatchNormalize;
use k256::{AffinePoint, EncodedPoint, FieldElement, ProjectivePoint, Scalar};

use crate::inverse;

/// Bits per digit. Wider windows mean fewer additions but longer scans: inside the
/// component 5 bits is the cheapest (BENCHMARKS.md).
const WIDTH: usize = 5;
/// Signed digits of a scalar below 2^256, the last one taking the final carry.
const WINDOWS: usize = 256 / WIDTH + 1;
/// Multiples per window: digits are in [-2^(WIDTH-1), 2^(WIDTH-1)).
const PER_WINDOW: usize = 1 << (WIDTH - 1);

/// An affine point, both coordinates normalized. (For a zero digit the scan yields
/// (0, 0), not a point; the sum made with it is discarded.)
#[derive(Clone, Copy)]
struct Affine {
    x: FieldElement,
    y: FieldElement,
}

/// A point in homogeneous projective coordinates (x = X/Z, y = Y/Z), each of
/// magnitude 1; the identity is (0 : 1 : 0).
#[derive(Clone, Copy)]
pub(crate) struct Point {
    x: FieldElement,
    y: FieldElement,
    z: FieldElement,
}

impl Point {
    const IDENTITY: Point = Point { x: FieldElement::ZERO, y: FieldElement::ONE, z: FieldElement::ZERO };

    /// self + q, complete (RCB 2015, Algorithm 8; 3𝑏 = 21), the magnitudes kept within
    /// what k256's field arithmetic takes (its debug builds check them).
    fn add_affine(&self, q: &Affine) -> Point {
        let xx = self.x * &q.x;
        let yy = self.y * &q.y;
        let xy = (self.x + &self.y) * &(q.x + &q.y) + &(xx + &yy).negate(2); // X1·Y2 + X2·Y1
        let yz = q.y * &self.z + &self.y; // Y1 + Y2·Z1
        let xz = q.x * &self.z + &self.x; // X1 + X2·Z1
        let bz = self.z.mul_single(7);
        let b3z = (bz.double() + &bz).normalize_weak();
        let yy_plus = yy + &b3z;
        let yy_minus = yy + &b3z.negate(1);
        let bxz = xz.mul_single(7).normalize_weak();
        let b3xz = (bxz.double() + &bxz).normalize_weak();
        let xx3 = xx.double() + &xx;
        Point {
            x: (xy * &yy_minus + &(yz * &b3xz).negate(1)).normalize_weak(),
            y: (yy_minus * &yy_plus + &(b3xz * &xx3)).normalize_weak(),
            z: (yy_plus * &yz + &(xx3 * &xy)).normalize_weak(),
        }
    }

    /// self + 𝑮.
    pub(crate) fn add_generator(&self) -> Point {
        self.add_affine(&table().generator)
    }

    fn conditional_select(a: &Point, b: &Point, choice: Choice) -> Point {
        Point {
            x: FieldElement::conditional_select(&a.x, &b.x, choice),
            y: FieldElement::conditional_select(&a.y, &b.y, choice),
            z: FieldElement::conditional_select(&a.z, &b.z, choice),
        }
    }

    /// (x, y), normalized, through a variable-time inversion of 𝑍·`blinding`
    /// ([`crate::inverse`]): `blinding` must be secret and non-zero, and is multiplied
    /// back out. `None` for the identity (or a zero `blinding`).
    pub(crate) fn to_affine_blinded(&self, blinding: &FieldElement) -> Option<(FieldElement, FieldElement)> {
        let z_inv = inverse::invert_field_vartime(&(self.z * blinding))? * blinding;
        Some(((self.x * &z_inv).normalize(), (self.y * &z_inv).normalize()))
    }

    /// The affine point, through k256's constant-time inversion.
    pub(crate) fn to_affine(&self) -> AffinePoint {
        let Some(z_inv) = Option::<FieldElement>::from(self.z.invert()) else {
            return AffinePoint::IDENTITY;
        };
        let x = (self.x * &z_inv).normalize().to_bytes();
        let y = (self.y * &z_inv).normalize().to_bytes();
        let encoded = EncodedPoint::from_affine_coordinates(&x, &y, false);
        Option::from(AffinePoint::from_encoded_point(&encoded)).expect("the sum of points on the curve is on the curve")
    }
}

/// x ‖ y of one multiple, big-endian 64-bit words: plain words scan faster than field
/// elements (one mask a candidate, eight words).
type Entry = [u64; 8];

struct Table {
    windows: Vec<[Entry; PER_WINDOW]>,
    generator: Affine,
}

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
            for _ in 0..WIDTH {
                base = base.double();
            }
        }
        let affine: Vec<AffinePoint> = ProjectivePoint::batch_normalize(points.as_slice());
        let entries: Vec<Entry> = affine.iter().map(entry).collect();
        Table {
            windows: entries.chunks_exact(PER_WINDOW).map(|w| w.try_into().expect("chunks of PER_WINDOW")).collect(),
            generator: affine_of(&entries[0]),
        }
    })
}

fn entry(p: &AffinePoint) -> Entry {
    debug_assert!(!bool::from(p.is_identity()), "multiples of G below its order are not the identity");
    let encoded = p.to_encoded_point(false);
    let mut out = [0u64; 8];
    for (i, word) in encoded.as_bytes()[1..].chunks_exact(8).enumerate() {
        out[i] = u64::from_be_bytes(word.try_into().expect("8 bytes"));
    }
    out
}

fn affine_of(e: &Entry) -> Affine {
    let mut bytes = [0u8; 64];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(e) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    let coordinate = |b: &[u8]| FieldElement::from_bytes(k256::FieldBytes::from_slice(b)).unwrap_or(FieldElement::ZERO);
    Affine { x: coordinate(&bytes[..32]), y: coordinate(&bytes[32..]) }
}

/// 𝑘 = Σ dᵢ·2^(WIDTH·i) with every dᵢ in [-2^(WIDTH-1), 2^(WIDTH-1)), computed without
/// branches on 𝑘.
fn digits(k: &Scalar) -> [i8; WINDOWS] {
    let words = inverse::from_be_bytes(&k.to_bytes().into());
    let mut d = [0i8; WINDOWS];
    for (i, digit) in d.iter_mut().enumerate() {
        let (word, offset) = ((i * WIDTH) / 64, (i * WIDTH) % 64);
        let mut bits = words.get(word).map_or(0, |w| w >> offset);
        if offset + WIDTH > 64 {
            bits |= words.get(word + 1).map_or(0, |w| w << (64 - offset));
        }
        *digit = (bits & ((1 << WIDTH) - 1)) as i8;
    }
    for i in 0..WINDOWS - 1 {
        let carry = (d[i] + (1 << (WIDTH - 1))) >> WIDTH;
        d[i] -= carry << WIDTH;
        d[i + 1] += carry;
    }
    d
}

/// `digit·2^(WIDTH·i)·𝑮` scanning the whole window, and whether `digit` is zero (the
/// point is then a stand-in, to be ignored).
fn select(window: &[Entry; PER_WINDOW], digit: i8) -> (Affine, Choice) {
    let negative = digit >> 7; // all ones when negative
    let magnitude = ((digit ^ negative) - negative) as u8;
    // One optimization barrier for the window, not one a candidate (in wasm each is a
    // round trip through the stack): the masks are arithmetic on a value the compiler
    // cannot see, all ones for the candidate whose number it is and zero for the others.
    let hidden = core::hint::black_box(magnitude as u64);
    let mut picked = [0u64; 8];
    for (j, candidate) in window.iter().enumerate() {
        let mask = ((hidden ^ (j as u64 + 1)).wrapping_sub(1) >> 63).wrapping_neg();
        for (p, c) in picked.iter_mut().zip(candidate) {
            *p |= c & mask;
        }
    }
    let mut point = affine_of(&picked);
    let flip = Choice::from((negative & 1) as u8);
    point.y = FieldElement::conditional_select(&point.y, &point.y.negate(1).normalize_weak(), flip);
    (point, magnitude.ct_eq(&0))
}

/// 𝑘×𝑮, in constant time.
pub(crate) fn mul_generator(k: &Scalar) -> Point {
    let table = table();
    let digits = digits(k);
    let mut acc = Point::IDENTITY;
    for (window, &digit) in table.windows.iter().zip(digits.iter()) {
        let (q, zero) = select(window, digit);
        acc = Point::conditional_select(&acc.add_affine(&q), &acc, zero);
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

    /// The blinded conversion gives the same coordinates whatever the blinding.
    fn assert_blinded_matches(p: &Point, expected: &AffinePoint) {
        for blinding in [FieldElement::ONE, FieldElement::from_u64(0xdead_beef), -FieldElement::ONE] {
            match p.to_affine_blinded(&blinding) {
                None => assert!(bool::from(expected.is_identity())),
                Some((x, y)) => {
                    let encoded = expected.to_encoded_point(false);
                    assert_eq!((x.to_bytes(), y.to_bytes()), (*encoded.x().unwrap(), *encoded.y().unwrap()));
                }
            }
        }
        assert_eq!(p.to_affine_blinded(&FieldElement::ZERO), None);
    }

    #[test]
    fn adding_the_generator_steps_to_the_next_scalar() {
        let mut k = Scalar::from(3u64);
        let mut p = mul_generator(&k);
        for _ in 0..20 {
            p = p.add_generator();
            k += Scalar::ONE;
            assert_eq!(p.to_affine(), k256_says(&k));
        }
        // Through the identity and out again: −1·G + G, then + G.
        let minus_one = mul_generator(&-Scalar::ONE);
        assert_eq!(minus_one.add_generator().to_affine(), AffinePoint::IDENTITY);
        assert_eq!(minus_one.add_generator().add_generator().to_affine(), k256_says(&Scalar::ONE));
        // Doubling through the mixed addition: G + G.
        assert_eq!(mul_generator(&Scalar::ONE).add_generator().to_affine(), k256_says(&Scalar::from(2u64)));
    }

    #[test]
    fn digits_add_up_to_the_scalar() {
        let radix = Scalar::from(1u64 << WIDTH);
        let half = 1i8 << (WIDTH - 1);
        let all_half = Scalar::from_repr([0x88; 32].into()).unwrap();
        for k in [Scalar::ZERO, Scalar::ONE, -Scalar::ONE, Scalar::from(half as u64), Scalar::from(0x8888_8888u64), -Scalar::from(7u64), all_half] {
            let d = digits(&k);
            assert!(d.iter().all(|&x| (-half..half).contains(&x)), "{d:?}");
            let back = d.iter().rev().fold(Scalar::ZERO, |acc, &x| {
                acc * radix + if x < 0 { -Scalar::from((-x) as u64) } else { Scalar::from(x as u64) }
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
            assert_blinded_matches(&mul_generator(&k), &k256_says(&k));
        }
    }

    proptest! {
        #[test]
        fn random_scalars_match_k256(bytes in any::<[u8; 32]>()) {
            let k = <Scalar as k256::elliptic_curve::ops::Reduce<k256::U256>>::reduce_bytes(&bytes.into());
            prop_assert_eq!(mul_generator(&k).to_affine(), k256_says(&k));
            assert_blinded_matches(&mul_generator(&k), &k256_says(&k));
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
