//! SweepClueWarnings: the clue warning sweep on demand, over the clues the
//! caller holds.

use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_proto::issues::*;
use tonic::{Request, Response, Status};

use super::Api;
use crate::clue_sweep;
use crate::storage::clues as store;

pub(super) async fn sweep(
    api: &Api,
    request: Request<SweepClueWarningsRequest>,
) -> Result<Response<SweepClueWarningsResponse>, Status> {
    let caller = Caller::of(&request)?;
    let r = request.into_inner();
    let path = if r.organisation_path.is_empty() {
        String::new()
    } else {
        names::parse_path("organisation_path", &r.organisation_path)?
    };
    let scope = store::sweep_scope(&caller, &path);
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
