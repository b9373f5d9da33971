//! The level a body of a level serves (see [`crate::auth::Levels`]), asked
//! of the rounds service's organisation directory and remembered: an
//! organisation's kind and path never change, so an answer stays true.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fiveledger_proto::rounds::GetOrganisationRequest;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use futures::future::BoxFuture;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::auth::{Levels, ServiceCredentials, parent_path, serves_level};
use crate::error::{ApiError, from_upstream};

/// Most organisations remembered; past it the memory starts afresh.
const CAPACITY: usize = 10_000;
/// How long "no such organisation" is believed (it may be created later).
const UNKNOWN_FOR: Duration = Duration::from_secs(60);

/// [`Levels`] answered by the rounds service.
pub struct RemoteLevels {
    organisations: OrganisationServiceClient<InterceptedService<Channel, ServiceCredentials>>,
    known: Mutex<HashMap<String, (String, Option<Instant>)>>,
}

impl RemoteLevels {
    pub fn new(rounds: Channel, credentials: ServiceCredentials) -> Self {
        Self {
            organisations: OrganisationServiceClient::new(InterceptedService::new(
                rounds,
                credentials,
            )),
            known: Mutex::new(HashMap::new()),
        }
    }

    fn remembered(&self, path: &str) -> Option<String> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        match known.get(path) {
            Some((level, None)) => Some(level.clone()),
            Some((level, Some(until))) if Instant::now() < *until => Some(level.clone()),
            _ => None,
        }
    }

    fn remember(&self, path: &str, level: &str, found: bool) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= CAPACITY {
            known.clear();
        }
        let until = (!found).then(|| Instant::now() + UNKNOWN_FOR);
        known.insert(path.to_owned(), (level.to_owned(), until));
    }
}

impl Levels for RemoteLevels {
    fn level_of<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move {
            if let Some(level) = self.remembered(path) {
                return Ok(level);
            }
            let name = format!("organisations/{}", path.rsplit('/').next().unwrap_or(path));
            let answer = self
                .organisations
                .clone()
                .get_organisation(GetOrganisationRequest { name: name.clone() })
                .await;
            let (level, found) = match answer {
                Ok(org) => {
                    let org = org.into_inner();
                    if org.path == path && serves_level(org.kind()) {
                        (parent_path(path).to_owned(), true)
                    } else {
                        (path.to_owned(), org.path == path)
                    }
                }
                Err(status) if status.code() == tonic::Code::NotFound => (path.to_owned(), false),
                Err(status) => return Err(from_upstream("rounds", &name, status)),
            };
            self.remember(path, &level, found);
            Ok(level)
        })
    }
}
