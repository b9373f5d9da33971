//! The rounds service, as this service calls it: inspections (their phase
//! and target) and the organisation directory. Always batched: calls grow
//! with the number of distinct names over the batch limit, never per row.

use std::collections::{HashMap, HashSet};

use fiveledger_platform::ApiResult;
use fiveledger_platform::auth::{Caller, ServiceCredentials};
use fiveledger_platform::error::from_upstream;
use fiveledger_platform::upstream::Upstream;
use fiveledger_proto::rounds::inspection_service_client::InspectionServiceClient;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::{
    BatchGetInspectionsRequest, Inspection, ListOrganisationsRequest, Organisation,
    OrganisationKind,
};
use tonic::transport::Channel;

const SERVICE: &str = "rounds";
/// Most names the rounds service takes in one BatchGetInspections.
pub const INSPECTION_BATCH: usize = 1000;

#[derive(Clone)]
pub struct Rounds(Upstream);

impl Rounds {
    pub fn new(channel: Channel, credentials: ServiceCredentials) -> Self {
        Self(Upstream::new(SERVICE, channel, credentials))
    }

    /// The inspection, if it exists and the caller may see it
    /// ([`scope::sees_inspection`]); NOT_FOUND otherwise.
    pub async fn inspection(&self, caller: &Caller, name: &str) -> ApiResult<Inspection> {
        self.0
            .inspection(name, |i| crate::domain::scope::sees_inspection(caller, i))
            .await
    }

    /// Several inspections, as this service sees them (its own identity, for
    /// background work): one BatchGetInspections per [`INSPECTION_BATCH`]
    /// names, in the order asked.
    pub async fn inspections(&self, names: &[String]) -> ApiResult<Vec<Inspection>> {
        let mut out = Vec::with_capacity(names.len());
        for chunk in names.chunks(INSPECTION_BATCH) {
            let response = self
                .0
                .client(InspectionServiceClient::new)
                .batch_get_inspections(BatchGetInspectionsRequest {
                    names: chunk.to_vec(),
                })
                .await
                .map_err(|s| from_upstream(SERVICE, "inspections", s))?;
            out.extend(response.into_inner().inspections);
        }
        Ok(out)
    }

    /// Looks up organisations: one call per
    /// [`fiveledger_platform::upstream::ORGANISATION_BATCH`] distinct names;
    /// see [`Upstream::organisations_by_name`].
    pub async fn organisations_by_name(
        &self,
        names: impl IntoIterator<Item = String>,
    ) -> ApiResult<(HashMap<String, Organisation>, HashSet<String>)> {
        self.0.organisations_by_name(names).await
    }

    /// The organisation of `kind` attached to the level at `level_path`
    /// (e.g. the discipline commission of a city), if there is one.
    pub async fn attached(
        &self,
        level_path: &str,
        kind: OrganisationKind,
    ) -> ApiResult<Option<Organisation>> {
        let Some(level_id) = level_path.rsplit('/').next().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let filter = format!(
            "parent = \"organisations/{level_id}\" AND kind = {}",
            kind.as_str_name()
        );
        let response = self
            .0
            .client(OrganisationServiceClient::new)
            .list_organisations(ListOrganisationsRequest {
                page_size: 1,
                filter,
                ..Default::default()
            })
            .await
            .map_err(|s| from_upstream(SERVICE, level_path, s))?;
        Ok(response.into_inner().organisations.into_iter().next())
    }
}
