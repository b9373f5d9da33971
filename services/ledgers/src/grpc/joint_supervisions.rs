//! JointSupervisionService: joint supervisions of rectification (整改情况
//! 联合督查) led by a level's discipline commission; each finding is one
//! supervision posting through the ledger's write path (`books::append`).

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::{Caller, Role, in_subtree};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::replay_first;
use fiveledger_platform::time::to_timestamp;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::joint_supervision_service_server::JointSupervisionService;
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::*;
use tonic::{Request, Response, Status};

use super::{Api, traceparent};
use crate::domain::entry::{self as domain, name_of, posting_name};
use crate::storage::books::{self, Signature};
use crate::storage::joint_supervisions as store;

/// `jointSupervisions/{joint_supervision}`.
const COLLECTION: &str = "jointSupervisions";
/// Most participants and entries one joint supervision names.
const MAX_PARTICIPANTS: usize = 20;
const MAX_ENTRIES: usize = 500;

/// The distinct values of a repeated field, 1 to `max`.
fn distinct(field: &str, values: &[String], max: usize) -> ApiResult<()> {
    if values.is_empty() {
        return Err(ApiError::required(field));
    }
    names::at_most(field, values.len(), max)?;
    let set: std::collections::BTreeSet<&String> = values.iter().collect();
    if set.len() != values.len() {
        return Err(ApiError::invalid(
            field,
            CommonReason::InvalidName,
            format!("{field} names one value twice"),
        ));
    }
    Ok(())
}

/// The body among the leading commission and the participants that the
/// caller acts for (it, or a body under it), or PERMISSION_DENIED
/// `NOT_A_PARTICIPANT`.
fn acting_for(caller: &Caller, campaign: &JointSupervision) -> ApiResult<String> {
    if caller.roles.contains(&Role::Admin) {
        return Ok(campaign.lead_path.clone());
    }
    std::iter::once(&campaign.lead_path)
        .chain(&campaign.participant_paths)
        .find(|body| !body.is_empty() && in_subtree(&caller.org_path, body))
        .cloned()
        .ok_or_else(|| {
            ApiError::denied(
                ErrorReason::NotAParticipant,
                format!(
                    "{} acts for none of the bodies of {}",
                    caller.org_path, campaign.name
                ),
            )
        })
}

/// The joint supervision `name` as found, if the caller may read it (it
/// works at its level or above, or acts for one of its bodies), else
/// NOT_FOUND.
fn visible(
    caller: &Caller,
    name: &str,
    found: Option<(String, JointSupervision)>,
) -> ApiResult<JointSupervision> {
    found
        .filter(|(level, campaign)| {
            caller.has_role(Role::Service)
                || caller.can_see(level)
                || acting_for(caller, campaign).is_ok()
        })
        .map(|(_, campaign)| campaign)
        .ok_or_else(|| ApiError::not_found(name))
}

