//! Splitting an amount of minor units over parts (order lines) so that the
//! parts always sum to the whole: the one allocation rule of the engine.
//!
//! The rule: each part's share is proportional to its weight (a line's
//! amount, or its quantity for the `_BY_QUANTITY` effects) and floored to the
//! minor unit; the minor units left over by the flooring go one at a time to
//! the parts with the largest remainders, ties to the earlier part. So 300
//! over weights 3300 and 3400 gives 148 and 152 (Voucherify's documented
//! example). With caps ([`allocate_capped`]), a part whose share would exceed
//! its cap is fixed at the cap and the rest of the total is split again, by
//! the same rule, over the parts that still have room; this repeats (at most
//! once per part) until no share exceeds its cap. What the caps cannot hold is
//! returned as [`Allocation::unplaced`], never forced onto a part.
//!
//! When the parts that still have room all weigh zero, they share equally
//! (the same rule with every weight 1): a zero weight never strands an amount
//! that a cap could still hold. Everything is exact integer arithmetic; the
//! products of a total and a weight are computed in `i128`, so no input in
//! `i64` can overflow.
//!
//! See `docs/allocation.md` for worked examples.

use crate::limits::ALLOCATION_PARTS_MAX;

/// Why an allocation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    /// The amount to split is below zero.
    #[error("negative total")]
    NegativeTotal,
    /// A weight is below zero.
    #[error("part {index}: negative weight")]
    NegativeWeight {
        /// Index of the part.
        index: usize,
    },
    /// A cap is below zero.
    #[error("part {index}: negative cap")]
    NegativeCap {
        /// Index of the part.
        index: usize,
    },
    /// Weights and caps do not describe the same parts.
    #[error("{weights} weights but {caps} caps")]
    LengthMismatch {
        /// Number of weights.
        weights: usize,
        /// Number of caps.
        caps: usize,
    },
    /// More parts than [`ALLOCATION_PARTS_MAX`].
    #[error("too many parts")]
    TooManyParts,
    /// A positive total and no part to give it to (uncapped allocation).
    #[error("no part to allocate to")]
    NoParts,
    /// An intermediate result left the range of the arithmetic.
    #[error("allocation overflow")]
    Overflow,
}

/// The result of a capped allocation: one share per part, and what the caps
/// could not hold. `shares` sum with `unplaced` to the total, always.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    shares: Vec<i64>,
    unplaced: i64,
}

impl Allocation {
    /// One share per part, in the order of the weights.
    pub fn shares(&self) -> &[i64] {
        &self.shares
    }

    /// The shares, by value.
    pub fn into_shares(self) -> Vec<i64> {
        self.shares
    }

    /// What could not be placed because every part was at its cap; zero
    /// unless every cap is full.
    pub fn unplaced(&self) -> i64 {
        self.unplaced
    }

    /// The sum of the shares (`total - unplaced`).
    pub fn placed(&self) -> i64 {
        // Shares sum to at most the total, an i64.
        self.shares.iter().sum()
    }
}

/// Splits `total` over `weights` by the allocation rule, with no caps: the
/// shares sum exactly to `total`. All weights zero: equal shares. No part and
/// a positive total: [`AllocationError::NoParts`].
pub fn allocate(total: i64, weights: &[i64]) -> Result<Vec<i64>, AllocationError> {
    check_inputs(total, weights, None)?;
    if weights.is_empty() && total > 0 {
        return Err(AllocationError::NoParts);
    }
    let allocation = distribute(total, weights, None)?;
    debug_assert_eq!(allocation.unplaced, 0);
    Ok(allocation.shares)
}

/// Splits `total` over `weights` by the allocation rule, no share above its
/// part's cap; the excess of a capped part is spread over the parts with room
/// left, by the same rule. Returns the shares and what no cap could hold
/// (`unplaced`, positive only when every share equals its cap).
pub fn allocate_capped(
    total: i64,
    weights: &[i64],
    caps: &[i64],
) -> Result<Allocation, AllocationError> {
    check_inputs(total, weights, Some(caps))?;
    distribute(total, weights, Some(caps))
}

