//! Validation rules (wire reference §2.7): `POST|GET /v1/validation-rules`,
//! `GET|PUT|DELETE /v1/validation-rules/{id}`, and the assignments
//! `POST|GET /v1/validation-rules/{id}/assignments`,
//! `DELETE /v1/validation-rules/{id}/assignments/{assignment_id}`.
//!
//! Money on the wire is an integer, the value times 100, in rule values too
//! (`order.amount` `$more_than [10000]` means 100.00), while the core's
//! [`RawRuleSet`] takes major units: conditions of money properties (see
//! [`Property::is_money_name`]) and the `amount_limit`s of `applicable_to`
//! are divided by 100 on the way in and multiplied back on the way out.
//! A rule set the core refuses is 400 `invalid_validation_rules`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::Json as Reply;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use voucher_core::port::{AssignmentTarget, RuleRecord, RuleSpec, SortOrder};
use voucher_core::rules::{Property, RawRuleSet, RawRules, RawTarget};
use voucher_core::value::Value;

use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::render::assignment_json;
use crate::routes::list_params::ListParams;
use crate::routes::Routes;
use crate::state::AppState;
use crate::wire::{self, JsonBody, WireQuery};

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route("/v1/validation-rules", get(list).post(create))
        .route("/v1/validation-rules/", get(list).post(create))
        .route(
            "/v1/validation-rules/{id}",
            get(read).put(update).delete(remove),
        )
        .route(
            "/v1/validation-rules/{id}/assignments",
            get(list_assignments).post(assign),
        )
        .route(
            "/v1/validation-rules/{id}/assignments/{assignment_id}",
            delete(unassign),
        )
}

/// A rule set as the wire sends one. `type`, `context_type`, `bundle_rules`
/// and the server-managed fields (`id`, `created_at`, `assignments_count`,
/// `object`) are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
struct RuleBody {
    name: Option<String>,
    rules: Option<Json>,
    error: Option<Json>,
    applicable_to: Option<Json>,
}

/// 400 `invalid_validation_rules`, with Voucherify's message.
fn invalid_rules(details: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_validation_rules",
        "Invalid Validation Rule Definition",
    )
    .with_details(details)
}

/// Gives the store's refusal of a rule set Voucherify's message.
fn rules_error(error: ApiError) -> ApiError {
    if error.key == "invalid_validation_rules" {
        invalid_rules(error.details.clone().unwrap_or_default())
    } else {
        error
    }
}

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

/// Which way amounts are scaled.
#[derive(Debug, Clone, Copy)]
enum Scale {
    /// Wire integer to major units: divide by 100.
    ToMajor,
    /// Major units to the wire's integer: multiply by 100.
    ToWire,
}

impl Scale {
    fn apply(self, amount: Decimal) -> Option<Decimal> {
        match self {
            Scale::ToMajor => amount.checked_div(HUNDRED),
            Scale::ToWire => amount.checked_mul(HUNDRED),
        }
        .map(|d| d.normalize())
    }
}

/// Scales a condition value; text that is a number becomes one (the core
/// reads numeric text in numeric conditions). What is not a number is
/// left for the core to refuse.
fn scale_value(value: &mut Value, scale: Scale) {
    match value {
        Value::Number(n) => {
            if let Some(scaled) = scale.apply(*n) {
                *n = scaled;
            }
        }
        Value::Text(text) => {
            if let Some(scaled) = text
                .trim()
                .parse::<Decimal>()
                .ok()
                .and_then(|n| scale.apply(n))
            {
                *value = Value::Number(scaled);
            }
        }
        Value::List(items) => items.iter_mut().for_each(|item| scale_value(item, scale)),
        Value::Null | Value::Bool(_) | Value::Map(_) => {}
    }
}

/// Conditions that count lines, not money.
fn counts_lines(condition: &str) -> bool {
    matches!(condition, "$count" | "$count_more" | "$count_less")
}

