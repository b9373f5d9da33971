//! RoundService: planning rounds and moving them through their states.

use chrono::Datelike;
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::aip::{etag, field_mask, names};
use fiveledger_platform::auth::Caller;
use fiveledger_platform::outbox;
use fiveledger_platform::replay_first;
use fiveledger_platform::time::from_date;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::ErrorReason;
use fiveledger_proto::rounds::round_service_server::RoundService;
use fiveledger_proto::rounds::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::filters::Narrowed;
use super::scope::context;
use crate::domain::round::{self as domain, NewRound, name_of};
use crate::storage::inspectors::encode;
use crate::storage::rounds::{self as store, ListQuery};
use crate::storage::{inspections, organisations, rounds};

/// What an UpdateRound request changes, checked before anything is read:
/// the round as sent, the fields its mask names, and the dates it moves.
pub struct RoundPatch {
    pub patch: Round,
    pub fields: std::collections::BTreeSet<&'static str>,
    pub start: Option<chrono::NaiveDate>,
    pub end: Option<chrono::NaiveDate>,
}

pub fn parse_patch(request: &UpdateRoundRequest) -> ApiResult<RoundPatch> {
    let patch = request
        .round
        .clone()
        .ok_or_else(|| ApiError::required("round"))?;
    let fields = field_mask::paths(
        request.update_mask.as_ref(),
        &[
            "display_name",
            "theme",
            "planned_start_date",
            "planned_end_date",
        ],
    )?;
    if fields.contains("display_name") {
        names::validate_text(
            "round.display_name",
            &patch.display_name,
            true,
            domain::MAX_DISPLAY_NAME,
        )?;
    }
    let parse_date = |field: &str, d: Option<&fiveledger_proto::google::r#type::Date>| {
        from_date(field, d.ok_or_else(|| ApiError::required(field))?)
    };
    let start = if fields.contains("planned_start_date") {
        Some(parse_date(
            "round.planned_start_date",
            patch.planned_start_date.as_ref(),
        )?)
    } else {
        None
    };
    let end = if fields.contains("planned_end_date") {
        Some(parse_date(
            "round.planned_end_date",
            patch.planned_end_date.as_ref(),
        )?)
    } else {
        None
    };
    Ok(RoundPatch {
        patch,
        fields,
        start,
        end,
    })
}

impl Api {
    /// Moves a round to `to` (StartRound / CloseRound) in one transaction.
    async fn change_state(
        &self,
        caller: Caller,
        key: Option<RequestKey>,
        request_id: &str,
        name: String,
        sent_etag: String,
        to: RoundState,
    ) -> ApiResult<Round> {
        let ctx = context(&caller, request_id);
        let now = self.clock.now();
        mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let current = rounds::visible(txn, &caller, "name", &name).await?;
                etag::check(&name, &sent_etag, current.revision)?;
                domain::transition(&name, current.state(), to)?;
                if to == RoundState::Closed {
                    let open = inspections::count_open(txn, &current.id).await?;
                    if open > 0 {
                        return Err(ApiError::precondition_with(
                            ErrorReason::InspectionsOpen,
                            format!("{name} still has {open} inspections that are not closed"),
                            vec![fiveledger_platform::error::Violation {
                                kind: "INSPECTIONS_OPEN".into(),
                                subject: name.clone(),
                                description: format!("{open} inspections not closed"),
                            }],
                        ));
                    }
                }
                let next = store::Model {
                    state: to.as_str_name().to_owned(),
                    update_time: now,
                    ..current.clone()
                };
                let round = store::save(txn, &current, next).await?.to_proto()?;
                let ctx = ctx.about(&round.organisation_path);
                let round_event = Some(round.clone());
                if to == RoundState::Closed {
                    outbox::append(txn, &ctx, &name, &RoundClosed { round: round_event }).await?;
                } else {
                    outbox::append(txn, &ctx, &name, &RoundStarted { round: round_event }).await?;
                }
                Ok(round)
            })
        })
        .await
    }
}

