//! The Gateway API example (deploy/k8s/examples/gateway): every gRPC
//! service a binary serves is routed to that binary's Service and port,
//! over TLS at both ends with the certificates the prod overlay issues.

use std::collections::{BTreeMap, BTreeSet};

use fiveledger::Domains;
use fiveledger_e2e::spawn_suite;
use serde_yaml_ng::Value;

use super::{Kustomization, SERVICES, k8s, kubectl_kustomize, name, read, strings};

/// The fiveledger gRPC services each binary serves, as its reflection lists
/// them (health and reflection left out: every binary serves those).
async fn served() -> BTreeMap<&'static str, BTreeSet<String>> {
    let suite = spawn_suite(Domains::default()).await;
    let mut served = BTreeMap::new();
    for (svc, channel) in SERVICES.into_iter().zip([
        suite.rounds.clone(),
        suite.issues.clone(),
        suite.ledgers.clone(),
    ]) {
        let names: BTreeSet<_> = crate::server::reflection::list_v1(channel)
            .await
            .into_iter()
            .filter(|s| s.starts_with("fiveledger."))
            .collect();
        assert!(!names.is_empty(), "{svc} serves no fiveledger service");
        served.insert(svc, names);
    }
    served
}

/// One route match: the gRPC service and the headers that must hold, and
/// where it leads (Service name, port).
#[derive(Debug)]
struct Route {
    service: String,
    headers: BTreeSet<(String, String)>,
    backend: (String, i64),
}

