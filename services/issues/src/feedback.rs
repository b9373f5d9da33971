//! Consumer of the rounds service's `FeedbackGiven` (反馈交账): the list is
//! handed to the inspected unit, and from then on its problems are read by
//! whoever the list concerns, not only by those who worked the inspection.

use fiveledger_platform::consumer::EventHandler;
use fiveledger_platform::time::{Clock, day_or_event_day};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::FeedbackGiven;
use fiveledger_proto::types::Event;
use futures::future::BoxFuture;
use prost::Message;
use sea_orm::DatabaseTransaction;

use crate::storage::problem_lists;

/// Hands lists over at the time of `clock`.
pub struct OnFeedbackGiven {
    pub clock: Clock,
}

impl EventHandler for OnFeedbackGiven {
    fn handle<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        event: &'t Event,
    ) -> BoxFuture<'t, ApiResult<()>> {
        Box::pin(async move {
            let Some(any) = &event.payload else {
                return Ok(());
            };
            let given = FeedbackGiven::decode(any.value.as_slice()).map_err(ApiError::internal)?;
            let Some(inspection) = given.inspection else {
                tracing::warn!(cursor = %event.cursor, "FeedbackGiven without an inspection");
                return Ok(());
            };
            // Without a readable feedback date the event's own day stands in.
            let date = day_or_event_day(inspection.feedback_date.as_ref(), event);
            problem_lists::hand_over(txn, &inspection, date, self.clock.now()).await
        })
    }
}
