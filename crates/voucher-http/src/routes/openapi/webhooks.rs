//! The webhook endpoints' operations and schemas (`routes/webhooks.rs`).

use serde_json::{json, Map, Value};

use super::{op, schema_ref, Op};

/// The webhook endpoints' operations.
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
        .trailing_slash()
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
        .trailing_slash()
        .ok(200, "The endpoints (without their secrets).", "WebhookList"),
        webhook(
            "get",
            "/v1/webhooks/{id}",
            "getWebhook",
            "Get a webhook endpoint",
        )
        .ok(
            200,
            "The endpoint (without its secret), with its latest delivery `attempts`.",
            "Webhook",
        ),
        webhook(
            "delete",
            "/v1/webhooks/{id}",
            "deleteWebhook",
            "Delete a webhook endpoint",
        )
        .empty(204, "Deleted."),
    ]
}

/// The webhook endpoints' schemas.
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
                "attempts": {
                    "type": "array",
                    "description": "Only when one endpoint is read: its latest delivery attempts, newest first.",
                    "items": {
                        "type": "object",
                        "required": ["event_id", "event_type", "attempt", "attempted_at", "result"],
                        "properties": {
                            "event_id": {"type": "string"},
                            "event_type": {"type": "string"},
                            "attempt": {"type": "integer"},
                            "attempted_at": {"type": "string", "format": "date-time"},
                            "status": {"type": ["integer", "null"], "description": "The receiver's HTTP status."},
                            "error": {"type": ["string", "null"]},
                            "duration_ms": {"type": ["integer", "null"]},
                            "result": {"type": "string", "enum": ["DELIVERED", "FAILED"]},
                        },
                    },
                },
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
                "secret": {"type": "string", "description": "The signing secret; generated when absent."},
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
