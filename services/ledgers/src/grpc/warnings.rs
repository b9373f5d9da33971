//! WarningService: the four-colour warning sweep (四色预警) and the stream of
//! its colour changes.

use fiveledger_platform::auth::{Caller, in_subtree};
use fiveledger_platform::clue_scope::sees_clue;
use fiveledger_platform::outbox;
use fiveledger_proto::ledgers::warning_service_server::WarningService;
use fiveledger_proto::ledgers::*;
use futures::StreamExt;
use tonic::{Request, Response, Status};

use super::{Api, optional_path};
use crate::domain::scope::{can_see, received};
use crate::storage::books;
use crate::sweep;

pub type WarningStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<WatchWarningsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl WarningService for Api {
    type WatchWarningsStream = WarningStream;

    async fn run_warning_sweep(
        &self,
        request: Request<RunWarningSweepRequest>,
    ) -> Result<Response<RunWarningSweepResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        // Warnings are the running office's notices: a caller sweeps the
        // entries it acts on as that office, not all it may read.
        let subtree = optional_path("organisation_path", &r.organisation_path)?;
        let scope = books::office_over_within(&caller, subtree.as_deref());
        let rules = sweep::Rules::of(&self.settings);
        let report = sweep::sweep(
            &self.db,
            &rules,
            &self.clock,
            scope,
            &caller.actor(),
            &self.rounds,
        )
        .await?;
        // With a periodic sweep only its lease holder reports the gauges
        // (any replica may serve this call); without one, this call does.
        if self.settings.sweep_interval_seconds == 0 {
            sweep::update_gauges(&self.db, &rules.thresholds, &self.clock).await?;
        }
        Ok(Response::new(RunWarningSweepResponse {
            entries_checked: report.entries_checked,
            warnings_posted: report.warnings_posted,
            reminders: report.reminders,
            supervision_notices: report.supervision_notices,
            circulars: report.circulars,
            eased: report.eased,
            as_of: Some(self.today()),
            interviews_required: report.interviews_required,
        }))
    }

    async fn watch_warnings(
        &self,
        request: Request<WatchWarningsRequest>,
    ) -> Result<Response<WarningStream>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let path = optional_path("organisation_path", &r.organisation_path)?;
        let after = outbox::parse_cursor(&r.after_cursor)?;
        let events = outbox::watch(
            self.db.clone(),
            after,
            vec![
                <WarningRaised as prost::Name>::NAME.to_owned(),
                <InterviewEscalated as prost::Name>::NAME.to_owned(),
                <ClueWarningNoted as prost::Name>::NAME.to_owned(),
            ],
            self.stop.clone(),
        );
        let stream = events.filter_map(move |event| {
            let out = match event {
                Err(status) => Some(Err(status)),
                Ok(event) => {
                    if let Some(noted) = event
                        .payload
                        .as_ref()
                        .and_then(|any| any.to_msg::<ClueWarningNoted>().ok())
                    {
                        return futures::future::ready(
                            clue_warning(&caller, path.as_deref(), noted, &event).map(Ok),
                        );
                    }
                    // Both events carry the entry and the posting alike.
                    let raised = event.payload.as_ref().and_then(|any| {
                        any.to_msg::<WarningRaised>().ok().or_else(|| {
                            any.to_msg::<InterviewEscalated>()
                                .ok()
                                .map(|e| WarningRaised {
                                    entry: e.entry,
                                    posting: e.posting,
                                })
                        })
                    });
                    raised.and_then(|raised| {
                        let entry = raised.entry.unwrap_or_default();
                        let posting = raised.posting.unwrap_or_default();
                        let paths = crate::domain::scope::EntryPaths::of(&entry);
                        let receivers = entry
                            .transfers
                            .iter()
                            .map(|t| t.receiving_body_path.as_str());
                        let wanted = (can_see(&caller, &paths) || received(&caller, receivers))
                            && path
                                .as_deref()
                                .is_none_or(|p| in_subtree(&entry.target_path, p));
                        let response = WatchWarningsResponse {
                            cursor: event.cursor.clone(),
                            entry: entry.name.clone(),
                            posting: posting.name.clone(),
                            target_path: entry.target_path.clone(),
                            create_time: posting.create_time,
                            ..Default::default()
                        };
                        match (wanted, posting.detail) {
                            (true, Some(posting::Detail::Warning(w))) => {
                                Some(Ok(WatchWarningsResponse {
                                    warning: Some(w),
                                    ..response
                                }))
                            }
                            (true, Some(posting::Detail::InterviewRequired(r))) => {
                                Some(Ok(WatchWarningsResponse {
                                    interview_required: Some(r),
                                    ..response
                                }))
                            }
                            _ => None,
                        }
                    })
                }
            };
            futures::future::ready(out)
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// A clue's colour change as streamed to `caller`, if it sees the clue
/// (the issues service's rule) within `path`.
fn clue_warning(
    caller: &Caller,
    path: Option<&str>,
    noted: ClueWarningNoted,
    event: &fiveledger_proto::types::Event,
) -> Option<WatchWarningsResponse> {
    let wanted = sees_clue(
        caller,
        &noted.receiving_body_path,
        &noted.round_organisation_path,
    ) && path.is_none_or(|p| in_subtree(&noted.target_path, p));
    wanted.then(|| WatchWarningsResponse {
        cursor: event.cursor.clone(),
        target_path: noted.target_path,
        warning: noted.warning,
        create_time: event.create_time,
        clue: noted.clue,
        ..Default::default()
    })
}
