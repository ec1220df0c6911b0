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
//! ([`PointIn::to_affine_blinded`]).
//!
//! The additions run in k256's field natively and in `field29`'s inside wasm (see
//! [`Coordinate`]); the tests run both natively against k256.
//!
//! The table (832 points; 53 KB natively, 60 KB inside wasm) is computed once per
//! instance, on first use.

use std::sync::OnceLock;

use k256::elliptic_curve::group::prime::PrimeCurveAffine;
use k256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use k256::elliptic_curve::subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use k256::elliptic_curve::BatchNormalize;
use k256::{AffinePoint, EncodedPoint, FieldElement, ProjectivePoint, Scalar};

#[cfg(any(target_arch = "wasm32", test))]
use crate::field29::Field29;
use crate::inverse;

/// Bits per digit. Wider windows mean fewer additions but longer scans: inside the
/// component 5 bits is the cheapest (BENCHMARKS.md).
const WIDTH: usize = 5;
/// Signed digits of a scalar below 2^256, the last one taking the final carry.
const WINDOWS: usize = 256 / WIDTH + 1;
/// Multiples per window: digits are in [-2^(WIDTH-1), 2^(WIDTH-1)).
const PER_WINDOW: usize = 1 << (WIDTH - 1);

/// The field the additions run in: k256's natively, [`Field29`] inside wasm, where
/// k256's has 32-bit limbs. Magnitudes as k256 counts them (see [`crate::field29`]).
pub(crate) trait Coordinate: Copy {
    const ZERO: Self;
    const ONE: Self;
    /// A table entry: 𝑥 and 𝑦 of a multiple as plain words, for the constant-time scan.
    type Entry: Copy + Default + AsRef<[u64]> + AsMut<[u64]>;
    /// Magnitude 1 out; inputs of magnitude at most [`Coordinate::mul_ready`]'s.
    fn mul(&self, rhs: &Self) -> Self;
    fn add(&self, rhs: &Self) -> Self;
    /// −self, magnitude `magnitude` + 1, for self of magnitude at most `magnitude`.
    fn negate(&self, magnitude: u32) -> Self;
    /// 3𝑏·self = 21·self, magnitude 1, for self of magnitude at most 2.
    fn mul_3b(&self) -> Self;
    fn normalize_weak(&self) -> Self;
    /// A value of magnitude at most 4 made fit to multiply.
    fn mul_ready(&self) -> Self;
    /// `b` where `choice` is set.
    fn select(a: &Self, b: &Self, choice: Choice) -> Self;
    fn to_field(&self) -> FieldElement;
    fn pack(x: &FieldElement, y: &FieldElement) -> Self::Entry;
    /// (𝑥, 𝑦), magnitude 1; for the all-zero entry (a zero digit), a stand-in.
    fn unpack(entry: &Self::Entry) -> (Self, Self);
}

impl Coordinate for FieldElement {
    const ZERO: Self = FieldElement::ZERO;
    const ONE: Self = FieldElement::ONE;
    /// Big-endian 64-bit words of 𝑥 ‖ 𝑦.
    type Entry = [u64; 8];
    fn mul(&self, rhs: &Self) -> Self {
        self * rhs
    }
    fn add(&self, rhs: &Self) -> Self {
        self + rhs
    }
    fn negate(&self, magnitude: u32) -> Self {
        FieldElement::negate(self, magnitude)
    }
    fn mul_3b(&self) -> Self {
        let b = self.mul_single(7).normalize_weak();
        (b.double() + &b).normalize_weak()
    }
    fn normalize_weak(&self) -> Self {
        FieldElement::normalize_weak(self)
    }
    fn mul_ready(&self) -> Self {
        *self // k256 multiplies inputs up to magnitude 8
    }
    fn select(a: &Self, b: &Self, choice: Choice) -> Self {
        FieldElement::conditional_select(a, b, choice)
    }
    fn to_field(&self) -> FieldElement {
        *self
    }
    fn pack(x: &FieldElement, y: &FieldElement) -> [u64; 8] {
        let mut out = [0u64; 8];
        for (i, word) in x.to_bytes().chunks_exact(8).chain(y.to_bytes().chunks_exact(8)).enumerate() {
            out[i] = u64::from_be_bytes(word.try_into().expect("8 bytes"));
        }
        out
    }
    fn unpack(e: &[u64; 8]) -> (Self, Self) {
        let mut bytes = [0u8; 64];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(e) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        let coordinate = |b: &[u8]| FieldElement::from_bytes(k256::FieldBytes::from_slice(b)).unwrap_or(FieldElement::ZERO);
        (coordinate(&bytes[..32]), coordinate(&bytes[32..]))
    }
}

