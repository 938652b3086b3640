//! Campaigns: create (answering at once with `vouchers_generation_status:
//! IN_PROGRESS` while its `vouchers_count` codes are generated in the
//! background), get by id or name, update (only the fields given), delete,
//! list, add codes (a count, or one given code), import (JSON and CSV),
//! enable, disable, and the summary.

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value as JsonValue};
use voucher_core::code_pattern::{CodeConfig, CodePattern};
use voucher_core::limits::CODES_PER_GENERATION_MAX;
use voucher_core::money::Currency;
use voucher_core::port::{
    AssignmentTarget, BenefitSpec, CampaignRecord, CampaignSpec, GenerationStatus, ImportReport,
    ProjectId, VoucherTemplate,
};
use voucher_core::validity::IsoDuration;
use voucher_core::voucher::{Activity, CampaignKind, CampaignLimits, CampaignType, Category};

use crate::asset_token;
use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::render::{
    self, apply_validity, discount_json, gift_json, parse_validity, project_currency,
    quantity_json, validity_fields, voucher_json, ValidityWire,
};
use crate::routes::async_actions::{accepted, done_action, spawn_action};
use crate::routes::list_params::ListParams;
use crate::routes::vouchers::{
    import_csv_action, import_json_action, parse_benefit, parse_code, parse_count, parse_quantity,
    run_import, RedemptionWire, VoucherBody,
};
use crate::routes::Routes;
use crate::state::AppState;
use crate::wire::{self, JsonBody, WireQuery};

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route("/v1/campaigns", post(create).get(list))
        .route("/v1/campaigns/", post(create).get(list))
        .route(
            "/v1/campaigns/{id}",
            get(get_campaign).put(update).delete(delete),
        )
        .route("/v1/campaigns/{id}/vouchers", post(add_vouchers))
        .route("/v1/campaigns/{id}/vouchers/", post(add_vouchers))
        .route("/v1/campaigns/{id}/vouchers/{code}", post(add_code))
        .route("/v1/campaigns/{id}/import", post(import_json))
        .route("/v1/campaigns/{id}/importCSV", post(import_csv))
        .route("/v1/campaigns/{id}/enable", post(enable))
        .route("/v1/campaigns/{id}/disable", post(disable))
        .route("/v1/campaigns/{id}/summary", get(summary))
}

// ---------------------------------------------------------------------------
// Wire shapes

/// The `voucher` template of a campaign request.
#[derive(Debug, Clone, Default, Deserialize)]
struct TemplateBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    discount: Option<JsonValue>,
    gift: Option<JsonValue>,
    loyalty_card: Option<JsonValue>,
    redemption: Option<RedemptionWire>,
    code_config: Option<CodeConfig>,
}

/// A campaign as requests send it. Server-managed fields (`id`,
/// `vouchers_count` in an update, `created_at`, statuses) are not read.
#[derive(Debug, Clone, Default, Deserialize)]
struct CampaignBody {
    name: Option<String>,
    description: Option<String>,
    campaign_type: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    vouchers_count: Option<JsonValue>,
    active: Option<bool>,
    activity_duration_after_publishing: Option<String>,
    category: Option<String>,
    metadata: Option<JsonValue>,
    validation_rules: Option<Vec<String>>,
    voucher: Option<TemplateBody>,
    #[serde(flatten)]
    validity: ValidityWire,
}

fn invalid_campaign(details: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_campaign", details)
}

fn parse_campaign_type(text: &str) -> Result<CampaignType, ApiError> {
    match text {
        "DISCOUNT_COUPONS" => Ok(CampaignType::DiscountCoupons),
        "GIFT_VOUCHERS" => Ok(CampaignType::GiftVouchers),
        "LOYALTY_PROGRAM" | "PROMOTION" | "REFERRAL_PROGRAM" => Err(invalid_campaign(format!(
            "campaign_type {text} is not supported"
        ))),
        other => Err(ApiError::invalid_payload(format!(
            "campaign_type {other:?} is not one of DISCOUNT_COUPONS, GIFT_VOUCHERS"
        ))),
    }
}

