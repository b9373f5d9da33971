//! SweepClueWarnings: the clue warning sweep on demand, over the clues the
//! caller holds.

use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::storage::within_subtree;
use fiveledger_proto::issues::*;
use sea_orm::Condition;
use tonic::{Request, Response, Status};

use super::Api;
use crate::clue_sweep;
use crate::storage::clues::{self as store, Column};

pub(super) async fn sweep(
    api: &Api,
    request: Request<SweepClueWarningsRequest>,
) -> Result<Response<SweepClueWarningsResponse>, Status> {
    let caller = Caller::of(&request)?;
    let r = request.into_inner();
    let mut scope = Condition::all().add(store::visible(&caller));
    if !r.organisation_path.is_empty() {
        let path = names::parse_path("organisation_path", &r.organisation_path)?;
        scope = scope.add(within_subtree(Column::TargetPath, &path));
    }
    let report = clue_sweep::sweep(
        &api.db,
        &api.settings,
        api.clock.now(),
        scope,
        &caller.actor(),
    )
    .await?;
    Ok(Response::new(report))
}