#[cfg(any(target_arch = "wasm32", test))]
impl Coordinate for Field29 {
    const ZERO: Self = Field29::ZERO;
    const ONE: Self = Field29::ONE;
    /// Limb 𝑖 of 𝑥 in the low half of word 𝑖, of 𝑦 in the high half: no conversion
    /// after the scan.
    type Entry = [u64; 9];
    fn mul(&self, rhs: &Self) -> Self {
        Field29::mul(self, rhs)
    }
    fn add(&self, rhs: &Self) -> Self {
        Field29::add(self, rhs)
    }
    fn negate(&self, magnitude: u32) -> Self {
        Field29::negate(self, magnitude)
    }
    fn mul_3b(&self) -> Self {
        self.mul_small(21).normalize_weak()
    }
    fn normalize_weak(&self) -> Self {
        Field29::normalize_weak(self)
    }
    fn mul_ready(&self) -> Self {
        Field29::normalize_weak(self)
    }
    fn select(a: &Self, b: &Self, choice: Choice) -> Self {
        Field29::select(a, b, (choice.unwrap_u8() as u64).wrapping_neg())
    }
    fn to_field(&self) -> FieldElement {
        Field29::to_field(self)
    }
    fn pack(x: &FieldElement, y: &FieldElement) -> [u64; 9] {
        let (x, y) = (Field29::from_field(x), Field29::from_field(y));
        let mut out = [0u64; 9];
        for (word, (lx, ly)) in out.iter_mut().zip(x.limbs().iter().zip(y.limbs())) {
            *word = lx | ly << 32;
        }
        out
    }
    fn unpack(e: &[u64; 9]) -> (Self, Self) {
        (Field29::from_limbs(e.map(|w| w & 0xFFFF_FFFF)), Field29::from_limbs(e.map(|w| w >> 32)))
    }
}

/// The field of this build: see [`Coordinate`].
#[cfg(target_arch = "wasm32")]
type Fe = Field29;
#[cfg(not(target_arch = "wasm32"))]
type Fe = FieldElement;

/// An affine point, magnitude 1. (For a zero digit the scan yields (0, 0), not a
/// point; the sum made with it is discarded.)
#[derive(Clone, Copy)]
struct Affine<F> {
    x: F,
    y: F,
}

/// A point in homogeneous projective coordinates (x = X/Z, y = Y/Z), each of
/// magnitude 1; the identity is (0 : 1 : 0).
#[derive(Clone, Copy)]
pub(crate) struct PointIn<F> {
    x: F,
    y: F,
    z: F,
}

/// A point in the field of this build.
pub(crate) type Point = PointIn<Fe>;

impl<F: Coordinate> PointIn<F> {
    const IDENTITY: Self = PointIn { x: F::ZERO, y: F::ONE, z: F::ZERO };

    /// self + q, complete (RCB 2015, Algorithm 8; 3𝑏 = 21), the magnitudes kept within
    /// what the field takes (k256's debug builds and ours check them).
    fn add_affine(&self, q: &Affine<F>) -> Self {
        let xx = self.x.mul(&q.x);
        let yy = self.y.mul(&q.y);
        let xy = self.x.add(&self.y).mul(&q.x.add(&q.y)).add(&xx.add(&yy).negate(2)).mul_ready(); // X1·Y2 + X2·Y1
        let yz = q.y.mul(&self.z).add(&self.y); // Y1 + Y2·Z1
        let xz = q.x.mul(&self.z).add(&self.x); // X1 + X2·Z1
        let b3z = self.z.mul_3b();
        let yy_plus = yy.add(&b3z);
        let yy_minus = yy.add(&b3z.negate(1)).mul_ready();
        let b3xz = xz.mul_3b();
        let xx3 = xx.add(&xx).add(&xx).mul_ready();
        PointIn {
            x: xy.mul(&yy_minus).add(&yz.mul(&b3xz).negate(1)).normalize_weak(),
            y: yy_minus.mul(&yy_plus).add(&b3xz.mul(&xx3)).normalize_weak(),
            z: yy_plus.mul(&yz).add(&xx3.mul(&xy)).normalize_weak(),
        }
    }

    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        PointIn { x: F::select(&a.x, &b.x, choice), y: F::select(&a.y, &b.y, choice), z: F::select(&a.z, &b.z, choice) }
    }

    /// (x, y), normalized, through a variable-time inversion of 𝑍·`blinding`
    /// ([`crate::inverse`]): `blinding` must be secret and non-zero, and is multiplied
    /// back out. `None` for the identity (or a zero `blinding`).
    pub(crate) fn to_affine_blinded(&self, blinding: &FieldElement) -> Option<(FieldElement, FieldElement)> {
        let z_inv = inverse::invert_field_vartime(&(self.z.to_field() * blinding))? * blinding;
        Some(((self.x.to_field() * &z_inv).normalize(), (self.y.to_field() * &z_inv).normalize()))
    }

    /// The affine point, through k256's constant-time inversion.
    pub(crate) fn to_affine(&self) -> AffinePoint {
        let Some(z_inv) = Option::<FieldElement>::from(self.z.to_field().invert()) else {
            return AffinePoint::IDENTITY;
        };
        let x = (self.x.to_field() * &z_inv).normalize().to_bytes();
        let y = (self.y.to_field() * &z_inv).normalize().to_bytes();
        let encoded = EncodedPoint::from_affine_coordinates(&x, &y, false);
        Option::from(AffinePoint::from_encoded_point(&encoded)).expect("the sum of points on the curve is on the curve")
    }
}