fn check_inputs(total: i64, weights: &[i64], caps: Option<&[i64]>) -> Result<(), AllocationError> {
    if total < 0 {
        return Err(AllocationError::NegativeTotal);
    }
    if weights.len() > ALLOCATION_PARTS_MAX {
        return Err(AllocationError::TooManyParts);
    }
    if let Some(index) = weights.iter().position(|w| *w < 0) {
        return Err(AllocationError::NegativeWeight { index });
    }
    if let Some(caps) = caps {
        if caps.len() != weights.len() {
            return Err(AllocationError::LengthMismatch {
                weights: weights.len(),
                caps: caps.len(),
            });
        }
        if let Some(index) = caps.iter().position(|c| *c < 0) {
            return Err(AllocationError::NegativeCap { index });
        }
    }
    Ok(())
}

/// The rule itself, on checked inputs. Each round splits what remains over
/// the parts with room; if some proposed shares exceed their caps, those parts
/// are fixed at their caps and the next round splits the rest. Every round but
/// the last fixes at least one part, so there are at most `n + 1` rounds.
/// Splitting the rest afresh (rather than spreading each round's excess on
/// top of the previous shares) is the same rule in exact arithmetic, with a
/// single rounding instead of one per round.
fn distribute(
    total: i64,
    weights: &[i64],
    caps: Option<&[i64]>,
) -> Result<Allocation, AllocationError> {
    let n = weights.len();
    let cap_of = |i: usize| caps.and_then(|c| c.get(i).copied());
    let mut shares = vec![0_i64; n];
    // Parts that may still receive something; a part with a zero cap never can.
    // Sized up front: collecting a filter would grow the vector twice for
    // ten lines.
    let mut open: Vec<usize> = Vec::with_capacity(n);
    open.extend((0..n).filter(|i| cap_of(*i) != Some(0)));
    let mut remaining = total;
    for _round in 0..=n {
        if remaining == 0 || open.is_empty() {
            break;
        }
        let proposed = split(remaining, weights, &open)?;
        let mut over_cap = false;
        for (&i, &share) in open.iter().zip(&proposed) {
            if let Some(cap) = cap_of(i) {
                if share > cap {
                    over_cap = true;
                    shares[i] = cap;
                    remaining = remaining
                        .checked_sub(cap)
                        .ok_or(AllocationError::Overflow)?;
                }
            }
        }
        if over_cap {
            open.retain(|&i| cap_of(i).is_none_or(|cap| shares[i] != cap));
            continue;
        }
        for (&i, &share) in open.iter().zip(&proposed) {
            shares[i] = share;
        }
        remaining = 0;
    }
    assert!(
        remaining == 0 || open.is_empty(),
        "allocation did not settle within n + 1 rounds"
    );
    Ok(Allocation {
        shares,
        unplaced: remaining,
    })
}

/// `(a / b, a % b)`, in `i64` when both fit: the same numbers, without the
/// `i128` division routine, which is most of a split's cost on usual amounts.
fn div_rem(a: i128, b: i128) -> (i128, i128) {
    match (i64::try_from(a), i64::try_from(b)) {
        (Ok(a), Ok(b)) if b > 0 => (i128::from(a / b), i128::from(a % b)),
        _ => (a / b, a % b),
    }
}