#[tonic::async_trait]
impl JointSupervisionService for Api {
    async fn create_joint_supervision(
        &self,
        request: Request<CreateJointSupervisionRequest>,
    ) -> Result<Response<JointSupervision>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "CreateJointSupervision", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let given = r
            .joint_supervision
            .clone()
            .ok_or_else(|| ApiError::required("joint_supervision"))?;
        let title = domain::text_short("joint_supervision.title", &given.title)?;
        if title.is_empty() {
            return Err(ApiError::required("joint_supervision.title").into());
        }
        distinct(
            "joint_supervision.participants",
            &given.participants,
            MAX_PARTICIPANTS,
        )?;
        distinct("joint_supervision.entries", &given.entries, MAX_ENTRIES)?;
        let mut entry_ids = Vec::with_capacity(given.entries.len());
        for e in &given.entries {
            entry_ids.push(domain::parse_name("joint_supervision.entries", e)?.to_owned());
        }
        for p in &given.participants {
            names::parse("joint_supervision.participants", p, "organisations")?;
        }
        let id = if r.joint_supervision_id.is_empty() {
            names::generate_id('j')
        } else {
            names::validate_id("joint_supervision_id", &r.joint_supervision_id)?;
            r.joint_supervision_id.clone()
        };
        // Each entry handed over and in the commission's level, else as
        // unknown (neither changes once handed over: read before writing).
        for e in &entry_ids {
            let row = books::find(self.db.reader(), e).await?;
            if !row.is_some_and(|row| {
                row.state != EntryState::Open.as_str_name() && caller.can_see(&row.target_path)
            }) {
                return Err(ApiError::not_found(name_of(e)).into());
            }
        }
        // Participants within the level; one out of it is as unknown.
        let mut participant_paths = Vec::with_capacity(given.participants.len());
        for p in &given.participants {
            let path = self.rounds.organisation_path(p).await?;
            if !caller.can_see(&path) {
                return Err(ApiError::not_found(p).into());
            }
            participant_paths.push(path);
        }
        let now = self.clock.now();
        let campaign = JointSupervision {
            name: format!("{COLLECTION}/{id}"),
            title,
            lead_path: caller.org_path.clone(),
            level_path: caller.scope_path.clone(),
            participants: given.participants,
            participant_paths,
            entries: entry_ids.iter().map(|e| name_of(e)).collect(),
            findings: Vec::new(),
            created_by: caller.actor(),
            create_time: Some(to_timestamp(now)),
        };
        let stored = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                store::insert(txn, &id, &campaign, now.timestamp_micros()).await?;
                Ok(campaign)
            })
        })
        .await?;
        Ok(Response::new(stored))
    }

    async fn get_joint_supervision(
        &self,
        request: Request<GetJointSupervisionRequest>,
    ) -> Result<Response<JointSupervision>, Status> {
        let caller = Caller::of(&request)?;
        let name = &request.get_ref().name;
        let id = names::parse("name", name, COLLECTION)?;
        let found = store::find(self.db.reader(), id).await?;
        Ok(Response::new(visible(&caller, name, found)?))
    }

    async fn post_joint_finding(
        &self,
        request: Request<PostJointFindingRequest>,
    ) -> Result<Response<JointSupervision>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "PostJointFinding", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let id = names::parse("name", &r.name, COLLECTION)?.to_owned();
        let entry_id = domain::parse_name("entry", &r.entry)?.to_owned();
        let finding = domain::text("finding", &r.finding, true)?;
        let evidence = domain::parse_evidence("evidence", &r.evidence)?;
        let now = self.clock.now();
        let signature =
            Signature::taken_now(caller.actor(), &r.request_id, trace, now.timestamp_micros());
        let stored = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let found = store::find(txn, &id).await?;
                let mut campaign = visible(&caller, &r.name, found)?;
                let body = acting_for(&caller, &campaign)?;
                let entry = name_of(&entry_id);
                if !campaign.entries.contains(&entry) {
                    return Err(ApiError::invalid(
                        "entry",
                        CommonReason::NotFound,
                        format!("{entry} is not among the entries of {}", campaign.name),
                    ));
                }
                if campaign.findings.iter().any(|f| f.entry == entry) {
                    return Err(store::already_posted(&entry));
                }
                let row = books::lock(txn, &entry_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(&entry))?;
                let remarks = format!("联合督查（{}）：{finding}", campaign.title);
                let detail = Detail::Supervision(SupervisionDetail { remarks, evidence });
                let (_, posting) =
                    books::append(txn, Some(&row), &entry_id, detail, &signature).await?;
                let posted = JointFinding {
                    entry,
                    finding,
                    posting: posting_name(&entry_id, posting.seq),
                    posted_by: caller.actor(),
                    posted_for_path: body,
                    create_time: posting.create_time,
                };
                store::insert_finding(txn, &id, &entry_id, &posted, signature.at_us).await?;
                campaign.findings.push(posted);
                Ok(campaign)
            })
        })
        .await?;
        Ok(Response::new(stored))
    }
}
