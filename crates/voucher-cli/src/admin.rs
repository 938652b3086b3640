//! The operator's commands on the local file: `projects`, `keys` (API keys
//! of the server; a secret is printed once, when made, and only its hash is
//! stored) and `backup` (an online copy, safe while a server runs).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;
use voucher_core::port::{
    ClientPermission, KeyKind, KeySpec, MaintenanceStore, ProjectRecord, ProjectSpec, ProjectStore,
};

use crate::bootstrap::{parse_currency, parse_time_zone, random_hex};
use crate::failure::Failure;
use crate::output::{self, Fields};
use crate::session::Global;

/// `voucher projects ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ProjectsCommand {
    /// Create a project (e.g. a sandbox next to `default`).
    #[command(
        after_help = "Example:\n  voucher projects create sandbox --currency EUR --tz Europe/Warsaw"
    )]
    Create(ProjectArgs),
    /// List projects.
    #[command(after_help = "Example:\n  voucher projects list")]
    List,
}

/// Flags of `projects create`.
#[derive(Debug, clap::Args)]
pub struct ProjectArgs {
    /// Unique name.
    pub name: String,
    /// Its one currency.
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// The time zone of its validity windows.
    #[arg(long, default_value = "UTC")]
    pub tz: String,
}

/// `voucher keys ...`.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// List API keys (never their secrets).
    #[command(after_help = "Example:\n  voucher keys list")]
    List,
    /// Create an API key of --project; its secret is printed only now.
    #[command(
        after_help = "Examples:\n  voucher keys create --json\n  voucher keys create --project sandbox --client --origins https://shop.example --allow-redeem"
    )]
    Create(KeyArgs),
    /// Revoke a key by its application id.
    #[command(after_help = "Example:\n  voucher keys revoke 3f2a9c0d1e7b4a56")]
    Revoke(RevokeArgs),
}

/// Flags of `keys create`.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// A client key (for browsers and apps: validate, and what --allow-* grants).
    #[arg(long)]
    pub client: bool,
    /// Origins a client key is accepted from (comma separated; none: any).
    #[arg(long, value_delimiter = ',', requires = "client")]
    pub origins: Vec<String>,
    /// A client key may redeem.
    #[arg(long, requires = "client")]
    pub allow_redeem: bool,
    /// A client key may publish codes to customers.
    #[arg(long, requires = "client")]
    pub allow_publish: bool,
}

/// Flags of `keys revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The key's application id.
    pub id: String,
}

/// Flags of `backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The file to write the copy to.
    pub file: PathBuf,
}

/// A project as printed.
#[derive(Debug, Serialize)]
pub struct ProjectOut {
    /// Name.
    pub name: String,
    /// Row id.
    pub id: i64,
    /// Currency.
    pub currency: String,
    /// Time zone.
    pub time_zone: String,
    /// When created.
    pub created_at: DateTime<Utc>,
}

impl Fields for ProjectOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("name", self.name.clone()),
            ("id", self.id.to_string()),
            ("currency", self.currency.clone()),
            ("time_zone", self.time_zone.clone()),
            ("created_at", self.created_at.to_rfc3339()),
        ]
    }
}

fn project_out(p: &ProjectRecord) -> ProjectOut {
    ProjectOut {
        name: p.spec.name.clone(),
        id: p.id.0,
        currency: p.spec.currency.code().to_owned(),
        time_zone: p.spec.time_zone.name().to_owned(),
        created_at: p.created_at,
    }
}

/// A key as listed.
#[derive(Debug, Serialize)]
pub struct KeyOut {
    /// `server` or `client`.
    pub kind: &'static str,
    /// The project's name.
    pub project: String,
    /// The application id.
    pub id: String,
    /// Allowed origins of a client key.
    pub origins: Vec<String>,
    /// Extra permissions of a client key.
    pub permissions: Vec<&'static str>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Fields for KeyOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kind", self.kind.to_owned()),
            ("project", self.project.clone()),
            ("id", self.id.clone()),
            ("origins", self.origins.join(",")),
            ("permissions", self.permissions.join(",")),
            ("created_at", self.created_at.to_rfc3339()),
            (
                "revoked_at",
                self.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            ),
        ]
    }
}