fn parse_kind(text: &str) -> Result<CampaignKind, ApiError> {
    match text {
        "AUTO_UPDATE" => Ok(CampaignKind::AutoUpdate),
        "STATIC" => Ok(CampaignKind::Static),
        "STANDALONE" => Ok(CampaignKind::Standalone),
        other => Err(ApiError::invalid_payload(format!(
            "type {other:?} is not one of AUTO_UPDATE, STATIC, STANDALONE"
        ))),
    }
}

fn campaign_type_name(kind: CampaignType) -> &'static str {
    match kind {
        CampaignType::DiscountCoupons => "DISCOUNT_COUPONS",
        CampaignType::GiftVouchers => "GIFT_VOUCHERS",
    }
}

fn kind_name(kind: CampaignKind) -> &'static str {
    match kind {
        CampaignKind::Static => "STATIC",
        CampaignKind::AutoUpdate => "AUTO_UPDATE",
        CampaignKind::Standalone => "STANDALONE",
    }
}

fn generation_name(status: GenerationStatus) -> &'static str {
    match status {
        GenerationStatus::InProgress => "IN_PROGRESS",
        GenerationStatus::Done => "DONE",
        GenerationStatus::Failed => "FAILED",
    }
}

/// The stored form of a code config (length and charset spelled out);
/// 400 `invalid_code_config` when it is not usable.
fn stored_code_config(config: &CodeConfig) -> Result<CodeConfig, ApiError> {
    CodePattern::new(config)
        .map(|p| p.config())
        .map_err(|e| ApiError::bad_request("invalid_code_config", e.to_string()))
}

fn parse_duration(text: &str) -> Result<IsoDuration, ApiError> {
    IsoDuration::parse(text)
        .map_err(|e| ApiError::invalid_payload(format!("activity_duration_after_publishing: {e}")))
}

fn template_json(template: &VoucherTemplate, currency: Currency) -> JsonValue {
    let mut object = Map::new();
    match &template.benefit {
        BenefitSpec::Discount(discount) => {
            object.insert("type".into(), json!("DISCOUNT_VOUCHER"));
            object.insert("discount".into(), discount_json(discount));
        }
        BenefitSpec::Gift { amount_minor } => {
            object.insert("type".into(), json!("GIFT_VOUCHER"));
            object.insert(
                "gift".into(),
                gift_json(*amount_minor, *amount_minor, currency),
            );
        }
    }
    object.insert(
        "redemption".into(),
        json!({"quantity": quantity_json(template.quantity)}),
    );
    object.insert(
        "code_config".into(),
        serde_json::to_value(&template.code_config).unwrap_or_else(|_| json!({})),
    );
    object.insert("is_referral_code".into(), json!(false));
    JsonValue::Object(object)
}

