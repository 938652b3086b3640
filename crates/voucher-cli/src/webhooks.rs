//! `voucher webhooks`: a project's webhook endpoints on the local file
//! (add, list, remove). The server (`voucher serve`) delivers their events;
//! a secret is printed once, when the endpoint is added.

use chrono::{DateTime, Utc};
use serde::Serialize;
use voucher_core::port::{WebhookRecord, WebhookStore};

use crate::failure::Failure;
use crate::output::{self, Fields};
use crate::session::Global;

#[derive(Debug, clap::Subcommand)]
pub enum WebhooksCommand {
    /// Add an endpoint that receives the listed event types.
    #[command(
        after_help = "Example:\n  voucher webhooks add https://shop.example/hooks --events redemption.succeeded,redemption.failed\n\nEvent types: redemption.succeeded, redemption.failed, redemption.rollback.succeeded,\nvoucher.created, voucher.enabled, voucher.disabled, voucher.deleted,\nvoucher.gift.balance_added, publication.succeeded, campaign.created,\ncampaign.enabled, campaign.disabled"
    )]
    Add(AddArgs),
    /// List the project's endpoints (without their secrets).
    #[command(after_help = "Example:\n  voucher webhooks list --json")]
    List,
    /// Remove an endpoint and its pending deliveries.
    #[command(after_help = "Example:\n  voucher webhooks remove wh_19ab3c4d5e6f0a1b2c3d4e5f6a7")]
    Remove(RemoveArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Where events are POSTed (http:// or https://).
    pub url: String,
    /// The event types, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub events: Vec<String>,
    /// The signing secret (generated when absent; printed once).
    #[arg(long)]
    pub secret: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The endpoint's id (`wh_...`).
    pub id: String,
}

#[derive(Debug, Serialize)]
struct WebhookOut {
    id: String,
    url: String,
    events: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    created_at: DateTime<Utc>,
}

impl Fields for WebhookOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("id", self.id.clone()),
            ("url", self.url.clone()),
            ("events", self.events.join(",")),
            ("created_at", self.created_at.to_rfc3339()),
        ];
        if let Some(secret) = &self.secret {
            fields.push(("secret", secret.clone()));
        }
        fields
    }
}

fn out(record: WebhookRecord, with_secret: bool) -> WebhookOut {
    WebhookOut {
        id: record.id,
        url: record.spec.url,
        events: record.spec.events.iter().map(|t| t.as_str()).collect(),
        secret: with_secret.then_some(record.spec.secret),
        created_at: record.created_at,
    }
}

/// Runs a `webhooks` command.
pub fn run(global: &Global, command: &WebhooksCommand) -> Result<(), Failure> {
    let session = global.session(false)?;
    match command {
        WebhooksCommand::Add(args) => {
            let spec = voucher_http::routes::webhooks::parse_spec(
                &args.url,
                &args.events,
                args.secret.clone(),
            )
            .map_err(|e| Failure::usage("invalid_payload", e))?;
            let record = session.store.add_webhook(session.id(), &spec, Utc::now())?;
            output::object(session.format, &out(record, true))
        }
        WebhooksCommand::List => {
            let items: Vec<WebhookOut> = session
                .store
                .webhooks(session.id())?
                .into_iter()
                .map(|r| out(r, false))
                .collect();
            output::list(
                session.format,
                &items,
                &["id", "url", "events", "created_at"],
            )
        }
        WebhooksCommand::Remove(args) => {
            session
                .store
                .remove_webhook(session.id(), &args.id, Utc::now())?;
            if session.format == output::Format::Json {
                output::json(&serde_json::json!({"id": args.id, "removed": true}))
            } else {
                println!("removed {}", args.id);
                Ok(())
            }
        }
    }
}