/// A new key, with its secret (printed once).
#[derive(Debug, Serialize)]
pub struct KeyCreated {
    /// `server` or `client`.
    pub kind: &'static str,
    /// The project's name.
    pub project: String,
    /// The application id.
    pub id: String,
    /// The secret.
    pub secret: String,
}

impl Fields for KeyCreated {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kind", self.kind.to_owned()),
            ("project", self.project.clone()),
            ("id", self.id.clone()),
            ("secret", self.secret.clone()),
        ]
    }
}

fn kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Server => "server",
        KeyKind::Client => "client",
    }
}

fn permission_name(p: ClientPermission) -> &'static str {
    match p {
        ClientPermission::Redeem => "redeem",
        ClientPermission::Publish => "publish",
    }
}

/// Runs `voucher projects ...`.
pub fn projects(global: &Global, command: &ProjectsCommand) -> Result<(), Failure> {
    let format = global.format(false);
    let store = global.store(None)?;
    match command {
        ProjectsCommand::Create(args) => {
            let spec = ProjectSpec {
                name: args.name.clone(),
                currency: parse_currency(&args.currency)?,
                time_zone: parse_time_zone(&args.tz)?,
                stacking: Default::default(),
            };
            let project = store.create_project(&spec, Utc::now())?;
            output::object(format, &project_out(&project))
        }
        ProjectsCommand::List => {
            let items: Vec<ProjectOut> = store.projects()?.iter().map(project_out).collect();
            output::list(
                format,
                &items,
                &["name", "id", "currency", "time_zone", "created_at"],
            )
        }
    }
}

/// Runs `voucher keys ...`.
pub fn keys(global: &Global, command: &KeysCommand) -> Result<(), Failure> {
    let format = global.format(false);
    match command {
        KeysCommand::List => {
            let store = global.store(None)?;
            let projects = store.projects()?;
            let name = |id| {
                projects
                    .iter()
                    .find(|p| p.id == id)
                    .map(|p| p.spec.name.clone())
                    .unwrap_or_default()
            };
            let items: Vec<KeyOut> = store
                .keys()?
                .into_iter()
                .map(|k| KeyOut {
                    kind: kind_name(k.kind),
                    project: name(k.project),
                    id: k.app_id,
                    origins: k.origins,
                    permissions: k.permissions.into_iter().map(permission_name).collect(),
                    created_at: k.created_at,
                    revoked_at: k.revoked_at,
                })
                .collect();
            output::list(
                format,
                &items,
                &[
                    "kind",
                    "project",
                    "id",
                    "origins",
                    "permissions",
                    "created_at",
                    "revoked_at",
                ],
            )
        }
        KeysCommand::Create(args) => {
            let session = global.session(false)?;
            let kind = if args.client {
                KeyKind::Client
            } else {
                KeyKind::Server
            };
            let mut permissions = Vec::new();
            if args.allow_redeem {
                permissions.push(ClientPermission::Redeem);
            }
            if args.allow_publish {
                permissions.push(ClientPermission::Publish);
            }
            let spec = KeySpec {
                project: session.id(),
                kind,
                app_id: random_hex(8)?,
                secret: random_hex(24)?,
                origins: args.origins.clone(),
                permissions,
            };
            let key = session.store.create_key(&spec, Utc::now())?;
            let out = KeyCreated {
                kind: kind_name(key.kind),
                project: session.project.spec.name.clone(),
                id: key.app_id,
                secret: spec.secret,
            };
            output::object(format, &out)
        }
        KeysCommand::Revoke(args) => {
            let store = global.store(None)?;
            store.revoke_key(&args.id, Utc::now())?;
            if format == output::Format::Json {
                output::json(&serde_json::json!({ "id": args.id, "revoked": true }))
            } else {
                eprintln!("revoked key {}", args.id);
                Ok(())
            }
        }
    }
}

/// Runs `voucher backup FILE`.
pub fn backup(global: &Global, args: &BackupArgs) -> Result<(), Failure> {
    let store = global.store(None)?;
    store.backup(&args.file)?;
    if global.json {
        output::json(&serde_json::json!({ "file": args.file.display().to_string() }))
    } else {
        eprintln!(
            "backed up {} to {}",
            global.db.display(),
            args.file.display()
        );
        Ok(())
    }
}