/// Scales the money conditions of a level and the levels nested in it
/// (bounded by the JSON nesting limit the body was read with).
fn scale_rules(rules: &mut RawRules, scale: Scale) {
    for rule in rules.rules.values_mut() {
        if Property::is_money_name(&rule.name) {
            for (condition, values) in &mut rule.conditions {
                if !counts_lines(condition) {
                    values.iter_mut().for_each(|v| scale_value(v, scale));
                }
            }
        }
        scale_rules(&mut rule.rules, scale);
    }
}

fn scale_target(target: &mut RawTarget, scale: Scale) {
    for limit in [
        &mut target.amount_limit,
        &mut target.aggregated_amount_limit,
    ] {
        if let Some(amount) = limit.as_mut() {
            if let Some(scaled) = scale.apply(*amount) {
                *amount = scaled;
            }
        }
    }
}

fn scale_rule_set(raw: &mut RawRuleSet, scale: Scale) {
    scale_rules(&mut raw.rules, scale);
    let applicable = &mut raw.applicable_to;
    for target in applicable
        .included
        .iter_mut()
        .chain(&mut applicable.excluded)
    {
        scale_target(target, scale);
    }
}

/// The core's raw rule set from the wire's `rules`, `error` and
/// `applicable_to`, amounts in major units.
fn raw_rule_set(
    rules: Option<Json>,
    error: Option<Json>,
    applicable_to: Option<Json>,
) -> Result<RawRuleSet, ApiError> {
    let json = json!({"rules": rules, "error": error, "applicable_to": applicable_to});
    let mut raw: RawRuleSet =
        serde_json::from_value(json).map_err(|e| invalid_rules(e.to_string()))?;
    scale_rule_set(&mut raw, Scale::ToMajor);
    Ok(raw)
}

fn target_json(target: &RawTarget) -> Json {
    let mut map = Map::new();
    map.insert("object".into(), json!(target.object));
    if let Some(id) = &target.id {
        map.insert("id".into(), json!(id));
    }
    if let Some(source_id) = &target.source_id {
        map.insert("source_id".into(), json!(source_id));
    }
    // Required by the Python SDK's model.
    let effect = target.effect.as_deref().unwrap_or("APPLY_TO_EVERY");
    map.insert("effect".into(), json!(effect));
    if let Some(n) = target.quantity_limit {
        map.insert("quantity_limit".into(), json!(n));
    }
    if let Some(n) = target.aggregated_quantity_limit {
        map.insert("aggregated_quantity_limit".into(), json!(n));
    }
    // Already scaled to the wire: the integer the caller sent.
    let amounts = [
        ("amount_limit", target.amount_limit),
        ("aggregated_amount_limit", target.aggregated_amount_limit),
    ];
    for (key, amount) in amounts {
        if let Some(amount) = amount {
            map.insert(key.into(), wire::value_json(&Value::Number(amount)));
        }
    }
    Json::Object(map)
}

/// The validation rule object.
fn rule_json(record: &RuleRecord) -> Json {
    let mut raw = record.spec.raw.clone();
    scale_rule_set(&mut raw, Scale::ToWire);
    let rules = serde_json::to_value(&raw.rules).unwrap_or_else(|_| json!({}));
    let applicable = &raw.applicable_to;
    let mut map = Map::new();
    map.insert("id".into(), json!(record.id));
    map.insert("name".into(), json!(record.spec.name));
    map.insert("rules".into(), rules);
    if let Some(message) = raw.error.as_ref().and_then(|e| e.message.as_deref()) {
        map.insert("error".into(), json!({ "message": message }));
    }
    map.insert(
        "applicable_to".into(),
        json!({
            "excluded": applicable.excluded.iter().map(target_json).collect::<Vec<_>>(),
            "included": applicable.included.iter().map(target_json).collect::<Vec<_>>(),
            "included_all": applicable.included_all,
        }),
    );
    // Not stored: what Voucherify answers for rule sets with rules and for
    // those that only restrict the items.
    let kind = if raw.rules.rules.is_empty() {
        "basic"
    } else {
        "advanced"
    };
    map.insert("type".into(), json!(kind));
    map.insert("context_type".into(), json!("global"));
    wire::insert_timestamps(&mut map, record.created_at, record.updated_at);
    map.insert("assignments_count".into(), json!(record.assignments_count));
    map.insert("object".into(), json!("validation_rules"));
    Json::Object(map)
}

