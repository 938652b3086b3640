//! Qualifications: which of the candidate codes apply to this customer's
//! cart, and which is best for them.
//!
//! A candidate is only ever shown to a customer who may know it: a code
//! published to that customer (its `holder_id` is the customer's engine
//! id), or the shared public code of a `STANDALONE` discount campaign. A
//! unique code nobody published to them, and any gift card that is not
//! theirs, stays hidden whatever it would be worth. As the reference says
//! (§2.11), the campaign's redemption-count limits (per customer, per
//! campaign) are ignored here; every other check applies, the voucher's own
//! `quantity` included.
//!
//! Each visible candidate is decided alone on the order as given (not
//! stacked); the qualified ones are sorted (stable: ties keep the
//! candidates' order) and cut to the requested limit, while
//! [`Qualifications::total`] and [`Qualifications::best`] still see all of
//! them.

use serde::{Deserialize, Serialize};

use crate::decision::{self, Candidate, Checkout, CountLimits, Credits, Outcome, Project, Refusal};
use crate::discount::OrderState;
use crate::limits::{QUALIFICATION_CANDIDATES_MAX, QUALIFICATION_RESULTS_MAX};
use crate::order::Customer;
use crate::voucher::{Benefit, CampaignKind};

/// How qualified codes are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Sorting {
    /// In the order of the candidates (the default). The reference's
    /// `DEFAULT` is the newest first, so a store passes them in that order.
    #[default]
    Default,
    /// The largest reduction first; ties keep the candidates' order.
    BestDeal,
    /// The smallest reduction first; ties keep the candidates' order.
    LeastDeal,
}

/// One code that applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qualified {
    /// Index of the candidate.
    pub index: usize,
    /// What the code would do.
    pub outcome: Outcome,
    /// The order with the code applied.
    pub order: OrderState,
}

/// The codes that apply, ordered and cut to `limit`, plus how many applied
/// in all and the best of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qualifications {
    /// The first `limit` qualified codes in the chosen order.
    pub qualified: Vec<Qualified>,
    /// How many candidates qualified in all.
    pub total: usize,
    /// The best of all qualified codes, even one the limit cut.
    best: Option<Qualified>,
}

impl Qualifications {
    /// The best code for the customer among all that qualified (not only
    /// the `limit` returned): the largest reduction, ties to the earlier
    /// candidate, whatever the chosen sorting.
    pub fn best(&self) -> Option<&Qualified> {
        self.best.as_ref()
    }
}

fn best_of(qualified: &[Qualified]) -> Option<&Qualified> {
    qualified.iter().max_by(|a, b| {
        a.outcome
            .given_minor()
            .cmp(&b.outcome.given_minor())
            .then_with(|| b.index.cmp(&a.index))
    })
}

/// Why a qualification request was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QualifyError {
    /// More candidates than [`QUALIFICATION_CANDIDATES_MAX`].
    #[error("too many candidates")]
    TooManyCandidates,
    /// The order or customer is bad input.
    #[error("{0}")]
    Input(Refusal),
}

/// May this customer be shown this candidate's code? Yes if the code was
/// published to them (`holder_id` equals the customer's engine `id`), or if
/// it is the public code of a `STANDALONE` discount campaign.
///
/// The holder is never matched against the request's `source_id`: that is
/// the shop's own id, from another namespace, which a client could set to
/// someone else's engine id to see their codes. An adapter resolves a
/// `source_id` to the engine id before it asks.
pub fn is_visible_to(candidate: &Candidate<'_>, customer: &Customer) -> bool {
    let voucher = candidate.voucher;
    let holder_matches = voucher
        .holder_id
        .as_deref()
        .is_some_and(|holder| customer.id.as_deref() == Some(holder));
    let public_code = matches!(voucher.benefit, Benefit::Discount(_))
        && candidate
            .campaign
            .is_some_and(|c| c.kind == CampaignKind::Standalone);
    holder_matches || public_code
}

/// Which candidates apply to the checkout, best first under
/// [`Sorting::BestDeal`]; at most `limit` (capped at
/// [`QUALIFICATION_RESULTS_MAX`]) are returned.
pub fn qualify(
    project: &Project,
    candidates: &[Candidate<'_>],
    checkout: &Checkout<'_>,
    sorting: Sorting,
    limit: usize,
) -> Result<Qualifications, QualifyError> {
    if candidates.len() > QUALIFICATION_CANDIDATES_MAX {
        return Err(QualifyError::TooManyCandidates);
    }
    let checked = decision::check_input(project, checkout).map_err(QualifyError::Input)?;
    let initial = OrderState::of(&checked).map_err(|e| QualifyError::Input(e.into()))?;
    let mut qualified: Vec<Qualified> = candidates
        .iter()
        .enumerate()
        .filter(|(_, candidate)| is_visible_to(candidate, checkout.customer))
        .filter_map(|(index, candidate)| {
            let outcome = decision::decide(
                project,
                candidate,
                checkout,
                &checked,
                &initial,
                Credits::WhatIsOwed,
                CountLimits::Ignore,
            )
            .ok()?;
            let mut order = initial.clone();
            order.commit(outcome.applied()).ok()?;
            Some(Qualified {
                index,
                outcome,
                order,
            })
        })
        .collect();
    match sorting {
        Sorting::Default => {}
        // Stable sorts: ties keep the candidates' order.
        Sorting::BestDeal => {
            qualified.sort_by_key(|q| std::cmp::Reverse(q.outcome.given_minor()));
        }
        Sorting::LeastDeal => qualified.sort_by_key(|q| q.outcome.given_minor()),
    }
    let total = qualified.len();
    let best = best_of(&qualified).cloned();
    qualified.truncate(limit.min(QUALIFICATION_RESULTS_MAX));
    Ok(Qualifications {
        qualified,
        total,
        best,
    })
}

#[cfg(test)]
mod tests;
