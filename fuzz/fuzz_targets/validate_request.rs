//! The JSON request decoder of validation (`voucher_http::routes::
//! validations::decode_validation`: the legacy `POST
//! /v1/vouchers/{code}/validate` and the stacked `POST /v1/validations`),
//! then the engine's decision on it.
//!
//! The input is split by `voucher_fuzz::RequestInput::split` (flags, the
//! legacy path code, the body). Decoding never panics, and an error is a
//! 4xx with a key. A decoded request keeps the mode, the code and the
//! project's currency in every amount. It is then decided as the store
//! would, on a fixed catalogue of vouchers (`voucher_fuzz::catalogue`):
//! the decision is deterministic, and the order it answers with is never
//! discounted below zero, its totals adding up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voucher_core::decision;
use voucher_core::stacking::{self, EntryStatus, StackEntry, StackError};
use voucher_fuzz::{
    catalogue, check_order, check_request, checkout, customer_of, entries, now, project,
    RequestInput,
};
use voucher_http::routes::validations::decode_validation;

fuzz_target!(|data: &[u8]| {
    let Some(input) = RequestInput::split(data, false) else {
        return;
    };
    let request = match decode_validation(input.body, input.code.as_deref(), input.currency, now())
    {
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
        let Some((entry, _)) = found.first() else {
            return;
        };
        let result = decision::validate(&project, &entry.candidate, &checkout, entry.credits);
        let again = decision::validate(&project, &entry.candidate, &checkout, entry.credits);
        assert_eq!(result, again, "validation is not deterministic");
        // A stack of this one code decides the same: what applies in the
        // stack applies alone, with the same outcome and order, and what
        // the legacy validation refuses the stack refuses for the reason.
        match (
            &result,
            stacking::validate_stack(&project, &[*entry], &checkout),
        ) {
            (_, Ok(stack)) => match &stack.entries[0].status {
                EntryStatus::Applicable(outcome) => {
                    let alone = result.as_ref().expect("applies in a stack, not alone");
                    assert_eq!(**outcome, alone.outcome);
                    assert_eq!(stack.order, alone.order);
                }
                EntryStatus::Inapplicable(refusal) => {
                    assert_eq!(result.as_ref().err(), Some(refusal));
                }
                EntryStatus::Skipped(_) => {}
            },
            (Err(refusal), Err(StackError::Input(stack_refusal))) => {
                assert_eq!(refusal, &stack_refusal);
            }
            (result, Err(error)) => panic!("alone {result:?}, in a stack {error:?}"),
        }
        if let Ok(validation) = result {
            check_order(&validation.order);
            assert!(validation.outcome.given_minor() >= 0);
        }
    } else {
        let stack: Vec<StackEntry<'_>> = found.iter().map(|(entry, _)| *entry).collect();
        if stack.is_empty() {
            return;
        }
        let result = stacking::validate_stack(&project, &stack, &checkout);
        let again = stacking::validate_stack(&project, &stack, &checkout);
        assert_eq!(result, again, "validation is not deterministic");
        if let Ok(validation) = result {
            check_order(&validation.order);
            assert_eq!(validation.entries.len(), stack.len());
            for entry in &validation.entries {
                check_order(&entry.order_after);
                if let EntryStatus::Applicable(outcome) = &entry.status {
                    assert!(outcome.given_minor() >= 0);
                }
            }
        }
    }
});
