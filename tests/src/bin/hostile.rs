//! `hostile`: what oversized requests cost the suite. Clients send requests
//! carrying 100,000 elements (group staffing, member removal, event types)
//! in a loop while a prober checks health every 20 ms; it prints how long
//! each oversized request took to be refused and the health check's latency
//! meanwhile, against the health check's latency with no such load, all in
//! one run.
//!
//!     cargo run --release -p fiveledger-e2e --bin hostile -- --seconds 20 --clients 2

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use fiveledger_e2e::spawn_suite;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::rounds::group_service_client::GroupServiceClient;
use fiveledger_proto::rounds::*;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[derive(Parser)]
struct Args {
    /// How long the hostile clients run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Hostile clients sending at once.
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Elements per request.
    #[arg(long, default_value_t = 100_000)]
    elements: usize,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentiles(name: &str, mut v: Vec<Duration>, codes: &str) {
    v.sort();
    let p = |q: f64| {
        v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
            .map_or(0.0, |d| ms(*d))
    };
    println!(
        "{name:<44} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  {codes}",
        v.len(),
        p(0.5),
        p(0.95),
        p(0.99),
        p(1.0)
    );
}

/// Health checks every 20 ms until `stop`; their latencies.
async fn probe(channel: tonic::transport::Channel, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut health = HealthClient::new(channel);
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let _ = health
            .check(HealthCheckRequest {
                service: "rounds".into(),
            })
            .await;
        out.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let t = spawn_suite(Default::default()).await;
    let token = testing::token("hostile", "guangxi", &[Role::InspectionOffice]);
    let names: Vec<String> = (0..args.elements)
        .map(|i| format!("inspectors/person-{i}"))
        .collect();
    println!(
        "{:<44} {:>6} {:>9} {:>9} {:>9} {:>9}  answers",
        "what", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );

    // The floor: health with no hostile load.
    let stop = Arc::new(AtomicBool::new(false));
    let idle = tokio::spawn(probe(t.rounds.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    percentiles("health, idle", idle.await.expect("probe"), "");

    let stop = Arc::new(AtomicBool::new(false));
    let prober = tokio::spawn(probe(t.rounds.clone(), stop.clone()));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut clients = Vec::new();
    for c in 0..args.clients {
        let channel = t.rounds.clone();
        let (token, names) = (token.clone(), names.clone());
        clients.push(tokio::spawn(async move {
            let mut groups =
                GroupServiceClient::new(channel.clone()).max_encoding_message_size(64 << 20);
            let mut events =
                fiveledger_proto::rounds::event_service_client::EventServiceClient::new(channel)
                    .max_encoding_message_size(64 << 20);
            let mut latencies = Vec::new();
            let mut codes = std::collections::BTreeMap::<String, usize>::new();
            let mut i = 0usize;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let code = match (i + c) % 3 {
                    0 => groups
                        .create_group(authed(
                            &token,
                            CreateGroupRequest {
                                parent: "rounds/r1".into(),
                                group: Some(Group {
                                    display_name: "g".into(),
                                    deputies: names.clone(),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            },
                        ))
                        .await
                        .err(),
                    1 => groups
                        .remove_group_members(authed(
                            &token,
                            RemoveGroupMembersRequest {
                                group: "rounds/r1/groups/g1".into(),
                                inspectors: names.clone(),
                                ..Default::default()
                            },
                        ))
                        .await
                        .err(),
                    _ => events
                        .watch_events(authed(
                            &testing::token("svc", "", &[Role::Admin]),
                            WatchEventsRequest {
                                after_cursor: String::new(),
                                types: names.clone(),
                            },
                        ))
                        .await
                        .err(),
                };
                latencies.push(t0.elapsed());
                let key = code.map_or("OK".to_owned(), |s| format!("{:?}", s.code()));
                *codes.entry(key).or_default() += 1;
                i += 1;
            }
            (latencies, codes)
        }));
    }
    let mut latencies = Vec::new();
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for c in clients {
        let (l, k) = c.await.expect("client");
        latencies.extend(l);
        for (code, n) in k {
            *codes.entry(code).or_default() += n;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let health = prober.await.expect("probe");
    let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c}×{n}")).collect();
    percentiles(
        &format!(
            "{}-element requests ({} clients)",
            args.elements, args.clients
        ),
        latencies,
        &codes.join(" "),
    );
    percentiles("health, under that load", health, "");
    t.suite.stop().await.expect("stops");
}
