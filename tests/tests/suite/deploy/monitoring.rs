//! Scraping and the dashboard: the prod overlay's ServiceMonitor reaches
//! each service's metrics port, and the Grafana dashboard
//! (deploy/grafana/fiveledger.json, shipped as a ConfigMap) queries only
//! the metrics the services export, by the labels they carry.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

use super::{
    Kustomization, SERVICES, config_map_data, k8s, kind, kubectl_kustomize, labels_match, name,
    port_named, read, root,
};

/// The metrics the dashboard may query: what the services export (a
/// histogram by its `_bucket` series).
const METRICS: [&str; 11] = [
    "grpc_server_handled_total",
    "grpc_server_handling_seconds_bucket",
    "grpc_server_started_total",
    "fiveledger_consumer_events_waiting",
    "fiveledger_consumer_delay_seconds_bucket",
    "fiveledger_consumer_stalled",
    "fiveledger_ledgers_open_entries_by_colour",
    "fiveledger_ledgers_overdue_entries",
    "process_resident_memory_bytes",
    "fiveledger_db_connections",
    "fiveledger_build_info",
];

/// Labels the dashboard may match or group by: the metrics' own and those
/// Prometheus adds to every target (`job` is the service's name, see the
/// ServiceMonitor's jobLabel).
const LABELS: [&str; 10] = [
    "grpc_service",
    "grpc_method",
    "grpc_code",
    "grpc_type",
    "le",
    "consumer",
    "colour",
    "state",
    "job",
    "instance",
];

/// A Service's labels as rendered: kustomize adds the base's commonLabels,
/// which the emulated render leaves out.
fn service_labels(service: &Value, common: &Value) -> Value {
    let mut labels = service["metadata"]["labels"].clone();
    if let (Some(labels), Some(common)) = (labels.as_mapping_mut(), common.as_mapping()) {
        labels.extend(common.clone());
    }
    labels
}

/// Seconds of a Prometheus duration written in whole seconds (`30s`).
fn seconds(value: &Value) -> u64 {
    let text = value.as_str().expect("a duration");
    text.strip_suffix('s')
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("duration {text}: write seconds"))
}

/// The ServiceMonitor of `rendered` scrapes the metrics port of exactly the
/// three Services, each reaching its container's `metrics` port, and names
/// each target's job after its service.
fn check_service_monitor(rendered: &[Value], common: &Value, at: &str) {
    let monitors = Kustomization::of_kind(rendered, "ServiceMonitor");
    assert_eq!(monitors.len(), 1, "{at}: one ServiceMonitor");
    let monitor = monitors[0];
    assert_eq!(
        monitor["apiVersion"].as_str(),
        Some("monitoring.coreos.com/v1"),
        "{at}"
    );
    let spec = &monitor["spec"];
    // Its own namespace (the suite's) unless told otherwise.
    assert!(
        spec["namespaceSelector"].is_null(),
        "{at}: the ServiceMonitor looks beyond its namespace"
    );
    let endpoints = spec["endpoints"].as_sequence().expect("endpoints");
    assert_eq!(endpoints.len(), 1, "{at}: one endpoint");
    let endpoint = &endpoints[0];
    assert_eq!(endpoint["port"].as_str(), Some("metrics"), "{at}");
    assert_eq!(endpoint["path"].as_str(), Some("/metrics"), "{at}");
    // /metrics is plain HTTP, also with TLS on the gRPC port.
    assert!(
        matches!(endpoint["scheme"].as_str(), None | Some("http")),
        "{at}: scheme {:?}",
        endpoint["scheme"]
    );
    let interval = seconds(&endpoint["interval"]);
    assert!((10..=60).contains(&interval), "{at}: every {interval} s");
    if !endpoint["scrapeTimeout"].is_null() {
        assert!(seconds(&endpoint["scrapeTimeout"]) < interval, "{at}");
    }
    let job_label = spec["jobLabel"].as_str().expect("jobLabel");

    let selector = &spec["selector"]["matchLabels"];
    assert!(
        spec["selector"]["matchExpressions"].is_null(),
        "{at}: matchLabels only"
    );
    let services = Kustomization::of_kind(rendered, "Service");
    let selected: BTreeSet<_> = services
        .iter()
        .filter(|s| labels_match(selector, &service_labels(s, common)))
        .map(|s| name(s))
        .collect();
    assert_eq!(
        selected,
        SERVICES.into_iter().collect::<BTreeSet<_>>(),
        "{at}: the ServiceMonitor selects {selected:?}"
    );
    let deployments = Kustomization::of_kind(rendered, "Deployment");
    for svc in SERVICES {
        let at = format!("{at} {svc}");
        let service = services.iter().find(|s| name(s) == svc).expect("selected");
        // The dashboard's `service` variable lists the jobs: the short names.
        assert_eq!(
            service_labels(service, common)[job_label].as_str(),
            Some(svc),
            "{at}: job label {job_label}"
        );
        let port = port_named(&service["spec"]["ports"], "metrics")
            .unwrap_or_else(|| panic!("{at}: Service has no port named metrics"));
        let container = &deployments
            .iter()
            .find(|d| name(d) == svc)
            .expect("a Deployment")["spec"]["template"]["spec"]["containers"][0];
        // check_services holds this container port to the binary's
        // FIVELEDGER_METRICS_LISTEN; here the Service must lead to it.
        let metrics = port_named(&container["ports"], "metrics")
            .unwrap_or_else(|| panic!("{at}: no container port metrics"));
        let target = &port["targetPort"];
        assert!(
            target.as_str() == Some("metrics") || *target == metrics["containerPort"],
            "{at}: the metrics port targets {target:?}"
        );
    }
}

