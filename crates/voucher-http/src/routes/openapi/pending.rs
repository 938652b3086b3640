//! PENDING: operations whose routes other branches are adding (webhook
//! endpoints). They are in the document so that
//! it is complete once those branches are merged; until then
//! `PENDING_ROUTES` in `tests/it/openapi.rs` names them, and the test skips
//! them in the check that every operation answers. When a route lands,
//! remove its line from `PENDING_ROUTES` (and, once the list is empty, this
//! note); the operations can stay here or move to `operations.rs`.

use serde_json::{json, Map, Value};

use super::{op, schema_ref, Op};

/// The pending operations.
pub(super) fn operations() -> Vec<Op> {
    let webhook = |method: &'static str, path: &'static str, id: &str, summary: &str| {
        let o = op(method, path, id, "webhooks", summary).server();
        let o = if method == "get" { o } else { o.idempotent() };
        if path.contains('{') {
            o.error(404, "NotFound")
        } else {
            o
        }
    };
    vec![
        webhook(
            "post",
            "/v1/webhooks",
            "createWebhook",
            "Create a webhook endpoint",
        )
        .body("WebhookInput")
        .ok(
            200,
            "The endpoint, with its signing `secret` (shown only here).",
            "Webhook",
        ),
        webhook(
            "get",
            "/v1/webhooks",
            "listWebhooks",
            "List webhook endpoints",
        )
        .ok(200, "The endpoints (without their secrets).", "WebhookList"),
        webhook(
            "get",
            "/v1/webhooks/{id}",
            "getWebhook",
            "Get a webhook endpoint",
        )
        .ok(200, "The endpoint (without its secret).", "Webhook"),
        webhook(
            "delete",
            "/v1/webhooks/{id}",
            "deleteWebhook",
            "Delete a webhook endpoint",
        )
        .empty(204, "Deleted."),
    ]
}

/// The pending schemas.
pub(super) fn schemas() -> Map<String, Value> {
    let mut s = Map::new();
    s.insert(
        "Webhook".into(),
        json!({
            "type": "object",
            "description": "A webhook endpoint: the events posted to `url`, signed with `secret`.",
            "required": ["id", "object", "url", "events", "created_at"],
            "properties": {
                "id": {"type": "string", "description": "`wh_...`"},
                "object": {"type": "string", "const": "webhook"},
                "url": {"type": "string", "format": "uri"},
                "events": {"type": "array", "items": {"type": "string"}},
                "secret": {"type": "string", "description": "Only in the answer to the creation."},
                "created_at": {"type": "string", "format": "date-time"},
            },
        }),
    );
    s.insert(
        "WebhookInput".into(),
        json!({
            "type": "object",
            "description": "Where to post which events.",
            "required": ["url", "events"],
            "properties": {
                "url": {"type": "string", "format": "uri"},
                "events": {"type": "array", "items": {"type": "string"}},
            },
        }),
    );
    s.insert(
        "WebhookList".into(),
        json!({
            "type": "object",
            "description": "Webhook endpoints.",
            "required": ["object", "data_ref", "data", "total"],
            "properties": {
                "object": {"type": "string", "const": "list"},
                "data_ref": {"type": "string", "const": "data"},
                "data": {"type": "array", "items": schema_ref("Webhook")},
                "total": {"type": "integer"},
            },
        }),
    );
    s
}
