//! The JSON request decoder of redemption (`voucher_http::routes::
//! redemptions::decode_redemption`: the legacy `POST
//! /v1/vouchers/{code}/redemption` with its `?tracking_id=` query, and the
//! stacked `POST /v1/redemptions`), then the engine's redemption of it.
//!
//! The input is split by `voucher_fuzz::RequestInput::split` (flags, the
//! legacy path code and query, the body). Decoding never panics, and an
//! error is a 4xx with a key. A decoded request keeps the mode, the code
//! and the project's currency in every amount. It is then redeemed as the
//! store would, on a fixed catalogue of vouchers: a redemption counts one
//! more use of each applied code, charges the campaign what it gave, spends
//! no more gift credits than the card holds (nor than were asked for), and
//! leaves an order not discounted below zero; its validation half is the
//! validation's answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voucher_core::decision::Transition;
use voucher_core::decision::{self, Outcome};
use voucher_core::money::Money;
use voucher_core::stacking::{self, EntryStatus, StackEntry};
use voucher_core::voucher::{Benefit, Voucher};
use voucher_fuzz::{
    catalogue, check_order, check_request, checkout, customer_of, entries, now, project,
    RequestInput,
};
use voucher_http::routes::redemptions::decode_redemption;

fn check_transition(
    voucher: &Voucher,
    outcome: &Outcome,
    transition: &Transition,
    asked: Option<Money>,
) {
    assert_eq!(
        transition.redeemed_quantity_after,
        voucher.redeemed_quantity + 1
    );
    assert_eq!(transition.given_minor, outcome.given_minor());
    assert!(transition.given_minor >= 0);
    match (&voucher.benefit, outcome) {
        (
            Benefit::Gift(ledger),
            Outcome::Gift {
                credits_minor,
                balance_after_minor,
                ..
            },
        ) => {
            assert!(*credits_minor >= 0);
            assert!(
                *credits_minor <= ledger.balance_minor(),
                "spent more than the card holds"
            );
            assert_eq!(*balance_after_minor, ledger.balance_minor() - credits_minor);
            if let Some(asked) = asked {
                let asked = asked.to_minor().expect("accepted credits are in range");
                assert!(*credits_minor <= asked, "spent more than was asked");
            }
            match &transition.ledger_entry {
                Some(entry) => {
                    assert_eq!(entry.amount_minor, *credits_minor);
                    assert_eq!(entry.balance_after_minor, *balance_after_minor);
                    assert!(entry.balance_after_minor >= 0);
                }
                None => assert_eq!(*credits_minor, 0),
            }
        }
        (Benefit::Discount(_), Outcome::Discount(_)) => {
            assert!(transition.ledger_entry.is_none());
        }
        (benefit, outcome) => panic!("{benefit:?} gave {outcome:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = RequestInput::split(data, true) else {
        return;
    };
    let decoded = decode_redemption(
        input.body,
        input.code.as_deref(),
        &input.query,
        input.currency,
        now(),
    );
    let request = match decoded {
        Ok(request) => request,
        Err(error) => {
            assert!(error.status.is_client_error(), "{error:?}");
            assert!(!error.key.is_empty());
            return;
        }
    };
    check_request(&request, &input);

    let project = project(input.currency);
    let vouchers = catalogue(input.currency);
    let customer = customer_of(request.customer.as_ref());
    let checkout = checkout(&request, &customer);
    let found = entries(&request, &vouchers);
    if input.code.is_some() {
        let Some((entry, asked)) = found.first() else {
            return;
        };
        let result = decision::redeem(&project, &entry.candidate, &checkout, entry.credits);
        let validation = decision::validate(&project, &entry.candidate, &checkout, entry.credits);
        assert_eq!(
            result.as_ref().map(|r| &r.validation),
            validation.as_ref(),
            "redeem and validate disagree"
        );
        if let Ok(redemption) = result {
            check_order(&redemption.validation.order);
            check_transition(
                entry.candidate.voucher,
                &redemption.validation.outcome,
                &redemption.transition,
                *asked,
            );
        }
    } else {
        let stack: Vec<StackEntry<'_>> = found.iter().map(|(entry, _)| *entry).collect();
        if stack.is_empty() {
            return;
        }
        let result = stacking::redeem_stack(&project, &stack, &checkout);
        let validation = stacking::validate_stack(&project, &stack, &checkout);
        if let (Ok(redemption), Ok(validation)) = (&result, &validation) {
            assert_eq!(
                &redemption.validation, validation,
                "redeem and validate disagree"
            );
        }
        if let Ok(redemption) = result {
            assert!(redemption.validation.valid);
            check_order(&redemption.validation.order);
            let applied = redemption
                .validation
                .entries
                .iter()
                .filter(|e| matches!(e.status, EntryStatus::Applicable(_)))
                .count();
            assert_eq!(redemption.transitions.len(), applied);
            for (index, transition) in &redemption.transitions {
                let EntryStatus::Applicable(outcome) =
                    &redemption.validation.entries[*index].status
                else {
                    panic!("a transition for a redeemable that did not apply");
                };
                check_transition(
                    stack[*index].candidate.voucher,
                    outcome,
                    transition,
                    found[*index].1,
                );
            }
        }
    }
});