impl<F: Tabled> PointIn<F> {
    /// self + 𝑮.
    pub(crate) fn add_generator(&self) -> Self {
        self.add_affine(&F::table().generator)
    }
}

pub(crate) struct Table<F: Coordinate> {
    windows: Vec<[F::Entry; PER_WINDOW]>,
    generator: Affine<F>,
}

/// The table of a field, built once per instance on first use.
pub(crate) trait Tabled: Coordinate + Sized + 'static {
    fn table() -> &'static Table<Self>;
}

static TABLE: OnceLock<Table<Fe>> = OnceLock::new();

impl Tabled for Fe {
    fn table() -> &'static Table<Fe> {
        TABLE.get_or_init(build_table)
    }
}

/// The other field's table, for the tests: both fields are checked against k256
/// natively.
#[cfg(test)]
static OTHER_TABLE: OnceLock<Table<Other>> = OnceLock::new();
#[cfg(all(test, not(target_arch = "wasm32")))]
type Other = Field29;
#[cfg(all(test, target_arch = "wasm32"))]
type Other = FieldElement;
#[cfg(test)]
impl Tabled for Other {
    fn table() -> &'static Table<Other> {
        OTHER_TABLE.get_or_init(build_table)
    }
}

fn build_table<F: Coordinate>() -> Table<F> {
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
    let entries: Vec<F::Entry> = affine.iter().map(entry::<F>).collect();
    let (x, y) = F::unpack(&entries[0]);
    Table {
        windows: entries.chunks_exact(PER_WINDOW).map(|w| w.try_into().expect("chunks of PER_WINDOW")).collect(),
        generator: Affine { x, y },
    }
}

