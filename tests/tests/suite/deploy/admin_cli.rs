//! The admin CLI run in the cluster (README: `kubectl run … --overrides`
//! with deploy/k8s/examples/admin-cli/overrides.json): the pod `kubectl run`
//! makes, merged with the overrides, reaches the prod services as they
//! expect and runs as restricted as they do.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use fiveledger_platform::settings;
use serde_yaml_ng::Value;

use super::{
    Kustomization, SERVICES, config_of, deployments_by_name, effective, file_mode, k8s,
    known_settings, labels_match, merge, mount_holding, read, root, strings,
};

/// The pod `kubectl run NAME --image … --restart=Never --overrides …
/// --command -- CMD` creates: its container named NAME, the overrides
/// merged in strategically.
fn kubectl_run(pod_name: &str, command: &[&str], overrides: &Value) -> Value {
    let mut pod: Value = serde_yaml_ng::from_str(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod_name}\n  labels:\n    run: {pod_name}\n\
         spec:\n  restartPolicy: Never\n  containers:\n    - name: {pod_name}\n      image: fiveledger\n"
    ))
    .expect("YAML");
    pod["spec"]["containers"][0]["command"] =
        Value::Sequence(command.iter().map(|c| Value::from(*c)).collect());
    merge(&mut pod, overrides, &format!("Pod {pod_name}"));
    pod
}

#[test]
fn the_admin_cli_pod_reaches_the_prod_services_with_the_operators_certificate() {
    let readme = read(&root().join("README.md"));
    let overrides_path = "deploy/k8s/examples/admin-cli/overrides.json";
    // README's command: the pod name, the overrides file, the binary.
    let run = readme
        .lines()
        .find(|l| l.contains("kubectl -n fiveledger run "))
        .expect("README runs the CLI with kubectl run");
    let pod_name = run
        .split_whitespace()
        .skip_while(|w| *w != "run")
        .nth(1)
        .expect("a pod name");
    assert!(
        readme.contains(&format!("--overrides=\"$(cat {overrides_path})\"")),
        "README does not pass {overrides_path}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&read(&root().join(overrides_path))).expect("JSON");
    let overrides = serde_yaml_ng::to_value(&json).expect("as YAML");
    let pod = kubectl_run(
        pod_name,
        &["/usr/local/bin/fiveledger", "verify"],
        &overrides,
    );
    let spec = &pod["spec"];
    let containers = spec["containers"].as_sequence().expect("containers");
    assert_eq!(
        containers.len(),
        1,
        "the overrides' container is not named {pod_name}: kubectl would add a second, imageless one"
    );
    let container = &containers[0];

    // Restricted, as the services run (and a restricted namespace admits).
    assert_eq!(
        effective(container, spec, "runAsNonRoot").as_bool(),
        Some(true)
    );
    assert!(
        effective(container, spec, "runAsUser")
            .as_i64()
            .is_some_and(|u| u > 0)
    );
    assert_eq!(
        effective(container, spec, "seccompProfile")["type"].as_str(),
        Some("RuntimeDefault")
    );
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert!(strings(&sc["capabilities"]["drop"]).contains(&"ALL".to_owned()));
    assert_eq!(spec["automountServiceAccountToken"].as_bool(), Some(false));

    let prod = k8s("overlays/prod");
    let rendered = prod.rendered();
    let known = known_settings();
    let deployments = deployments_by_name(&rendered);
    let service_env = |var: &str| -> Value {
        deployments["rounds"]["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_sequence()
            .expect("env")
            .iter()
            .find(|v| v["name"].as_str() == Some(var))
            .unwrap_or_else(|| panic!("prod rounds: no {var}"))
            .clone()
    };

    // The environment: settings the binaries read; Secrets as the services
    // take them; what the loader makes of it.
    let mut vars = Vec::new();
    for var in container["env"].as_sequence().expect("env") {
        let key = var["name"].as_str().expect("name");
        assert!(known.contains_key(key), "unknown setting {key}");
        let value = match var["value"].as_str() {
            Some(value) => value.to_owned(),
            None => {
                assert_eq!(
                    var["valueFrom"],
                    service_env(key)["valueFrom"],
                    "{key}: not from where the services read it"
                );
                "a-secret-from-the-cluster".to_owned()
            }
        };
        vars.push((key.to_owned(), value));
    }
    let (base, _) = settings::load_vars::<fiveledger_rounds::RoundsSettings>(
        "rounds",
        SocketAddr::from(([127, 0, 0, 1], 0)),
        &vars,
    )
    .unwrap_or_else(|e| panic!("the CLI cannot read the pod's environment: {e:#}"));
    assert!(
        !base.auth.secret.is_empty(),
        "no key: the CLI could not sign its admin token"
    );
    // The services where the services themselves find each other, and
    // tokens signed as they verify them.
    let config = config_of(&prod);
    for (key, value) in config
        .iter()
        .filter(|(k, _)| k.starts_with("FIVELEDGER_AUTH__"))
    {
        assert!(
            vars.contains(&(key.clone(), value.clone())),
            "{key}: the services read {value:?}, the CLI not"
        );
    }
    for (svc, url) in SERVICES.into_iter().zip([
        &base.upstream.rounds,
        &base.upstream.issues,
        &base.upstream.ledgers,
    ]) {
        assert_eq!(
            Some(url),
            config.get(&format!("FIVELEDGER_UPSTREAM__{}", svc.to_uppercase())),
            "{svc}"
        );
    }
    // Mutual TLS with the operators' certificate, mounted whole.
    assert!(base.tls.enabled, "the services accept TLS only");
    let files = base
        .tls
        .files(fiveledger_platform::tls::CLIENT, &base.data_dir);
    for (path, key) in [
        (&files.cert, "tls.crt"),
        (&files.key, "tls.key"),
        (&files.ca, "ca.crt"),
    ] {
        let (mount, volume) = mount_holding(container, spec, path);
        assert!(mount["subPath"].is_null(), "{}", path.display());
        let dir = mount["mountPath"].as_str().expect("mountPath");
        assert_eq!(path.strip_prefix(dir).ok(), Some(Path::new(key)));
        assert_eq!(
            volume["secret"]["secretName"].as_str(),
            Some("fiveledger-tls-client"),
            "{}",
            path.display()
        );
        assert_eq!(file_mode(&volume["secret"]["defaultMode"]), Some(0o440));
    }
    assert!(
        Kustomization::of_kind(&rendered, "Certificate")
            .iter()
            .any(|c| c["spec"]["secretName"].as_str() == Some("fiveledger-tls-client")),
        "prod issues no fiveledger-tls-client"
    );

    // Every service's NetworkPolicy lets the pod reach its gRPC port.
    let labels = &pod["metadata"]["labels"];
    let policies: BTreeMap<_, _> = Kustomization::of_kind(&rendered, "NetworkPolicy")
        .into_iter()
        .map(|p| (super::name(p), p))
        .collect();
    for svc in SERVICES {
        let admitted = policies[svc]["spec"]["ingress"]
            .as_sequence()
            .expect("ingress")
            .iter()
            .filter(|rule| {
                rule["ports"]
                    .as_sequence()
                    .is_some_and(|ports| ports.iter().any(|p| p["port"].as_str() == Some("grpc")))
            })
            .flat_map(|rule| rule["from"].as_sequence().into_iter().flatten())
            .any(|from| {
                from["namespaceSelector"].is_null()
                    && labels_match(&from["podSelector"]["matchLabels"], labels)
            });
        assert!(admitted, "{svc}'s NetworkPolicy keeps the admin pod out");
    }
}