#[tonic::async_trait]
impl RoundService for Api {
    async fn create_round(
        &self,
        request: Request<CreateRoundRequest>,
    ) -> Result<Response<Round>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateRound", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let new = NewRound::parse(request.round.as_ref(), &request.round_id)?;
        let ctx = context(&caller, &request.request_id);
        let now = self.clock.now();
        let created = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let org = organisations::visible(
                    txn,
                    &caller,
                    "round.organisation",
                    &crate::domain::organisation::name_of(&new.organisation_id),
                )
                .await?;
                // The rounds a look-back re-checks: visible, and earlier.
                let earlier = rounds::find_many(txn, &new.look_back_round_ids).await?;
                for (i, id) in new.look_back_round_ids.iter().enumerate() {
                    let field = format!("round.look_back_rounds[{i}]");
                    let found = earlier
                        .iter()
                        .find(|r| &r.id == id && caller.can_see(&r.organisation_path))
                        .ok_or_else(|| ApiError::not_found(name_of(id)))?;
                    if found.planned_start_date >= new.start {
                        return Err(ApiError::invalid(
                            field,
                            ErrorReason::LookBackRoundNotEarlier,
                            format!("{} does not start before this round", name_of(id)),
                        ));
                    }
                }
                let id = new.id.clone().unwrap_or_else(|| names::generate_id('r'));
                let model = store::insert(
                    txn,
                    store::Model {
                        id,
                        display_name: new.display_name.clone(),
                        term: new.term,
                        number: new.number,
                        kind: new.kind.as_str_name().to_owned(),
                        theme: new.theme.clone(),
                        look_back_rounds: encode(&new.look_back_round_ids)?,
                        organisation_id: org.id.clone(),
                        organisation_path: org.path.clone(),
                        cross_county: new.cross_county,
                        year: new.start.year(),
                        planned_start_date: new.start,
                        planned_end_date: new.end,
                        state: RoundState::Planned.as_str_name().to_owned(),
                        revision: 1,
                        create_time: now,
                        update_time: now,
                    },
                )
                .await?;
                let round = model.to_proto()?;
                outbox::append(
                    txn,
                    &ctx.about(&round.organisation_path),
                    &round.name,
                    &RoundCreated {
                        round: Some(round.clone()),
                    },
                )
                .await?;
                Ok(round)
            })
        })
        .await?;
        Ok(Response::new(created))
    }

    async fn get_round(
        &self,
        request: Request<GetRoundRequest>,
    ) -> Result<Response<Round>, Status> {
        let caller = Caller::of(&request)?;
        let row =
            rounds::visible(self.db.reader(), &caller, "name", &request.get_ref().name).await?;
        Ok(Response::new(row.to_proto()?))
    }

    async fn list_rounds(
        &self,
        request: Request<ListRoundsRequest>,
    ) -> Result<Response<ListRoundsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.filter, &caller.key()],
        )?;
        let query = ListQuery {
            scope: caller.scope_path.clone(),
            limit: page.limit(),
            after: page.after_str(0)?.map(str::to_owned),
            ..Default::default()
        };
        let mut narrowed = Narrowed::new(query);
        super::filters::ROUNDS.apply(&request.filter, &mut narrowed)?;
        let mut query = narrowed.query;
        if let Some(organisation) = narrowed.organisation {
            let org =
                organisations::visible_in(&self.organisations, &caller, "filter", &organisation)
                    .await?;
            query.organisation_id = Some(org.id);
        }
        let rows = store::list(self.db.reader(), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| vec![last.id.clone().into()]);
        Ok(Response::new(ListRoundsResponse {
            rounds: rows
                .iter()
                .map(store::Model::to_proto)
                .collect::<ApiResult<_>>()?,
            next_page_token,
        }))
    }

    async fn update_round(
        &self,
        request: Request<UpdateRoundRequest>,
    ) -> Result<Response<Round>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "UpdateRound", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let RoundPatch {
            patch,
            fields,
            start,
            end,
        } = parse_patch(&request)?;
        let ctx = context(&caller, &request.request_id);
        let now = self.clock.now();
        let updated = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let current = rounds::visible(txn, &caller, "round.name", &patch.name).await?;
                etag::check(&patch.name, &patch.etag, current.revision)?;
                if current.state() == RoundState::Closed {
                    return Err(ApiError::precondition(
                        ErrorReason::WrongRoundState,
                        format!("{} is in ROUND_STATE_CLOSED", patch.name),
                    ));
                }
                let mut next = current.clone();
                let mut changed = Vec::new();
                if fields.contains("display_name")
                    && patch.display_name.trim() != current.display_name
                {
                    next.display_name = patch.display_name.trim().to_owned();
                    changed.push("display_name".to_owned());
                }
                if fields.contains("theme") && patch.theme.trim() != current.theme {
                    domain::check_theme(current.kind(), &patch.theme)?;
                    next.theme = patch.theme.trim().to_owned();
                    changed.push("theme".to_owned());
                }
                let new_start = start.unwrap_or(current.planned_start_date);
                let new_end = end.unwrap_or(current.planned_end_date);
                domain::check_period(new_start, new_end)?;
                if new_start != current.planned_start_date {
                    next.planned_start_date = new_start;
                    next.year = new_start.year();
                    changed.push("planned_start_date".to_owned());
                }
                if new_end != current.planned_end_date {
                    next.planned_end_date = new_end;
                    changed.push("planned_end_date".to_owned());
                }
                if changed.is_empty() {
                    return current.to_proto();
                }
                next.update_time = now;
                let round = store::save(txn, &current, next).await?.to_proto()?;
                outbox::append(
                    txn,
                    &ctx.about(&round.organisation_path),
                    &round.name,
                    &RoundUpdated {
                        round: Some(round.clone()),
                        changed_fields: changed,
                    },
                )
                .await?;
                Ok(round)
            })
        })
        .await?;
        Ok(Response::new(updated))
    }

    async fn start_round(
        &self,
        request: Request<StartRoundRequest>,
    ) -> Result<Response<Round>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "StartRound", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let round = self
            .change_state(
                caller,
                key,
                &request.request_id,
                request.name,
                request.etag,
                RoundState::InProgress,
            )
            .await?;
        Ok(Response::new(round))
    }

    async fn close_round(
        &self,
        request: Request<CloseRoundRequest>,
    ) -> Result<Response<Round>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CloseRound", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let round = self
            .change_state(
                caller,
                key,
                &request.request_id,
                request.name,
                request.etag,
                RoundState::Closed,
            )
            .await?;
        Ok(Response::new(round))
    }
}
