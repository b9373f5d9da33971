//! Helpers for the end-to-end tests: the whole suite on ephemeral ports with
//! fresh databases, and clients for each service.

use fiveledger::{Domains, Layout, Suite};
use fiveledger_platform::testing::TestEnv;
use tonic::transport::Channel;

/// A running suite and channels to its services.
pub struct TestSuite {
    pub suite: Suite,
    pub rounds: Channel,
    pub issues: Channel,
    pub ledgers: Channel,
    pub env: TestEnv,
}

async fn connect(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

/// Starts rounds, issues and ledgers like `cargo run` does, but on ports
/// chosen by the OS and on a fresh database (SQLite files in a temp folder,
/// or fresh PostgreSQL schemas when `FIVELEDGER_TEST_DATABASE_URL` is set).
pub async fn spawn_suite(domains: Domains) -> TestSuite {
    let env = TestEnv::new("suite");
    let layout = Layout {
        ports: [0, 0, 0],
        ..Layout::default()
    };
    let suite = fiveledger::start(&env.settings, domains, layout)
        .await
        .expect("the suite starts");
    TestSuite {
        rounds: connect(suite.rounds.addr).await,
        issues: connect(suite.issues.addr).await,
        ledgers: connect(suite.ledgers.addr).await,
        suite,
        env,
    }
}