#[test]
fn the_prod_service_monitor_scrapes_each_services_metrics_port() {
    let prod = k8s("overlays/prod");
    let common = &prod.base.as_ref().expect("a base").file["commonLabels"];
    check_service_monitor(&prod.rendered(), common, "prod");
    if let Some(rendered) = kubectl_kustomize("overlays/prod") {
        check_service_monitor(&rendered, &Value::Null, "kubectl prod");
    }
    // Only prod runs with a Prometheus Operator.
    for path in ["base", "overlays/dev"] {
        assert!(
            Kustomization::of_kind(&k8s(path).rendered(), "ServiceMonitor").is_empty(),
            "{path}: a ServiceMonitor needs the operator's CRDs"
        );
    }
}

/// The metric names a PromQL expression reads (identifiers that are not
/// functions, keywords, label names or durations) and the label names it
/// matches or groups by.
fn promql_parts(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    // Keywords, and aggregations (which may take `by (…)` before their
    // parenthesis).
    const KEYWORDS: [&str; 24] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "inf",
        "nan",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
    ];
    let mut metrics = BTreeSet::new();
    let mut labels = BTreeSet::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut last_word = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            // A string: skip to its end.
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '[' {
            // A range or subquery duration.
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else if c == '{' {
            // Label matchers: `name op "value"`, separated by commas.
            i += 1;
            let mut word = String::new();
            while i < chars.len() && chars[i] != '}' {
                match chars[i] {
                    '"' => {
                        if !word.is_empty() {
                            labels.insert(std::mem::take(&mut word));
                        }
                        i += 1;
                        while i < chars.len() && chars[i] != '"' {
                            i += if chars[i] == '\\' { 2 } else { 1 };
                        }
                    }
                    ch if ch.is_alphanumeric() || ch == '_' => word.push(ch),
                    _ => {
                        if !word.is_empty() {
                            labels.insert(std::mem::take(&mut word));
                        }
                    }
                }
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            // A number or a duration (`0.95`, `5m`).
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let lower = word.to_lowercase();
            if matches!(
                lower.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            ) && chars.get(next) == Some(&'(')
            {
                // A label list.
                let end = chars[next..]
                    .iter()
                    .position(|&c| c == ')')
                    .map(|p| next + p)
                    .expect("a closing parenthesis");
                let list: String = chars[next + 1..end].iter().collect();
                labels.extend(
                    list.split(',')
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned),
                );
                i = end + 1;
            } else if chars.get(next) != Some(&'(') && !KEYWORDS.contains(&lower.as_str()) {
                metrics.insert(word.clone());
            }
            last_word = word;
        } else if c == '$' {
            // A dashboard variable outside a matcher or range.
            panic!("{expr}: variable outside a matcher or range after {last_word:?}");
        } else {
            i += 1;
        }
    }
    (metrics, labels)
}

#[test]
fn the_promql_reader_finds_metrics_and_labels() {
    let (metrics, labels) = promql_parts(
        r#"histogram_quantile(0.95, sum by (le, job) (rate(a_bucket{job=~"$service", code!="OK"}[$__rate_interval]))) / on (job) b_total - sum without (x) (c) and d offset 5m"#,
    );
    let names =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|n| (*n).to_owned()).collect() };
    assert_eq!(metrics, names(&["a_bucket", "b_total", "c", "d"]));
    assert_eq!(labels, names(&["le", "job", "code", "x"]));
}

/// Every panel of a dashboard, those inside rows included.
fn panels(dashboard: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut all = Vec::new();
    let mut stack: Vec<&serde_json::Value> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .collect();
    while let Some(panel) = stack.pop() {
        if let Some(inner) = panel["panels"].as_array() {
            stack.extend(inner);
        }
        all.push(panel);
    }
    all
}

