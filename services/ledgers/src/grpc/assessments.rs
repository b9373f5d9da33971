//! AssessmentService: scores of lower levels' inspection work
//! (巡察工作考核评价), computed from the books and stored per version.

use fiveledger_platform::aip::filter::{EQ, Field, Schema};
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names::{self, parse_path};
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::replay_first;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::assessment_service_server::AssessmentService;
use fiveledger_proto::ledgers::*;
use tonic::{Request, Response, Status};

use super::Api;
use crate::domain::assessment::{self as domain, COLLECTION, Weights};
use crate::domain::scope::{may_assess, sees_assessment};
use crate::storage::assessments::{self as store, ListQuery};

/// `ListAssessments`: `fiveledger.ledgers.v1.ListAssessmentsRequest.filter`.
pub(crate) const ASSESSMENTS: Schema<ListQuery> = Schema(&[
    Field {
        name: "organisation_path",
        ops: EQ,
        apply: |q, _, v| {
            q.organisation_path = Some(parse_path("filter", &v)?);
            Ok(())
        },
    },
    Field {
        name: "year",
        ops: EQ,
        apply: |q, _, v| {
            q.year = Some(v.parse().map_err(|_| {
                ApiError::invalid("filter", CommonReason::InvalidFilter, "year must be a year")
            })?);
            Ok(())
        },
    },
]);

impl Api {
    /// A stored assessment the caller may read, or NOT_FOUND.
    async fn visible_assessment(&self, caller: &Caller, name: &str) -> ApiResult<store::Model> {
        let id = names::parse("name", name, COLLECTION)?;
        store::find(self.db.reader(), id)
            .await?
            .filter(|a| sees_assessment(caller, &a.organisation_path))
            .ok_or_else(|| ApiError::not_found(name))
    }
}

#[tonic::async_trait]
impl AssessmentService for Api {
    async fn compute_assessment(
        &self,
        request: Request<ComputeAssessmentRequest>,
    ) -> Result<Response<Assessment>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "ComputeAssessment", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let path = parse_path("organisation_path", &request.organisation_path)?;
        let now = self.clock.now();
        let year = domain::check_year(request.year, now.date_naive())?;
        let weights = match &request.weights {
            Some(w) => Weights::from_proto(w).check("weights")?,
            None => self.settings.assessment_weights,
        };
        may_assess(&caller, &path)?;
        let cutoff = domain::cutoff(year, now);
        let as_of = domain::as_of(cutoff);
        let cutoff_us = cutoff.timestamp_micros();
        let computed_by = caller.actor();
        // Read before the write: the replay holds no writer.
        let figures = store::replay(self.db.reader(), &path, year, cutoff_us, as_of).await?;
        let stored = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let version = store::next_version(txn, &path, year).await?;
                let row = store::Model {
                    id: names::generate_id('a'),
                    organisation_path: path,
                    year,
                    version,
                    cutoff_us,
                    as_of,
                    weight_on_time: weights.on_time,
                    weight_completion: weights.completion,
                    weight_overdue: weights.overdue,
                    weight_reopened: weights.reopened,
                    computed_by,
                    create_time_us: now.timestamp_micros(),
                    ..Default::default()
                }
                .with_figures(figures);
                store::insert(txn, &row).await?;
                Ok(row.to_proto())
            })
        })
        .await?;
        Ok(Response::new(stored))
    }

    async fn get_assessment(
        &self,
        request: Request<GetAssessmentRequest>,
    ) -> Result<Response<Assessment>, Status> {
        let caller = Caller::of(&request)?;
        let found = self
            .visible_assessment(&caller, &request.get_ref().name)
            .await?;
        Ok(Response::new(found.to_proto()))
    }

    async fn list_assessments(
        &self,
        request: Request<ListAssessmentsRequest>,
    ) -> Result<Response<ListAssessmentsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.filter, &caller.key()],
        )?;
        let mut query = ListQuery {
            scope: caller.scope_path.clone(),
            after: page.after_str(0)?.map(str::to_owned),
            limit: page.limit(),
            ..Default::default()
        };
        ASSESSMENTS.apply(&request.filter, &mut query)?;
        let rows = store::list(self.db.reader(), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| vec![last.id.clone().into()]);
        Ok(Response::new(ListAssessmentsResponse {
            assessments: rows.iter().map(store::Model::to_proto).collect(),
            next_page_token,
        }))
    }

    async fn verify_assessment(
        &self,
        request: Request<VerifyAssessmentRequest>,
    ) -> Result<Response<VerifyAssessmentResponse>, Status> {
        let caller = Caller::of(&request)?;
        let stored = self
            .visible_assessment(&caller, &request.get_ref().name)
            .await?;
        let figures = store::replay(
            self.db.reader(),
            &stored.organisation_path,
            stored.year,
            stored.cutoff_us,
            stored.as_of,
        )
        .await?;
        let recomputed = stored.with_figures(figures);
        Ok(Response::new(VerifyAssessmentResponse {
            holds: recomputed == stored,
            assessment: Some(stored.to_proto()),
            recomputed: Some(recomputed.to_proto()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fiveledger_platform::aip::filter::{documented_fields, field_comment};

    #[test]
    fn the_list_accepts_exactly_the_fields_its_request_documents() {
        let comment =
            field_comment("fiveledger.ledgers.v1.ListAssessmentsRequest", "filter").expect("doc");
        assert_eq!(documented_fields(&comment), ASSESSMENTS.names());
    }
}
