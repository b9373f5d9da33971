//! What every service's `upstream.rs` shares: the connection to another
//! service with this one's credentials, and the calls several services make
//! of the rounds service (an inspection, the batched organisation lookup).

use std::collections::{HashMap, HashSet};

use fiveledger_proto::rounds::inspection_service_client::InspectionServiceClient;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::{
    BatchGetOrganisationsRequest, GetInspectionRequest, Inspection, Organisation,
};
use tonic::transport::Channel;

use crate::auth::ServiceCredentials;
pub use crate::client_calls::Authed;
use crate::error::from_upstream;
use crate::{ApiError, ApiResult};

/// A service's connection to another: the channel, and its own credentials
/// for every call.
#[derive(Clone)]
pub struct Upstream {
    /// The other service's short name (`rounds`), on its calls' spans.
    peer: &'static str,
    channel: Channel,
    credentials: ServiceCredentials,
}

impl Upstream {
    pub fn new(peer: &'static str, channel: Channel, credentials: ServiceCredentials) -> Self {
        Self {
            peer,
            channel,
            credentials,
        }
    }

    /// A client of the other service (`new`, e.g. `FooServiceClient::new`)
    /// calling as this service, each call traced and measured.
    pub fn client<C>(&self, new: impl FnOnce(Authed) -> C) -> C {
        new(crate::client_calls::authed(
            self.channel.clone(),
            self.credentials.clone(),
            self.peer,
        ))
    }

    /// The rounds service's inspection `name`, if it exists and `visible`
    /// says the caller may see it; NOT_FOUND otherwise (asked with the
    /// service's credentials, one the caller may not see is as one that
    /// does not exist).
    pub async fn inspection(
        &self,
        name: &str,
        visible: impl FnOnce(&Inspection) -> bool,
    ) -> ApiResult<Inspection> {
        let inspection = self
            .client(InspectionServiceClient::new)
            .get_inspection(GetInspectionRequest {
                name: name.to_owned(),
            })
            .await
            .map_err(|s| from_upstream(self.peer, name, s))?
            .into_inner();
        if !visible(&inspection) {
            return Err(ApiError::not_found(name));
        }
        Ok(inspection)
    }

    /// Looks up organisations in the rounds service's directory: one call per
    /// [`ORGANISATION_BATCH`] distinct names (`allow_missing`, so every unknown
    /// name is learnt in the same calls). Returns those found by name and the
    /// names the directory does not know (or does not show this service).
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
                .client(OrganisationServiceClient::new)
                .batch_get_organisations(BatchGetOrganisationsRequest {
                    names: chunk.to_vec(),
                    allow_missing: true,
                })
                .await
                .map_err(|s| from_upstream(self.peer, "organisations", s))?;
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
}

/// Most names the rounds service takes in one BatchGetOrganisations.
pub const ORGANISATION_BATCH: usize = 1000;
