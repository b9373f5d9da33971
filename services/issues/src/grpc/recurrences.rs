//! RecurrenceService: back-tracking (倒查) flags and their accountability
//! decisions. The flags are written by `crate::recurrence_check`.

use fiveledger_platform::aip::filter::{EQ, Field, Schema, enum_value};
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::outbox;
use fiveledger_platform::replay_first;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::recurrence_service_server::RecurrenceService;
use fiveledger_proto::issues::*;
use tonic::{Request, Response, Status};

use super::{Api, context};
use crate::domain::problem::{ORGANISATIONS, parse_inspection};
use crate::domain::recurrence::{COLLECTION, parse_decision};
use crate::domain::scope;
use crate::storage::recurrences::{self as store, ListQuery};

/// `ListRecurrences`: `fiveledger.issues.v1.ListRecurrencesRequest.filter`.
pub(crate) const RECURRENCES: Schema<ListQuery> = Schema(&[
    Field {
        name: "decided",
        ops: EQ,
        apply: |q, _, v| {
            q.decided = Some(match v.as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(ApiError::invalid(
                        "filter",
                        CommonReason::InvalidFilter,
                        "decided must be true or false",
                    ));
                }
            });
            Ok(())
        },
    },
    Field {
        name: "kind",
        ops: EQ,
        apply: |q, _, v| {
            q.kind = Some(enum_value("kind", &v, RecurrenceKind::from_str_name)?);
            Ok(())
        },
    },
    Field {
        name: "target",
        ops: EQ,
        apply: |q, _, v| {
            names::parse("filter", &v, ORGANISATIONS)?;
            q.target = Some(v);
            Ok(())
        },
    },
    Field {
        name: "earlier_inspection",
        ops: EQ,
        apply: |q, _, v| {
            parse_inspection("filter", &v)?;
            q.earlier_inspection = Some(v);
            Ok(())
        },
    },
]);

impl Api {
    /// A recurrence the caller may see, or NOT_FOUND.
    async fn visible_recurrence(&self, caller: &Caller, name: &str) -> ApiResult<store::Model> {
        let id = names::parse("name", name, COLLECTION)?;
        store::find(self.db.reader(), id)
            .await?
            .filter(|r| {
                scope::sees_recurrence(
                    caller,
                    &r.round_organisation_path,
                    &r.earlier_round_organisation_path,
                )
            })
            .ok_or_else(|| ApiError::not_found(name))
    }
}

fn already_decided(name: &str) -> ApiError {
    ApiError::precondition(
        ErrorReason::RecurrenceAlreadyDecided,
        format!("{name} already has its accountability decision"),
    )
}

#[tonic::async_trait]
impl RecurrenceService for Api {
    async fn get_recurrence(
        &self,
        request: Request<GetRecurrenceRequest>,
    ) -> Result<Response<Recurrence>, Status> {
        let caller = Caller::of(&request)?;
        let found = self
            .visible_recurrence(&caller, &request.get_ref().name)
            .await?;
        Ok(Response::new(found.to_proto()))
    }

    async fn list_recurrences(
        &self,
        request: Request<ListRecurrencesRequest>,
    ) -> Result<Response<ListRecurrencesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.filter, &caller.key()],
        )?;
        let mut query = ListQuery {
            scope: (!caller.has_role(Role::Service)).then(|| caller.scope_path.clone()),
            after: page.after_str(0)?.map(str::to_owned),
            limit: page.limit(),
            ..Default::default()
        };
        RECURRENCES.apply(&request.filter, &mut query)?;
        let rows = store::list(self.db.reader(), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| vec![last.id.clone().into()]);
        Ok(Response::new(ListRecurrencesResponse {
            recurrences: rows.iter().map(store::Model::to_proto).collect(),
            next_page_token,
        }))
    }

    async fn decide_recurrence(
        &self,
        request: Request<DecideRecurrenceRequest>,
    ) -> Result<Response<Recurrence>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "DecideRecurrence", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let outcome = parse_decision(request.outcome, &request.note)?;
        let current = self.visible_recurrence(&caller, &request.name).await?;
        scope::may_decide_recurrence(
            &caller,
            &request.name,
            &current.earlier_round_organisation_path,
        )?;
        if current.decided() {
            return Err(already_decided(&request.name).into());
        }
        let ctx =
            context(&caller, &request.request_id).about(&current.earlier_round_organisation_path);
        let by = caller.actor();
        let now = self.clock.now();
        let decided = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                // Decided once: the row changes only while undecided.
                if !store::decide(txn, &current.id, outcome, &request.note, &by, now).await? {
                    return Err(already_decided(&request.name));
                }
                let row = store::find(txn, &current.id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(&request.name))?;
                let recurrence = row.to_proto();
                let event = RecurrenceDecided {
                    recurrence: Some(recurrence.clone()),
                };
                outbox::append(txn, &ctx, &recurrence.name, &event).await?;
                Ok(recurrence)
            })
        })
        .await?;
        Ok(Response::new(decided))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fiveledger_platform::aip::filter::{documented_fields, field_comment};

    #[test]
    fn the_list_accepts_exactly_the_fields_its_request_documents() {
        let comment =
            field_comment("fiveledger.issues.v1.ListRecurrencesRequest", "filter").expect("doc");
        assert_eq!(documented_fields(&comment), RECURRENCES.names());
    }
}
