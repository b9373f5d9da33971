//! A fake issues service answering what the rounds service asks of it: at
//! feedback, whether an inspection's list holds ideology problems
//! (`ListProblems` with `inspection = … AND category = …`). The test says
//! which inspections have them; every other method is unimplemented.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use fiveledger_proto::issues::problem_service_server::{ProblemService, ProblemServiceServer};
use fiveledger_proto::issues::*;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic::{Request, Response, Status, Streaming};

#[derive(Clone, Default)]
pub struct FakeIssues {
    /// Inspections (resource names) whose list holds an ideology problem.
    pub ideology: Arc<Mutex<HashSet<String>>>,
    /// The filters `ListProblems` was asked with, in order.
    pub asked: Arc<Mutex<Vec<String>>>,
    pub stop: CancellationToken,
}

impl FakeIssues {
    /// Serves on an ephemeral port; returns its URL.
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(
            Server::builder()
                .add_service(ProblemServiceServer::new(fake.clone()))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    fake.stop.clone().cancelled_owned(),
                ),
        );
        (fake, format!("http://{addr}"))
    }

    /// The list of `inspection` now holds an ideology problem.
    pub fn add_ideology_problem(&self, inspection: &str) {
        self.ideology
            .lock()
            .expect("lock")
            .insert(inspection.to_owned());
    }
}

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not in the fake"))
}

#[tonic::async_trait]
impl ProblemService for FakeIssues {
    async fn list_problems(
        &self,
        request: Request<ListProblemsRequest>,
    ) -> Result<Response<ListProblemsResponse>, Status> {
        if request.metadata().get("authorization").is_none() {
            return Err(Status::unauthenticated("no service token"));
        }
        let filter = request.into_inner().filter;
        self.asked.lock().expect("lock").push(filter.clone());
        let ideology = self.ideology.lock().expect("lock").clone();
        let problems = ideology
            .iter()
            .filter(|i| filter == format!("inspection = \"{i}\" AND category = \"ideology\""))
            .map(|i| Problem {
                name: format!("{i}/problems/p1"),
                category: "categories/ideology".into(),
                ..Default::default()
            })
            .collect();
        Ok(Response::new(ListProblemsResponse {
            problems,
            ..Default::default()
        }))
    }

    async fn get_problem(
        &self,
        _: Request<GetProblemRequest>,
    ) -> Result<Response<Problem>, Status> {
        unimplemented()
    }

    async fn create_problem(
        &self,
        _: Request<CreateProblemRequest>,
    ) -> Result<Response<Problem>, Status> {
        unimplemented()
    }

    async fn update_problem(
        &self,
        _: Request<UpdateProblemRequest>,
    ) -> Result<Response<Problem>, Status> {
        unimplemented()
    }

    async fn delete_problem(
        &self,
        _: Request<DeleteProblemRequest>,
    ) -> Result<Response<()>, Status> {
        unimplemented()
    }

    async fn import_problems(
        &self,
        _: Request<Streaming<ImportProblemsRequest>>,
    ) -> Result<Response<ImportProblemsResponse>, Status> {
        unimplemented()
    }

    async fn get_problem_list(
        &self,
        _: Request<GetProblemListRequest>,
    ) -> Result<Response<ProblemList>, Status> {
        unimplemented()
    }

    async fn freeze_problem_list(
        &self,
        _: Request<FreezeProblemListRequest>,
    ) -> Result<Response<ProblemList>, Status> {
        unimplemented()
    }
}