fn entry<F: Coordinate>(p: &AffinePoint) -> F::Entry {
    debug_assert!(!bool::from(p.is_identity()), "multiples of G below its order are not the identity");
    let encoded = p.to_encoded_point(false);
    let coordinate = |b: &k256::FieldBytes| Option::<FieldElement>::from(FieldElement::from_bytes(b)).expect("a coordinate is below p");
    F::pack(&coordinate(encoded.x().expect("not the identity")), &coordinate(encoded.y().expect("not the identity")))
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
fn select<F: Coordinate>(window: &[F::Entry; PER_WINDOW], digit: i8) -> (Affine<F>, Choice) {
    let negative = digit >> 7; // all ones when negative
    let magnitude = ((digit ^ negative) - negative) as u8;
    // One optimization barrier for the window, not one a candidate (in wasm each is a
    // round trip through the stack): the masks are arithmetic on a value the compiler
    // cannot see, all ones for the candidate whose number it is and zero for the others.
    let hidden = core::hint::black_box(magnitude as u64);
    let mut picked = F::Entry::default();
    for (j, candidate) in window.iter().enumerate() {
        let mask = ((hidden ^ (j as u64 + 1)).wrapping_sub(1) >> 63).wrapping_neg();
        for (p, c) in picked.as_mut().iter_mut().zip(candidate.as_ref()) {
            *p |= c & mask;
        }
    }
    let (x, y) = F::unpack(&picked);
    let flip = Choice::from((negative & 1) as u8);
    let y = F::select(&y, &y.negate(1).normalize_weak(), flip);
    (Affine { x, y }, magnitude.ct_eq(&0))
}

/// 𝑘×𝑮, in constant time.
pub(crate) fn mul_generator(k: &Scalar) -> Point {
    mul_generator_in::<Fe>(k)
}

fn mul_generator_in<F: Tabled>(k: &Scalar) -> PointIn<F> {
    let table = F::table();
    let digits = digits(k);
    let mut acc = PointIn::<F>::IDENTITY;
    for (window, &digit) in table.windows.iter().zip(digits.iter()) {
        let (q, zero) = select::<F>(window, digit);
        acc = PointIn::conditional_select(&acc.add_affine(&q), &acc, zero);
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

    /// Both fields, whichever this build uses: each test runs in each.
    fn in_both(check: fn(&dyn Fn(&Scalar) -> (AffinePoint, Option<(FieldElement, FieldElement)>))) {
        fn with<F: Tabled>(k: &Scalar) -> (AffinePoint, Option<(FieldElement, FieldElement)>) {
            let p = mul_generator_in::<F>(k);
            assert_blinded_agree(&p);
            (p.to_affine(), p.to_affine_blinded(&FieldElement::ONE))
        }
        check(&with::<FieldElement>);
        check(&with::<Field29>);
    }

    /// The blinded conversion gives the same coordinates whatever the blinding.
    fn assert_blinded_agree<F: Coordinate>(p: &PointIn<F>) {
        let plain = p.to_affine();
        for blinding in [FieldElement::ONE, FieldElement::from_u64(0xdead_beef), -FieldElement::ONE] {
            match p.to_affine_blinded(&blinding) {
                None => assert!(bool::from(plain.is_identity())),
                Some((x, y)) => {
                    let encoded = plain.to_encoded_point(false);
                    assert_eq!((x.to_bytes(), y.to_bytes()), (*encoded.x().unwrap(), *encoded.y().unwrap()));
                }
            }
        }
        assert_eq!(p.to_affine_blinded(&FieldElement::ZERO), None);
    }

    fn steps<F: Tabled>() {
        let mut k = Scalar::from(3u64);
        let mut p = mul_generator_in::<F>(&k);
        for _ in 0..20 {
            p = p.add_generator();
            k += Scalar::ONE;
            assert_eq!(p.to_affine(), k256_says(&k));
        }
        // Through the identity and out again: −1·G + G, then + G.
        let minus_one = mul_generator_in::<F>(&-Scalar::ONE);
        assert_eq!(minus_one.add_generator().to_affine(), AffinePoint::IDENTITY);
        assert_blinded_agree(&minus_one.add_generator());
        assert_eq!(minus_one.add_generator().add_generator().to_affine(), k256_says(&Scalar::ONE));
        // Doubling through the mixed addition: G + G.
        assert_eq!(mul_generator_in::<F>(&Scalar::ONE).add_generator().to_affine(), k256_says(&Scalar::from(2u64)));
    }

    #[test]
    fn adding_the_generator_steps_to_the_next_scalar() {
        steps::<FieldElement>();
        steps::<Field29>();
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
        in_both(|mul| {
            let mut cases = vec![Scalar::ZERO, Scalar::ONE, Scalar::from(2u64), -Scalar::ONE, -Scalar::from(2u64), Scalar::from(8u64)];
            // Every digit +8 before recoding (0x88…), every digit -8 after, single high bits.
            cases.push(Scalar::from_repr([0x88; 32].into()).unwrap());
            cases.push(Scalar::from_repr([0x77; 32].into()).unwrap());
            for bit in [0u32, 3, 4, 63, 64, 127, 128, 252, 255] {
                cases.push(Scalar::from(2u64).pow_vartime([bit as u64]));
            }
            for k in cases {
                assert_eq!(mul(&k).0, k256_says(&k), "k = {:?}", k.to_bytes());
            }
        });
    }

    proptest! {
        #[test]
        fn random_scalars_match_k256(bytes in any::<[u8; 32]>()) {
            let k = <Scalar as k256::elliptic_curve::ops::Reduce<k256::U256>>::reduce_bytes(&bytes.into());
            let expected = k256_says(&k);
            prop_assert_eq!(mul_generator_in::<FieldElement>(&k).to_affine(), expected);
            prop_assert_eq!(mul_generator_in::<Field29>(&k).to_affine(), expected);
            assert_blinded_agree(&mul_generator_in::<Field29>(&k));
        }
    }

    #[test]
    fn consecutive_scalars_match_k256() {
        in_both(|mul| {
            let seed: [u8; 32] = sha2::Sha256::digest(b"consecutive").into();
            let mut k = <Scalar as k256::elliptic_curve::ops::Reduce<k256::U256>>::reduce_bytes(&seed.into());
            for _ in 0..64 {
                assert_eq!(mul(&k).0, k256_says(&k));
                k += Scalar::ONE;
            }
        });
    }
}
