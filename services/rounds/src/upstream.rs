//! The issues service, as this service asks it: at feedback, whether the
//! inspection's problem list holds ideology problems (意识形态), which
//! decides the hand-off to the propaganda department. One call per
//! feedback, never per problem, with this service's own credentials.

use fiveledger_platform::ApiResult;
use fiveledger_platform::auth::ServiceCredentials;
use fiveledger_platform::error::from_upstream;
use fiveledger_platform::upstream::Upstream;
use fiveledger_proto::issues::ListProblemsRequest;
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use tonic::transport::Channel;

#[derive(Clone)]
pub struct Issues(Upstream);

impl Issues {
    const SERVICE: &str = "issues";

    pub fn new(channel: Channel, credentials: ServiceCredentials) -> Self {
        Self(Upstream::new(Self::SERVICE, channel, credentials))
    }

    /// Whether the problem list of `inspection` (its resource name) holds a
    /// problem of `category` (its id in the issues service's catalogue):
    /// one ListProblems of at most one row.
    pub async fn has_problem_of(&self, inspection: &str, category: &str) -> ApiResult<bool> {
        let request = ListProblemsRequest {
            page_size: 1,
            filter: format!("inspection = \"{inspection}\" AND category = \"{category}\""),
            ..Default::default()
        };
        let page = self
            .0
            .client(ProblemServiceClient::new)
            .list_problems(request)
            .await
            .map_err(|s| from_upstream(Self::SERVICE, "problems", s))?
            .into_inner();
        Ok(!page.problems.is_empty())
    }
}