#[test]
fn the_dashboard_queries_only_the_exported_metrics() {
    let path = root().join("deploy/grafana/fiveledger.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        dashboard["uid"].as_str().is_some_and(|u| !u.is_empty()),
        "a fixed uid"
    );

    // A data source picker, and a service picker listing the jobs.
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating");
    let variable = |var: &str| {
        variables
            .iter()
            .find(|v| v["name"].as_str() == Some(var))
            .unwrap_or_else(|| panic!("no ${var} variable"))
    };
    let datasource = variable("datasource");
    assert_eq!(datasource["type"].as_str(), Some("datasource"));
    assert_eq!(datasource["query"].as_str(), Some("prometheus"));
    let service = variable("service");
    let query = service["query"]["query"]
        .as_str()
        .or(service["query"].as_str())
        .expect("service query");
    let inner = query
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .unwrap_or_else(|| panic!("$service: {query}"));
    let (metric, label) = inner.split_once(',').expect("label_values(metric, label)");
    assert!(METRICS.contains(&metric.trim()), "$service lists {metric}");
    assert_eq!(
        label.trim(),
        "job",
        "$service lists the jobs (service names)"
    );
    assert_eq!(service["datasource"]["uid"].as_str(), Some("${datasource}"));

    let mut ids = BTreeSet::new();
    let mut used = BTreeSet::new();
    let mut filtered = 0;
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or("?");
        assert!(
            ids.insert(panel["id"].as_i64().expect("panel id")),
            "{title}: id taken"
        );
        if panel["type"].as_str() == Some("row") {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"].as_str(),
            Some("${datasource}"),
            "{title}: fixed data source"
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            assert!(
                matches!(
                    target["datasource"]["uid"].as_str(),
                    None | Some("${datasource}")
                ),
                "{title}: fixed data source"
            );
            let (metrics, labels) = promql_parts(expr);
            assert!(!metrics.is_empty(), "{title}: {expr} reads no metric");
            for metric in &metrics {
                assert!(
                    METRICS.contains(&metric.as_str()),
                    "{title}: {metric} is not exported ({expr})"
                );
            }
            for label in &labels {
                assert!(
                    LABELS.contains(&label.as_str()),
                    "{title}: label {label} is not one the metrics carry ({expr})"
                );
            }
            filtered += usize::from(expr.contains("job=~\"$service\""));
            used.extend(metrics);
        }
    }
    // Every exported series has its panel, and the picker filters some.
    let unused: Vec<_> = METRICS.iter().filter(|m| !used.contains(**m)).collect();
    assert!(unused.is_empty(), "no panel shows {unused:?}");
    assert!(filtered > 0, "$service filters nothing");
}

/// The dashboard's ConfigMap: the one JSON file, under a fixed name (a
/// renamed one would stay behind and load twice), labelled for Grafana's
/// sidecar.
fn check_dashboard_config_map(data: &BTreeMap<String, String>, labels: &Value, at: &str) {
    let file: serde_json::Value =
        serde_json::from_str(&read(&root().join("deploy/grafana/fiveledger.json"))).expect("JSON");
    let shipped: serde_json::Value = serde_json::from_str(
        data.get("fiveledger.json")
            .unwrap_or_else(|| panic!("{at}: no fiveledger.json")),
    )
    .unwrap_or_else(|e| panic!("{at}: {e}"));
    assert_eq!(shipped, file, "{at}: not deploy/grafana/fiveledger.json");
    assert_eq!(
        labels["grafana_dashboard"].as_str(),
        Some("1"),
        "{at}: the sidecar's label"
    );
}

#[test]
fn the_prod_overlay_ships_the_dashboard_as_a_labelled_config_map() {
    let prod = k8s("overlays/prod");
    let (data, labels) = prod
        .generated_from_files("fiveledger-dashboard")
        .expect("prod generates fiveledger-dashboard");
    check_dashboard_config_map(&data, &labels, "prod");
    let grafana = Kustomization::load(&root().join("deploy/grafana"));
    assert_eq!(
        grafana.file["generatorOptions"]["disableNameSuffixHash"].as_bool(),
        Some(true),
        "a hashed name leaves the old dashboard behind on apply"
    );
    let Some(rendered) = kubectl_kustomize("overlays/prod") else {
        return;
    };
    let config_map = rendered
        .iter()
        .find(|r| kind(r) == "ConfigMap" && name(r) == "fiveledger-dashboard")
        .expect("kubectl prod: ConfigMap fiveledger-dashboard");
    check_dashboard_config_map(
        &config_map_data(config_map),
        &config_map["metadata"]["labels"],
        "kubectl prod",
    );
}
