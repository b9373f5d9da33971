//! The rounds service, as this service calls it: inspections (their phase
//! and target) and the organisation directory. Always batched: calls grow
//! with the number of distinct names over the batch limit, never per row.

use std::collections::{HashMap, HashSet};

use fiveledger_platform::auth::{Caller, ServiceCredentials};
use fiveledger_platform::error::from_upstream;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::inspection_service_client::InspectionServiceClient;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::{
    BatchGetOrganisationsRequest, GetInspectionRequest, Inspection, ListOrganisationsRequest,
    Organisation, OrganisationKind,
};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const SERVICE: &str = "rounds";
/// Most names the rounds service takes in one BatchGetOrganisations.
pub const ORGANISATION_BATCH: usize = 1000;

#[derive(Clone)]
pub struct Rounds {
    channel: Channel,
    credentials: ServiceCredentials,
}

type Authed = InterceptedService<Channel, ServiceCredentials>;

impl Rounds {
    pub fn new(channel: Channel, credentials: ServiceCredentials) -> Self {
        Self {
            channel,
            credentials,
        }
    }

    fn inspections(&self) -> InspectionServiceClient<Authed> {
        InspectionServiceClient::new(InterceptedService::new(
            self.channel.clone(),
            self.credentials.clone(),
        ))
    }

    fn organisations(&self) -> OrganisationServiceClient<Authed> {
        OrganisationServiceClient::new(InterceptedService::new(
            self.channel.clone(),
            self.credentials.clone(),
        ))
    }

    /// The inspection, if it exists and the caller may see it
    /// ([`scope::sees_inspection`]); NOT_FOUND otherwise.
    pub async fn inspection(&self, caller: &Caller, name: &str) -> ApiResult<Inspection> {
        let inspection = self
            .inspections()
            .get_inspection(GetInspectionRequest {
                name: name.to_owned(),
            })
            .await
            .map_err(|s| from_upstream(SERVICE, name, s))?
            .into_inner();
        if !crate::domain::scope::sees_inspection(caller, &inspection) {
            return Err(ApiError::not_found(name));
        }
        Ok(inspection)
    }

    /// Looks up organisations: one call per [`ORGANISATION_BATCH`] distinct
    /// names (`allow_missing`, so every unknown name is learnt in the same
    /// calls). Returns those found by name and the names the directory does
    /// not know (or does not show this service).
    pub async fn organisations_by_name(
        &self,
        names: impl IntoIterator<Item = String>,
    ) -> ApiResult<(HashMap<String, Organisation>, HashSet<String>)> {
        let mut wanted: Vec<String> = names
            .into_iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        wanted.sort();
        let mut found = HashMap::with_capacity(wanted.len());
        for chunk in wanted.chunks(ORGANISATION_BATCH) {
            let response = self
                .organisations()
                .batch_get_organisations(BatchGetOrganisationsRequest {
                    names: chunk.to_vec(),
                    allow_missing: true,
                })
                .await
                .map_err(|s| from_upstream(SERVICE, "organisations", s))?;
            found.extend(
                response
                    .into_inner()
                    .organisations
                    .into_iter()
                    .map(|o| (o.name.clone(), o)),
            );
        }
        let missing = wanted
            .into_iter()
            .filter(|n| !found.contains_key(n))
            .collect();
        Ok((found, missing))
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
            .organisations()
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