fn routes(example: &[Value], at: &str) -> Vec<Route> {
    let gateway = Kustomization::of_kind(example, "Gateway");
    assert_eq!(gateway.len(), 1, "{at}: one Gateway");
    let gateway = gateway[0];
    let mut all = Vec::new();
    for route in Kustomization::of_kind(example, "GRPCRoute") {
        let at = format!("{at} GRPCRoute {}", name(route));
        assert_eq!(
            route["apiVersion"].as_str(),
            Some("gateway.networking.k8s.io/v1"),
            "{at}"
        );
        let listeners = gateway["spec"]["listeners"]
            .as_sequence()
            .expect("listeners");
        for parent in route["spec"]["parentRefs"]
            .as_sequence()
            .expect("parentRefs")
        {
            assert_eq!(parent["name"].as_str(), Some(name(gateway)), "{at}: parent");
            let listener = listeners
                .iter()
                .find(|l| l["name"] == parent["sectionName"])
                .unwrap_or_else(|| panic!("{at}: no listener {:?}", parent["sectionName"]));
            for hostname in strings(&route["spec"]["hostnames"]) {
                assert_eq!(
                    listener["hostname"].as_str(),
                    Some(hostname.as_str()),
                    "{at}: hostname"
                );
            }
        }
        for rule in route["spec"]["rules"].as_sequence().expect("rules") {
            let backends = rule["backendRefs"].as_sequence().expect("backendRefs");
            assert_eq!(backends.len(), 1, "{at}: one backend per rule");
            let backend = &backends[0];
            assert!(
                matches!(backend["kind"].as_str(), None | Some("Service")),
                "{at}: backend kind"
            );
            let backend = (
                backend["name"].as_str().expect("backend name").to_owned(),
                backend["port"].as_i64().expect("backend port"),
            );
            for m in rule["matches"].as_sequence().expect("matches") {
                let method = &m["method"];
                assert!(
                    matches!(method["type"].as_str(), None | Some("Exact")),
                    "{at}: exact matches (core support)"
                );
                assert!(method["method"].is_null(), "{at}: whole services");
                let headers = m["headers"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .map(|h| {
                        assert!(matches!(h["type"].as_str(), None | Some("Exact")), "{at}");
                        (
                            h["name"].as_str().expect("header name").to_lowercase(),
                            h["value"].as_str().expect("header value").to_owned(),
                        )
                    })
                    .collect();
                all.push(Route {
                    service: method["service"].as_str().expect("service").to_owned(),
                    headers,
                    backend: backend.clone(),
                });
            }
        }
    }
    all
}

/// Routes, Gateway and backend TLS of the example against the prod render
/// and what each binary serves.
fn check_example(
    example: &[Value],
    prod: &[Value],
    served: &BTreeMap<&str, BTreeSet<String>>,
    at: &str,
) {
    let routes = routes(example, at);
    let services = Kustomization::of_kind(prod, "Service");
    for route in &routes {
        let (backend, port) = &route.backend;
        let service = services
            .iter()
            .find(|s| name(s) == backend)
            .unwrap_or_else(|| panic!("{at}: {} leads to no Service {backend}", route.service));
        let port_name = service["spec"]["ports"]
            .as_sequence()
            .expect("ports")
            .iter()
            .find(|p| p["port"].as_i64() == Some(*port))
            .unwrap_or_else(|| panic!("{at}: Service {backend} has no port {port}"))["name"]
            .as_str();
        assert_eq!(
            port_name,
            Some("grpc"),
            "{at}: {backend}:{port} is not gRPC"
        );
        assert!(
            served[backend.as_str()].contains(&route.service),
            "{at}: {} routed to {backend}, which does not serve it",
            route.service
        );
    }
    // Every service reachable, each way to it unambiguous.
    for (svc, names) in served {
        for service in names {
            assert!(
                routes
                    .iter()
                    .any(|r| &r.service == service && r.backend.0 == *svc),
                "{at}: {service} of {svc} is not routed"
            );
        }
    }
    for (i, a) in routes.iter().enumerate() {
        for b in &routes[i + 1..] {
            assert!(
                !(a.service == b.service
                    && a.backend != b.backend
                    && (a.headers.is_subset(&b.headers) || b.headers.is_subset(&a.headers))),
                "{at}: {} goes to {:?} or {:?} on the same headers",
                a.service,
                a.backend,
                b.backend
            );
        }
    }

    // The public listener terminates TLS with a certificate cert-manager
    // writes for its hostname.
    let gateway = Kustomization::of_kind(example, "Gateway")[0];
    assert_eq!(
        gateway["apiVersion"].as_str(),
        Some("gateway.networking.k8s.io/v1"),
        "{at}"
    );
    let certificates: Vec<_> = Kustomization::of_kind(example, "Certificate")
        .into_iter()
        .chain(Kustomization::of_kind(prod, "Certificate"))
        .collect();
    for listener in gateway["spec"]["listeners"]
        .as_sequence()
        .expect("listeners")
    {
        assert_eq!(listener["protocol"].as_str(), Some("HTTPS"), "{at}");
        assert!(
            matches!(listener["tls"]["mode"].as_str(), None | Some("Terminate")),
            "{at}"
        );
        let hostname = listener["hostname"].as_str().expect("hostname");
        for reference in listener["tls"]["certificateRefs"]
            .as_sequence()
            .expect("certificateRefs")
        {
            assert!(matches!(reference["kind"].as_str(), None | Some("Secret")));
            let secret = reference["name"].as_str().expect("name");
            let certificate = certificates
                .iter()
                .find(|c| c["spec"]["secretName"].as_str() == Some(secret))
                .unwrap_or_else(|| panic!("{at}: no Certificate writes {secret}"));
            assert!(
                strings(&certificate["spec"]["dnsNames"]).contains(&hostname.to_owned()),
                "{at}: {secret} is not valid for {hostname}"
            );
        }
    }
    // To the services: the operators' client certificate (client use only,
    // valid for no service, as the prod test checks) ...
    let client = &gateway["spec"]["tls"]["backend"]["clientCertificateRef"];
    assert!(matches!(client["kind"].as_str(), None | Some("Secret")));
    let client = client["name"]
        .as_str()
        .expect("a backend client certificate");
    let client = Kustomization::of_kind(prod, "Certificate")
        .into_iter()
        .find(|c| c["spec"]["secretName"].as_str() == Some(client))
        .unwrap_or_else(|| panic!("{at}: no prod Certificate writes {client}"));
    assert!(
        !strings(&client["spec"]["usages"]).contains(&"server auth".to_owned()),
        "{at}: the gateway presents a server's certificate"
    );
    // ... and each service's certificate checked for its bare name against
    // the suite's CA.
    let header: String = read(&k8s("examples/gateway").dir.join("kustomization.yaml"))
        .lines()
        .take_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let ca_secret = Kustomization::of_kind(prod, "Certificate")
        .into_iter()
        .find(|c| c["spec"]["isCA"].as_bool() == Some(true))
        .and_then(|c| c["spec"]["secretName"].as_str())
        .expect("prod: the CA's Secret");
    let policies = Kustomization::of_kind(example, "BackendTLSPolicy");
    let backends: BTreeSet<_> = routes.iter().map(|r| r.backend.0.as_str()).collect();
    for backend in backends {
        let at = format!("{at} {backend}");
        let policy = policies
            .iter()
            .find(|p| {
                p["spec"]["targetRefs"].as_sequence().is_some_and(|refs| {
                    refs.iter().any(|r| {
                        r["kind"].as_str() == Some("Service")
                            && r["name"].as_str() == Some(backend)
                            && matches!(r["sectionName"].as_str(), None | Some("grpc"))
                    })
                })
            })
            .unwrap_or_else(|| {
                panic!("{at}: no BackendTLSPolicy: the Gateway would speak plaintext to a TLS port")
            });
        let validation = &policy["spec"]["validation"];
        let hostname = validation["hostname"].as_str().expect("hostname");
        let own = Kustomization::of_kind(prod, "Certificate")
            .into_iter()
            .find(|c| {
                c["spec"]["secretName"].as_str() == Some(&format!("fiveledger-tls-{backend}"))
            })
            .expect("the service's Certificate");
        assert!(
            strings(&own["spec"]["dnsNames"]).contains(&hostname.to_owned()),
            "{at}: its certificate is not valid for {hostname}"
        );
        let refs = validation["caCertificateRefs"]
            .as_sequence()
            .expect("caCertificateRefs");
        assert_eq!(refs.len(), 1, "{at}: one CA");
        assert_eq!(refs[0]["kind"].as_str(), Some("ConfigMap"), "{at}");
        let bundle = refs[0]["name"].as_str().expect("name");
        assert!(
            header.contains(&format!("create configmap {bundle}"))
                && header.contains(&format!("get secret {ca_secret}")),
            "{at}: the header does not say how {bundle} is made from {ca_secret}"
        );
    }
}

#[tokio::test]
async fn the_gateway_example_routes_each_service_to_the_binary_serving_it() {
    let example = k8s("examples/gateway");
    assert!(example.base.is_none(), "the example stands alone");
    let served = served().await;
    let prod = k8s("overlays/prod").rendered();
    check_example(&example.rendered(), &prod, &served, "example");
    if let (Some(example), Some(prod)) = (
        kubectl_kustomize("examples/gateway"),
        kubectl_kustomize("overlays/prod"),
    ) {
        check_example(&example, &prod, &served, "kubectl example");
    }
    // Applied by nothing else.
    for path in ["overlays/dev", "overlays/prod"] {
        assert!(
            Kustomization::of_kind(&k8s(path).rendered(), "GRPCRoute").is_empty(),
            "{path} applies the gateway example"
        );
    }
}
