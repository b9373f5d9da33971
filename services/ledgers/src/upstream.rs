//! The services the ledger asks, as it asks them: the issues service
//! (problems for reconciliation, clue figures for statistics) and the rounds
//! service (inspections, and the organisation directory). Every call carries
//! the ledger's own credentials, plus the caller's token where it is asked
//! on the caller's behalf. Always batched: calls grow with the number of
//! distinct names over the batch limit (or pages of results), never per row.

use fiveledger_platform::ApiResult;
use fiveledger_platform::auth::{Caller, ServiceCredentials};
use fiveledger_platform::error::from_upstream;
use fiveledger_platform::upstream::Upstream;
use fiveledger_proto::issues::clue_service_client::ClueServiceClient;
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use fiveledger_proto::issues::{
    ClueStatisticsRow, GetClueStatisticsRequest, ListProblemsRequest, Problem,
};
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::{GetOrganisationRequest, Inspection};
use tonic::transport::Channel;

use crate::domain::warning::OrganisationNames;

/// The caller's own `authorization` metadata, for calls made on its behalf.
pub type OnBehalf = Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>;

/// Problems asked per page of the issues service.
const PROBLEM_PAGE: i32 = 1000;

/// `message` as a request, with the caller's token when asked on its behalf.
fn on_behalf_of<T>(message: T, on_behalf: &OnBehalf) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = on_behalf {
        request
            .metadata_mut()
            .insert("authorization", token.clone());
    }
    request
}

/// The issues service: problems and clue figures.
#[derive(Clone)]
pub struct Issues(Upstream);

impl Issues {
    const SERVICE: &str = "issues";

    pub fn new(channel: Channel, credentials: ServiceCredentials) -> Self {
        Self(Upstream::new(Self::SERVICE, channel, credentials))
    }

    /// Every problem `filter` selects, page by page ([`PROBLEM_PAGE`] a
    /// call), as the issues service shows them to whoever `on_behalf` names.
    pub async fn problems_where(
        &self,
        on_behalf: &OnBehalf,
        filter: &str,
    ) -> ApiResult<Vec<Problem>> {
        let mut client = self.0.client(ProblemServiceClient::new);
        let mut problems = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = ListProblemsRequest {
                page_size: PROBLEM_PAGE,
                page_token: page_token.clone(),
                filter: filter.to_owned(),
                order_by: String::new(),
            };
            let page = client
                .list_problems(on_behalf_of(request, on_behalf))
                .await
                .map_err(|s| from_upstream(Self::SERVICE, "problems", s))?
                .into_inner();
            problems.extend(page.problems);
            if page.next_page_token.is_empty() {
                return Ok(problems);
            }
            page_token = page.next_page_token;
        }
    }

    /// The clue figures `request` asks for, in one call, as the issues
    /// service shows them to whoever `on_behalf` names.
    pub async fn clue_statistics(
        &self,
        on_behalf: &OnBehalf,
        request: GetClueStatisticsRequest,
    ) -> ApiResult<Vec<ClueStatisticsRow>> {
        Ok(self
            .0
            .client(ClueServiceClient::new)
            .get_clue_statistics(on_behalf_of(request, on_behalf))
            .await
            .map_err(|s| from_upstream(Self::SERVICE, "clue statistics", s))?
            .into_inner()
            .rows)
    }
}

/// The rounds service: inspections and the organisation directory.
#[derive(Clone)]
pub struct Rounds(Upstream);

impl Rounds {
    const SERVICE: &str = "rounds";

    pub fn new(channel: Channel, credentials: ServiceCredentials) -> Self {
        Self(Upstream::new(Self::SERVICE, channel, credentials))
    }

    /// The inspection, if it exists and the caller may see it
    /// ([`crate::domain::scope::sees_inspection`]): asked with the service's
    /// credentials, so one the caller may not see is NOT_FOUND, as one that
    /// does not exist.
    pub async fn inspection(&self, caller: &Caller, name: &str) -> ApiResult<Inspection> {
        self.0
            .inspection(name, |i| crate::domain::scope::sees_inspection(caller, i))
            .await
    }

    /// The organisation path of the organisation `name`.
    pub async fn organisation_path(&self, name: &str) -> ApiResult<String> {
        Ok(self
            .0
            .client(OrganisationServiceClient::new)
            .get_organisation(GetOrganisationRequest {
                name: name.to_owned(),
            })
            .await
            .map_err(|s| from_upstream(Self::SERVICE, name, s))?
            .into_inner()
            .path)
    }

    /// Display names of `names` (organisation resource names), in one call
    /// per [`fiveledger_platform::upstream::ORGANISATION_BATCH`] distinct names; unknown ones are
    /// left out.
    pub async fn display_names(
        &self,
        names: impl IntoIterator<Item = String>,
    ) -> ApiResult<OrganisationNames> {
        let (found, _missing) = self.0.organisations_by_name(names).await?;
        Ok(found
            .into_iter()
            .map(|(name, o)| (name, o.display_name))
            .collect())
    }
}