/// The wire's campaign object (`object: "campaign"`).
pub(crate) fn campaign_json(campaign: &CampaignRecord, currency: Currency) -> JsonValue {
    let spec = &campaign.spec;
    let mut object = Map::new();
    object.insert("id".into(), json!(campaign.id));
    object.insert("name".into(), json!(spec.name));
    object.insert("description".into(), json!(spec.description));
    object.insert(
        "campaign_type".into(),
        json!(campaign_type_name(spec.campaign_type)),
    );
    object.insert("type".into(), json!(kind_name(spec.kind)));
    object.insert("voucher".into(), template_json(&spec.template, currency));
    object.insert("auto_join".into(), json!(false));
    object.insert("join_once".into(), json!(false));
    object.insert("use_voucher_metadata_schema".into(), json!(false));
    object.extend(validity_fields(&spec.validity));
    object.insert(
        "activity_duration_after_publishing".into(),
        json!(spec
            .activity_duration_after_publishing
            .map(|d| d.to_string())),
    );
    object.insert("vouchers_count".into(), json!(campaign.codes_count));
    object.insert("active".into(), json!(spec.activity.is_enabled()));
    object.insert("metadata".into(), wire::metadata_json(&spec.metadata));
    wire::insert_timestamps(&mut object, campaign.created_at, campaign.updated_at);
    object.insert(
        "category".into(),
        json!(spec.categories.first().map(|c| c.name.clone())),
    );
    object.insert("category_id".into(), JsonValue::Null);
    object.insert("categories".into(), json!([]));
    object.insert("creation_status".into(), json!("DONE"));
    object.insert(
        "vouchers_generation_status".into(),
        json!(generation_name(campaign.generation)),
    );
    object.insert("protected".into(), json!(false));
    // The rules assigned to the campaign itself, as the voucher object lists
    // its own.
    let assignments: Vec<JsonValue> = campaign
        .assignments
        .iter()
        .map(render::assignment_json)
        .collect();
    let total = assignments.len();
    object.insert(
        "validation_rules_assignments".into(),
        json!({"object": "list", "data_ref": "data", "data": assignments, "total": total}),
    );
    object.insert("object".into(), json!("campaign"));
    JsonValue::Object(object)
}

/// 400 `invalid_campaign` when the codes' worth does not suit the
/// campaign's type (a discount in a gift campaign, a gift in a discount
/// one).
fn check_benefit(benefit: &BenefitSpec, campaign_type: CampaignType) -> Result<(), ApiError> {
    match (benefit, campaign_type) {
        (BenefitSpec::Discount(_), CampaignType::DiscountCoupons)
        | (BenefitSpec::Gift { .. }, CampaignType::GiftVouchers) => Ok(()),
        _ => Err(invalid_campaign(
            "the voucher type does not match the campaign type",
        )),
    }
}

impl TemplateBody {
    /// The worth its `type`, `discount` and `gift` give, if any.
    fn benefit(&self, currency: Currency) -> Result<Option<BenefitSpec>, ApiError> {
        parse_benefit(
            self.kind.as_deref(),
            self.discount.as_ref(),
            self.gift.as_ref(),
            self.loyalty_card.as_ref(),
            currency,
        )
    }

    /// The template of a new campaign of `campaign_type`.
    fn template(
        &self,
        campaign_type: CampaignType,
        currency: Currency,
    ) -> Result<VoucherTemplate, ApiError> {
        let benefit = self.benefit(currency)?.ok_or_else(|| {
            ApiError::invalid_payload(match campaign_type {
                CampaignType::DiscountCoupons => "voucher.discount is required",
                CampaignType::GiftVouchers => "voucher.gift is required",
            })
        })?;
        check_benefit(&benefit, campaign_type)?;
        Ok(VoucherTemplate {
            benefit,
            quantity: parse_quantity(self.redemption.as_ref())?
                .unwrap_or(voucher_core::voucher::RedemptionQuantity::Unlimited),
            code_config: stored_code_config(&self.code_config.clone().unwrap_or_default())?,
        })
    }
}