/// `POST /v1/validation-rules`.
async fn create(
    State(state): State<AppState>,
    key: ServerKey,
    JsonBody(body): JsonBody<RuleBody>,
) -> Result<Reply<Json>, ApiError> {
    let spec = RuleSpec {
        name: body.name.unwrap_or_default(),
        raw: raw_rule_set(body.rules, body.error, body.applicable_to)?,
    };
    let now = state.now();
    let project = key.project;
    let record = state
        .store(move |store| store.create_rule(project, &spec, now))
        .await
        .map_err(rules_error)?;
    Ok(Reply(rule_json(&record)))
}

/// `GET /v1/validation-rules/{id}`.
async fn read(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<Reply<Json>, ApiError> {
    let project = key.project;
    let record = state.store(move |store| store.rule(project, &id)).await?;
    Ok(Reply(rule_json(&record)))
}

/// `PUT /v1/validation-rules/{id}`: the fields given (`name`, `rules`,
/// `error`, `applicable_to`) replace the stored ones.
async fn update(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RuleBody>,
) -> Result<Reply<Json>, ApiError> {
    // Checked before the store is touched, so that a bad body is 400 even
    // for an unknown id.
    let given = raw_rule_set(
        body.rules.clone(),
        body.error.clone(),
        body.applicable_to.clone(),
    )?;
    let now = state.now();
    let project = key.project;
    let record = state
        .store(move |store| {
            let existing = store.rule(project, &id)?;
            let mut raw = existing.spec.raw;
            if body.rules.is_some() {
                raw.rules = given.rules;
            }
            if body.error.is_some() {
                raw.error = given.error;
            }
            if body.applicable_to.is_some() {
                raw.applicable_to = given.applicable_to;
            }
            let spec = RuleSpec {
                name: body.name.unwrap_or(existing.spec.name),
                raw,
            };
            store.update_rule(project, &existing.id, &spec, now)
        })
        .await
        .map_err(rules_error)?;
    Ok(Reply(rule_json(&record)))
}

/// `DELETE /v1/validation-rules/{id}`: 204.
async fn remove(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let project = key.project;
    state
        .store(move |store| store.delete_rule(project, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/validation-rules`: the new envelope without a cursor,
/// `{object:"list", data_ref:"data", data, total}`.
async fn list(
    State(state): State<AppState>,
    key: ServerKey,
    WireQuery(params): WireQuery<ListParams>,
) -> Result<Reply<Json>, ApiError> {
    let query = params.to_query()?;
    let project = key.project;
    let page = state
        .store(move |store| store.rules(project, &query))
        .await?;
    let items = page.items.iter().map(rule_json).collect();
    Ok(Reply(wire::old_list("data", items, page.total)))
}

/// An assignment as the SDKs send one: the JS SDK's `{voucher: code}` or
/// `{campaign: id}`, the Python SDK's `{related_object_type,
/// related_object_id}` (type `voucher` when absent, as its model's
/// default).
#[derive(Debug, Clone, Default, Deserialize)]
struct AssignmentBody {
    voucher: Option<String>,
    campaign: Option<String>,
    promotion_tier: Option<String>,
    related_object_type: Option<String>,
    related_object_id: Option<String>,
}

impl AssignmentBody {
    fn target(self) -> Result<AssignmentTarget, ApiError> {
        let related = self.related_object_id.map(|id| {
            let kind = self
                .related_object_type
                .unwrap_or_else(|| "voucher".to_owned());
            (kind, id)
        });
        let given = [
            self.voucher.map(|id| ("voucher".to_owned(), id)),
            self.campaign.map(|id| ("campaign".to_owned(), id)),
            self.promotion_tier
                .map(|id| ("promotion_tier".to_owned(), id)),
            related,
        ];
        let mut given = given.into_iter().flatten();
        let (kind, id) = given.next().ok_or_else(|| {
            ApiError::invalid_payload("an assignment needs a voucher or a campaign")
        })?;
        if given.next().is_some() {
            return Err(ApiError::invalid_payload(
                "an assignment names exactly one voucher or campaign",
            ));
        }
        match kind.as_str() {
            "voucher" => Ok(AssignmentTarget::Voucher(id)),
            "campaign" => Ok(AssignmentTarget::Campaign(id)),
            other => Err(ApiError::invalid_payload(format!(
                "rules can be assigned to a voucher or a campaign, not a {other}"
            ))),
        }
    }
}

/// `POST /v1/validation-rules/{id}/assignments`.
async fn assign(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AssignmentBody>,
) -> Result<Reply<Json>, ApiError> {
    let target = body.target()?;
    let now = state.now();
    let project = key.project;
    let record = state
        .store(move |store| store.assign_rule(project, &id, &target, now))
        .await
        .map_err(rules_error)?;
    Ok(Reply(assignment_json(&record)))
}

/// `GET /v1/validation-rules/{id}/assignments`: `limit`/`page` over the
/// rule set's assignments (bounded by the store), newest first unless
/// `order=created_at`.
async fn list_assignments(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    WireQuery(params): WireQuery<ListParams>,
) -> Result<Reply<Json>, ApiError> {
    let query = params.to_query()?;
    let project = key.project;
    let mut assignments = state
        .store(move |store| store.assignments(project, &id))
        .await?;
    if query.order == SortOrder::NewestFirst {
        assignments.reverse();
    }
    let total = assignments.len() as u64;
    let skip = (query.page as usize - 1).saturating_mul(query.limit as usize);
    let items = assignments
        .iter()
        .skip(skip)
        .take(query.limit as usize)
        .map(assignment_json)
        .collect();
    Ok(Reply(wire::old_list("data", items, total)))
}

/// `DELETE /v1/validation-rules/{id}/assignments/{assignment_id}`: 204.
async fn unassign(
    State(state): State<AppState>,
    key: ServerKey,
    Path((id, assignment_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = key.project;
    state
        .store(move |store| store.unassign_rule(project, &id, &assignment_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_conditions_are_major_units_inside_and_integers_outside() {
        let raw = raw_rule_set(
            Some(json!({
                "1": {"name": "order.amount", "conditions": {"$more_than": [10000]}},
                "2": {"name": "product.id", "conditions": {"$is": ["p1"]},
                      "rules": {"1": {"name": "product.price",
                                      "conditions": {"$less_than": ["1550"]}}}},
                "3": {"name": "order.items.count", "conditions": {"$more_than": [2]}},
                "logic": "1 and 2 and 3"
            })),
            None,
            Some(json!({"included": [{"object": "product", "id": "p1",
                                      "amount_limit": 250}]})),
        )
        .unwrap();
        let one = &raw.rules.rules["1"].conditions["$more_than"];
        assert_eq!(one, &vec![Value::Number(Decimal::from(100))]);
        let nested = &raw.rules.rules["2"].rules.rules["1"].conditions["$less_than"];
        assert_eq!(nested, &vec![Value::Number(Decimal::new(155, 1))]);
        let count = &raw.rules.rules["3"].conditions["$more_than"];
        assert_eq!(count, &vec![Value::Number(Decimal::from(2))]);
        assert_eq!(
            raw.applicable_to.included[0].amount_limit,
            Some(Decimal::new(25, 1))
        );

        let record = RuleRecord {
            id: "val_1".into(),
            spec: RuleSpec {
                name: "r".into(),
                raw,
            },
            assignments_count: 0,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        };
        let json = rule_json(&record);
        assert_eq!(
            json["rules"]["1"]["conditions"]["$more_than"],
            json!([10000])
        );
        assert_eq!(
            json["rules"]["2"]["rules"]["1"]["conditions"]["$less_than"],
            json!([1550])
        );
        assert_eq!(json["rules"]["3"]["conditions"]["$more_than"], json!([2]));
        let target = &json["applicable_to"]["included"][0];
        assert_eq!(target["amount_limit"], json!(250));
        assert_eq!(target["effect"], "APPLY_TO_EVERY");
    }
}