/// One round: `amount` over the parts `open` (indices into `weights`), floored
/// shares plus the leftover units to the largest remainders, ties to the
/// earlier part. All weights zero: equal weights.
fn split(amount: i64, weights: &[i64], open: &[usize]) -> Result<Vec<i64>, AllocationError> {
    let given_sum: i128 = open
        .iter()
        .map(|&i| i128::from(weights.get(i).copied().unwrap_or(0)))
        .sum();
    let equal_weights = given_sum == 0;
    let weight_of = |i: usize| -> i128 {
        if equal_weights {
            1
        } else {
            i128::from(weights.get(i).copied().unwrap_or(0))
        }
    };
    let weight_sum = if equal_weights {
        i128::try_from(open.len()).map_err(|_| AllocationError::Overflow)?
    } else {
        given_sum
    };
    let amount_wide = i128::from(amount);
    let mut shares = Vec::with_capacity(open.len());
    let mut remainders = Vec::with_capacity(open.len());
    let mut floored_sum: i128 = 0;
    for (position, &i) in open.iter().enumerate() {
        // Exact: amount < 2^63 and weight < 2^63, so the product fits in i128.
        let product = amount_wide * weight_of(i);
        // Rounding point: floor (Rounding::Down on non-negative values); the
        // leftover units are handed out below.
        let (share, remainder) = div_rem(product, weight_sum);
        floored_sum += share;
        shares.push(i64::try_from(share).map_err(|_| AllocationError::Overflow)?);
        remainders.push((remainder, position));
    }
    let leftover =
        usize::try_from(amount_wide - floored_sum).map_err(|_| AllocationError::Overflow)?;
    // Largest remainder first; equal remainders keep the earlier part first.
    // Positions are distinct, so the order is total and an unstable sort
    // gives the same result; with no leftover there is nothing to order.
    if leftover > 0 {
        remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    }
    debug_assert!(leftover <= open.len());
    for &(_, position) in remainders.iter().take(leftover) {
        if let Some(share) = shares.get_mut(position) {
            *share = share.checked_add(1).ok_or(AllocationError::Overflow)?;
        }
    }
    Ok(shares)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn check(total: i64, weights: &[i64], expected: &[i64]) {
        assert_eq!(
            allocate(total, weights).unwrap(),
            expected,
            "{total} over {weights:?}"
        );
    }

    fn check_capped(
        total: i64,
        weights: &[i64],
        caps: &[i64],
        expected: &[i64],
        expected_unplaced: i64,
    ) {
        let allocation = allocate_capped(total, weights, caps).unwrap();
        assert_eq!(
            (allocation.shares(), allocation.unplaced()),
            (expected, expected_unplaced),
            "{total} over {weights:?} capped at {caps:?}"
        );
    }

    #[test]
    fn splits_by_largest_remainder() {
        // Voucherify's example: 300 * 3300 / 6700 = 147.76, 300 * 3400 / 6700 = 152.24.
        check(300, &[3300, 3400], &[148, 152]);
        // 1000 in thirds: 333.33 each, the leftover unit to the earliest tie.
        check(1000, &[1, 1, 1], &[334, 333, 333]);
        check(2, &[1, 1, 1], &[1, 1, 0]);
        // 100 * 1/6 = 16.67, 2/6 = 33.33, 3/6 = 50.
        check(100, &[1, 2, 3], &[17, 33, 50]);
        // 10 * 5/7 = 7.14, 10 * 2/7 = 2.86: the larger remainder wins.
        check(10, &[5, 2], &[7, 3]);
        check(0, &[3, 4], &[0, 0]);
        check(7, &[0, 5], &[0, 7]);
        check(0, &[], &[]);
        check(5, &[9], &[5]);
    }

    #[test]
    fn zero_weights_share_equally() {
        check(10, &[0, 0, 0], &[4, 3, 3]);
        check_capped(10, &[0, 0, 0], &[2, 10, 10], &[2, 4, 4], 0);
        // Once the weighted parts are full, the zero-weight part takes the rest.
        check_capped(100, &[1, 0], &[50, 100], &[50, 50], 0);
    }

    #[test]
    fn caps_redistribute_the_excess() {
        // 1000 by 5:1:4 proposes 500/100/400; part 0 is capped at 100 and the
        // other 900 goes 1:4 = 180/720.
        check_capped(1000, &[5, 1, 4], &[100, 2000, 2000], &[100, 180, 720], 0);
        // A cascade: capping part 0 pushes part 1 over its cap in round two.
        // Round 1: 90/30/30 -> part 0 capped at 10. Round 2: 140 over 1:1 =
        // 70/70 -> part 1 capped at 40. Round 3: part 2 takes the 100 left.
        check_capped(150, &[6, 2, 2], &[10, 40, 1000], &[10, 40, 100], 0);
        // Caps too small: everything they can hold, the rest unplaced.
        check_capped(1000, &[1, 1], &[300, 200], &[300, 200], 500);
        // A zero cap takes nothing.
        check_capped(300, &[3300, 3400], &[0, 1000], &[0, 300], 0);
        check_capped(300, &[3300, 3400], &[0, 0], &[0, 0], 300);
        check_capped(300, &[], &[], &[], 300);
        // The leftover unit would push part 0 over: it stays at its cap.
        check_capped(3, &[1, 1], &[1, 5], &[1, 2], 0);
    }

    #[test]
    fn refuses_bad_inputs() {
        assert_eq!(allocate(-1, &[1]), Err(AllocationError::NegativeTotal));
        assert_eq!(
            allocate(1, &[1, -2]),
            Err(AllocationError::NegativeWeight { index: 1 })
        );
        assert_eq!(allocate(1, &[]), Err(AllocationError::NoParts));
        assert_eq!(
            allocate_capped(1, &[1], &[-1]),
            Err(AllocationError::NegativeCap { index: 0 })
        );
        assert_eq!(
            allocate_capped(1, &[1], &[1, 2]),
            Err(AllocationError::LengthMismatch {
                weights: 1,
                caps: 2
            })
        );
        assert_eq!(
            allocate(1, &vec![1; ALLOCATION_PARTS_MAX + 1]),
            Err(AllocationError::TooManyParts)
        );
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        check(
            i64::MAX,
            &[i64::MAX, i64::MAX],
            &[i64::MAX / 2 + 1, i64::MAX / 2],
        );
        check(i64::MAX, &[1, i64::MAX], &[1, i64::MAX - 1]);
        check_capped(
            i64::MAX,
            &[i64::MAX, 1],
            &[i64::MAX, i64::MAX],
            &[i64::MAX - 1, 1],
            0,
        );
    }

    #[test]
    fn many_parts_with_a_cascade_settle() {
        // Weights 1..=n with caps that force one capping round per part.
        let n = i64::try_from(ALLOCATION_PARTS_MAX).unwrap();
        let weights: Vec<i64> = (1..=n).collect();
        let caps: Vec<i64> = (1..=n).collect();
        let total: i64 = caps.iter().sum::<i64>() + 5;
        let allocation = allocate_capped(total, &weights, &caps).unwrap();
        assert_eq!(allocation.shares(), &caps[..]);
        assert_eq!(allocation.unplaced(), 5);
    }

    fn weights_and_caps() -> impl Strategy<Value = (i64, Vec<(i64, i64)>)> {
        (
            prop_oneof![0_i64..1000, 0_i64..10_000_000_000_000],
            prop::collection::vec(
                (
                    prop_oneof![Just(0_i64), 0_i64..100, 0_i64..1_000_000_000],
                    prop_oneof![Just(0_i64), 0_i64..1000, 0_i64..10_000_000_000_000],
                ),
                0..12,
            ),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn uncapped_shares_sum_and_are_proportional(
            total in prop_oneof![0_i64..1000, 0_i64..i64::MAX],
            weights in prop::collection::vec(prop_oneof![Just(0_i64), 0_i64..1000, 0_i64..i64::MAX], 1..12),
        ) {
            let shares = allocate(total, &weights).unwrap();
            prop_assert_eq!(shares.len(), weights.len());
            prop_assert_eq!(shares.iter().map(|s| i128::from(*s)).sum::<i128>(), i128::from(total));
            let weight_sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
            for (share, weight) in shares.iter().zip(&weights) {
                prop_assert!(*share >= 0);
                // |share - total * w / W| < 1, i.e. |share * W - total * w| < W.
                let (w, big_w) = if weight_sum == 0 {
                    (1, i128::try_from(weights.len()).unwrap())
                } else {
                    (i128::from(*weight), weight_sum)
                };
                let exact_times_w = i128::from(total) * w;
                prop_assert!((i128::from(*share) * big_w - exact_times_w).abs() < big_w);
            }
            prop_assert_eq!(allocate(total, &weights).unwrap(), shares);
        }

        #[test]
        fn capped_shares_respect_caps_and_sum((total, parts) in weights_and_caps()) {
            let weights: Vec<i64> = parts.iter().map(|p| p.0).collect();
            let caps: Vec<i64> = parts.iter().map(|p| p.1).collect();
            let allocation = allocate_capped(total, &weights, &caps).unwrap();
            let shares = allocation.shares();
            prop_assert_eq!(shares.len(), weights.len());
            prop_assert_eq!(allocation.placed() + allocation.unplaced(), total);
            prop_assert!(allocation.unplaced() >= 0);
            for (share, cap) in shares.iter().zip(&caps) {
                prop_assert!(*share >= 0);
                prop_assert!(share <= cap);
            }
            if allocation.unplaced() > 0 {
                prop_assert_eq!(shares, &caps[..]);
            }
            let cap_sum: i128 = caps.iter().map(|c| i128::from(*c)).sum();
            prop_assert!(i128::from(allocation.placed()) <= cap_sum);
            prop_assert_eq!(allocate_capped(total, &weights, &caps).unwrap(), allocation);
        }

        #[test]
        fn capped_with_loose_caps_is_uncapped(
            total in 0_i64..10_000_000_000_000,
            weights in prop::collection::vec(0_i64..1_000_000_000, 1..12),
        ) {
            let caps = vec![total; weights.len()];
            let capped = allocate_capped(total, &weights, &caps).unwrap();
            prop_assert_eq!(capped.unplaced(), 0);
            prop_assert_eq!(capped.into_shares(), allocate(total, &weights).unwrap());
        }
    }
}