impl CampaignBody {
    fn spec(&self, currency: Currency) -> Result<CampaignSpec, ApiError> {
        let name = self
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| ApiError::invalid_payload("name is required"))?;
        let template_body = self.voucher.clone().unwrap_or_default();
        let campaign_type = match (self.campaign_type.as_deref(), template_body.kind.as_deref()) {
            (Some(kind), _) => parse_campaign_type(kind)?,
            (None, Some("GIFT_VOUCHER")) => CampaignType::GiftVouchers,
            (None, _) if template_body.gift.as_ref().is_some_and(|g| !g.is_null()) => {
                CampaignType::GiftVouchers
            }
            (None, _) => CampaignType::DiscountCoupons,
        };
        let kind = self
            .kind
            .as_deref()
            .map(parse_kind)
            .transpose()?
            .unwrap_or(CampaignKind::AutoUpdate);
        let vouchers_count = match &self.vouchers_count {
            None | Some(JsonValue::Null) => 0,
            Some(n) => parse_count(n, "vouchers_count", CODES_PER_GENERATION_MAX)?,
        };
        Ok(CampaignSpec {
            name,
            description: self.description.clone(),
            campaign_type,
            kind,
            activity: Activity::from_active(self.active.unwrap_or(true)),
            validity: parse_validity(&self.validity)?,
            time_zone: None,
            limits: CampaignLimits::default(),
            categories: self.categories(),
            template: template_body.template(campaign_type, currency)?,
            vouchers_count,
            activity_duration_after_publishing: self
                .activity_duration_after_publishing
                .as_deref()
                .map(parse_duration)
                .transpose()?,
            metadata: wire::metadata(self.metadata.clone())?,
        })
    }

    fn categories(&self) -> Vec<Category> {
        self.category
            .iter()
            .filter(|c| !c.is_empty())
            .map(|name| Category {
                name: name.clone(),
                hierarchy: 1,
            })
            .collect()
    }

    /// The campaign's settings after an update giving only some fields.
    fn apply(&self, current: &CampaignSpec, currency: Currency) -> Result<CampaignSpec, ApiError> {
        let mut spec = current.clone();
        if let Some(name) = self.name.clone().filter(|n| !n.trim().is_empty()) {
            spec.name = name;
        }
        if let Some(description) = &self.description {
            spec.description = Some(description.clone());
        }
        if let Some(kind) = self.campaign_type.as_deref() {
            spec.campaign_type = parse_campaign_type(kind)?;
        }
        if let Some(kind) = self.kind.as_deref() {
            spec.kind = parse_kind(kind)?;
        }
        if let Some(active) = self.active {
            spec.activity = Activity::from_active(active);
        }
        if !self.validity.is_empty() {
            spec.validity = apply_validity(&current.validity, &self.validity)?;
        }
        if let Some(duration) = self.activity_duration_after_publishing.as_deref() {
            spec.activity_duration_after_publishing = Some(parse_duration(duration)?);
        }
        if self.category.is_some() {
            spec.categories = self.categories();
        }
        if let Some(metadata) = &self.metadata {
            spec.metadata = wire::metadata(Some(metadata.clone()))?;
        }
        if let Some(template) = &self.voucher {
            if let Some(benefit) = template.benefit(currency)? {
                check_benefit(&benefit, spec.campaign_type)?;
                spec.template.benefit = benefit;
            }
            if let Some(quantity) = parse_quantity(template.redemption.as_ref())? {
                spec.template.quantity = quantity;
            }
            if let Some(config) = &template.code_config {
                spec.template.code_config = stored_code_config(config)?;
            }
        }
        // Server-managed: the count of codes is what exists.
        spec.vouchers_count = current.vouchers_count;
        Ok(spec)
    }
}

fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // Codes only need to differ from run to run; the clock will do.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        return u64::try_from(nanos & u128::from(u64::MAX)).unwrap_or(0);
    }
    u64::from_le_bytes(bytes)
}

// ---------------------------------------------------------------------------
// Handlers

async fn create(
    State(state): State<AppState>,
    key: ServerKey,
    JsonBody(body): JsonBody<CampaignBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let spec = body.spec(currency)?;
    let rules = body.validation_rules.clone().unwrap_or_default();
    for rule in &rules {
        let rule = rule.clone();
        state.store(move |store| store.rule(project, &rule)).await?;
    }
    let now = state.now();
    let mut campaign = state
        .store(move |store| store.create_campaign(project, &spec, now))
        .await?;
    for rule in rules {
        let target = AssignmentTarget::Campaign(campaign.id.clone());
        let assignment = state
            .store(move |store| store.assign_rule(project, &rule, &target, now))
            .await?;
        campaign.assignments.push(assignment);
    }
    if campaign.generation == GenerationStatus::InProgress {
        let (state, id, count) = (
            state.clone(),
            campaign.id.clone(),
            campaign.spec.vouchers_count,
        );
        tokio::spawn(async move {
            let seed = random_seed();
            let now = state.now();
            if let Err(e) = state
                .store(move |store| store.generate_codes(project, &id, count, seed, now))
                .await
            {
                tracing::error!(key = %e.key, "campaign code generation failed");
            }
        });
    }
    Ok(Json(campaign_json(&campaign, currency)))
}

