//! `fiveledger publish`: the 双公开 publication of a scope (Publish), one
//! immutable new version per inspected unit, before `export public`
//! prints it.

use clap::Args;
use fiveledger_proto::ledgers::{Publication, PublishRequest};
use serde_json::json;

use super::connect::{Services, failed};
use super::scope::Scope;
use super::{Output, ServiceArgs};

/// Publish a scope (双公开): a new version per inspected unit with entries
/// in it, in a public and an internal edition (PublicationService.Publish).
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// An inspection (`rounds/R/inspections/I`), a round (`rounds/R`) or an
    /// organisation path (the units within it).
    #[arg(long)]
    pub scope: Scope,
    /// Idempotency key: a retry with the same key publishes nothing twice.
    #[arg(long)]
    pub request_id: Option<String>,
    #[command(flatten)]
    pub services: ServiceArgs,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

impl Scope {
    /// The Publish request for this scope.
    pub fn publish_request(&self, request_id: String) -> PublishRequest {
        let mut r = PublishRequest {
            request_id,
            ..Default::default()
        };
        match self {
            Scope::Inspection(s) => r.inspection = s.clone(),
            Scope::Round(s) => r.round = s.clone(),
            Scope::Subtree(s) => r.organisation_path = s.clone(),
        }
        r
    }
}

/// Publishes the scope; the publications made, by target path.
pub async fn publish(
    services: &Services,
    scope: &Scope,
    request_id: Option<String>,
) -> anyhow::Result<Vec<Publication>> {
    scope.check_exists(services).await?;
    let request_id = request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let made = services
        .publications()
        .publish(scope.publish_request(request_id))
        .await
        .map_err(|s| failed(&format!("publishing {scope}"), s))?
        .into_inner();
    Ok(made.publications)
}

pub async fn run(args: &PublishArgs, services: &Services) -> anyhow::Result<()> {
    let made = publish(services, &args.scope, args.request_id.clone()).await?;
    match args.output {
        Output::Json => crate::say!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "scope": args.scope.to_string(),
                "publications": made.iter().map(|p| json!({
                    "name": p.name,
                    "target": p.target,
                    "target_path": p.target_path,
                    "version": p.version,
                    "item_count": p.item_count,
                    "completed_count": p.completed_count,
                })).collect::<Vec<_>>(),
            }))?
        ),
        Output::Text => {
            crate::say!("published {} unit(s) of {}", made.len(), args.scope);
            for p in &made {
                crate::say!(
                    "  {}  {} version {}: {} item(s), {} completed",
                    p.name,
                    p.target_path,
                    p.version,
                    p.item_count,
                    p.completed_count
                );
            }
        }
    }
    Ok(())
}