async fn get_campaign(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let campaign = state
        .store(move |store| store.campaign(project, &id))
        .await?;
    Ok(Json(campaign_json(&campaign, currency)))
}

async fn update(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CampaignBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let lookup = id.clone();
    let current = state
        .store(move |store| store.campaign(project, &lookup))
        .await?;
    let spec = body.apply(&current.spec, currency)?;
    let now = state.now();
    let campaign_id = current.id;
    let campaign = state
        .store(move |store| store.update_campaign(project, &campaign_id, &spec, now))
        .await?;
    Ok(Json(campaign_json(&campaign, currency)))
}

async fn delete(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let project = key.project;
    let now = state.now();
    let lookup = id.clone();
    let campaign = state
        .store(move |store| store.campaign(project, &lookup))
        .await?;
    let campaign_id = campaign.id.clone();
    state
        .store(move |store| store.delete_campaign(project, &campaign_id, now))
        .await?;
    let report = ImportReport {
        done_count: campaign.codes_count,
        ..ImportReport::default()
    };
    let action = done_action(&state, project, "CAMPAIGN.VOUCHERS_DELETE", report).await?;
    Ok(accepted(&action))
}

async fn list(
    State(state): State<AppState>,
    key: ServerKey,
    WireQuery(params): WireQuery<ListParams>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let query = params.to_query()?;
    let page = state
        .store(move |store| store.campaigns(project, &query))
        .await?;
    let items = page
        .items
        .iter()
        .map(|c| campaign_json(c, currency))
        .collect();
    Ok(Json(wire::old_list("campaigns", items, page.total)))
}

#[derive(Debug, Default, Deserialize)]
struct AddParams {
    vouchers_count: Option<String>,
}

async fn add_vouchers(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    WireQuery(params): WireQuery<AddParams>,
    JsonBody(body): JsonBody<VoucherBody>,
) -> Result<Response, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let count = match (
        params.vouchers_count.filter(|c| !c.is_empty()),
        &body.vouchers_count,
    ) {
        (Some(text), _) => parse_count(&json!(text), "vouchers_count", CODES_PER_GENERATION_MAX)?,
        (None, Some(n)) if !n.is_null() => {
            parse_count(n, "vouchers_count", CODES_PER_GENERATION_MAX)?
        }
        _ => 1,
    };
    if count == 0 {
        return Err(ApiError::invalid_payload(
            "vouchers_count must be at least 1",
        ));
    }
    let lookup = id.clone();
    let campaign = state
        .store(move |store| store.campaign(project, &lookup))
        .await?;
    let now = state.now();
    if count == 1 {
        let spec = body.spec(None, Some(campaign.id.clone()), currency)?;
        let voucher = state
            .store(move |store| store.create_voucher(project, &spec, now))
            .await?;
        return Ok(Json(voucher_json(&voucher, currency, &assets)).into_response());
    }
    if body.code.is_some() {
        return Err(ApiError::invalid_payload(
            "a code can only be given for one voucher",
        ));
    }
    let campaign_id = campaign.id.clone();
    let action = if body.has_voucher_fields() {
        let spec = body.spec(None, Some(campaign_id), currency)?;
        spawn_action(
            &state,
            project,
            "CAMPAIGN.VOUCHERS_GENERATE",
            move |store| {
                let specs = (1..=count).map(|row| (row, spec.clone())).collect();
                Ok(run_import(store, project, specs, Vec::new(), now))
            },
        )
        .await?
    } else {
        let seed = random_seed();
        spawn_action(
            &state,
            project,
            "CAMPAIGN.VOUCHERS_GENERATE",
            move |store| {
                let done_count = store.generate_codes(project, &campaign_id, count, seed, now)?;
                Ok(ImportReport {
                    done_count,
                    ..ImportReport::default()
                })
            },
        )
        .await?
    };
    Ok(accepted(&action))
}

async fn add_code(
    State(state): State<AppState>,
    key: ServerKey,
    Path((id, code)): Path<(String, String)>,
    JsonBody(body): JsonBody<VoucherBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let code = parse_code(&code)?;
    let lookup = id.clone();
    let campaign = state
        .store(move |store| store.campaign(project, &lookup))
        .await?;
    let spec = body.spec(Some(code), Some(campaign.id), currency)?;
    let now = state.now();
    let voucher = state
        .store(move |store| store.create_voucher(project, &spec, now))
        .await?;
    Ok(Json(voucher_json(&voucher, currency, &assets)))
}

async fn existing_campaign(
    state: &AppState,
    project: ProjectId,
    id: String,
) -> Result<CampaignRecord, ApiError> {
    state.store(move |store| store.campaign(project, &id)).await
}

async fn import_json(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<JsonValue>,
) -> Result<Response, ApiError> {
    let project = key.project;
    let campaign = existing_campaign(&state, project, id).await?;
    let campaign = Some(campaign.id);
    import_json_action(&state, project, campaign, "CAMPAIGN.VOUCHERS_IMPORT", body).await
}

async fn import_csv(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let project = key.project;
    let campaign = existing_campaign(&state, project, id).await?;
    let campaign = Some(campaign.id);
    import_csv_action(
        &state,
        project,
        campaign,
        "CAMPAIGN.VOUCHERS_IMPORT_CSV",
        request,
    )
    .await
}

async fn set_active(
    state: AppState,
    key: ServerKey,
    id: String,
    active: bool,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let now = state.now();
    let actor = key.key.app_id.clone();
    state
        .store(move |store| store.set_campaign_active(project, &id, active, &actor, now))
        .await?;
    Ok(Json(json!({})))
}

async fn enable(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<Json<JsonValue>, ApiError> {
    set_active(state, key, id, true).await
}

async fn disable(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<Json<JsonValue>, ApiError> {
    set_active(state, key, id, false).await
}

async fn summary(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let (campaign, summary) = state
        .store(move |store| {
            let campaign = store.campaign(project, &id)?;
            let summary = store.campaign_summary(project, &campaign.id)?;
            Ok((campaign, summary))
        })
        .await?;
    let money = |minor: i64| wire::to_wire(minor, currency);
    let mut object = json!({
        "object": "campaign_summary",
        "campaign": campaign_json(&campaign, currency),
        "redemptions": summary.redemptions_total,
        "redemptions_succeeded": summary.redemptions_succeeded,
        "redemptions_failed": summary.redemptions_failed,
        "rollbacks": summary.rollbacks,
        "rollbacks_succeeded": summary.rollbacks,
        "rollbacks_failed": 0,
        "orders_amount": money(summary.orders_amount_minor),
        "orders_rolledback_amount": money(summary.orders_rolledback_amount_minor),
        "vouchers_created": summary.vouchers_created,
        "publications": summary.vouchers_published,
        "publications_succeeded": summary.vouchers_published,
        "publications_failed": 0,
        "discounted_amount": money(summary.discounted_amount_minor),
        "rolledback_discounted_amount": money(summary.rolledback_discounted_amount_minor),
    });
    if campaign.spec.campaign_type == CampaignType::GiftVouchers {
        if let Some(map) = object.as_object_mut() {
            map.insert(
                "amount_redeemed".into(),
                json!(money(summary.gift_spent_minor)),
            );
            map.insert(
                "amount_outstanding".into(),
                json!(money(summary.gift_outstanding_minor)),
            );
        }
    }
    Ok(Json(object))
}
