//! The API's machine-readable contract holds: the descriptor set the servers
//! serve (and CI publishes) carries the `google.api` annotations, they agree
//! with the comments people read, and every resource and reference is named
//! the one way.
//!
//! `prost_types` drops extension options when it decodes, so the few
//! descriptor fields read here are declared below together with the
//! `google.api` extensions (field_behavior 1052 and resource_reference 1055
//! on FieldOptions, resource 1053 on MessageOptions).

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;

#[derive(Clone, PartialEq, Message)]
struct FileDescriptorSet {
    #[prost(message, repeated, tag = "1")]
    file: Vec<FileDescriptorProto>,
}

#[derive(Clone, PartialEq, Message)]
struct FileDescriptorProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    package: String,
    #[prost(string, repeated, tag = "3")]
    dependency: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    message_type: Vec<DescriptorProto>,
    #[prost(message, optional, tag = "8")]
    options: Option<FileOptions>,
    #[prost(message, optional, tag = "9")]
    source_code_info: Option<SourceCodeInfo>,
}

#[derive(Clone, PartialEq, Message)]
struct FileOptions {
    #[prost(string, optional, tag = "1")]
    java_package: Option<String>,
    #[prost(bool, optional, tag = "10")]
    java_multiple_files: Option<bool>,
    #[prost(string, optional, tag = "11")]
    go_package: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct DescriptorProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    field: Vec<FieldDescriptorProto>,
    #[prost(message, repeated, tag = "3")]
    nested_type: Vec<DescriptorProto>,
    #[prost(message, optional, tag = "7")]
    options: Option<MessageOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct FieldDescriptorProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(int32, tag = "3")]
    number: i32,
    /// 9 is TYPE_STRING.
    #[prost(int32, tag = "5")]
    r#type: i32,
    #[prost(message, optional, tag = "8")]
    options: Option<FieldOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct FieldOptions {
    #[prost(int32, repeated, packed = "false", tag = "1052")]
    field_behavior: Vec<i32>,
    #[prost(message, optional, tag = "1055")]
    resource_reference: Option<ResourceReference>,
}

#[derive(Clone, PartialEq, Message)]
struct MessageOptions {
    #[prost(message, optional, tag = "1053")]
    resource: Option<ResourceDescriptor>,
}

#[derive(Clone, PartialEq, Message)]
struct ResourceDescriptor {
    #[prost(string, tag = "1")]
    r#type: String,
    #[prost(string, repeated, tag = "2")]
    pattern: Vec<String>,
    #[prost(string, tag = "5")]
    plural: String,
    #[prost(string, tag = "6")]
    singular: String,
}

#[derive(Clone, PartialEq, Message)]
struct ResourceReference {
    #[prost(string, tag = "1")]
    r#type: String,
    #[prost(string, tag = "2")]
    child_type: String,
}

#[derive(Clone, PartialEq, Message)]
struct SourceCodeInfo {
    #[prost(message, repeated, tag = "1")]
    location: Vec<Location>,
}

#[derive(Clone, PartialEq, Message)]
struct Location {
    #[prost(int32, repeated, tag = "1")]
    path: Vec<i32>,
    #[prost(string, optional, tag = "3")]
    leading_comments: Option<String>,
}

// google.api.FieldBehavior values.
const REQUIRED: i32 = 2;
const OUTPUT_ONLY: i32 = 3;
const IMMUTABLE: i32 = 5;
const IDENTIFIER: i32 = 8;
const TYPE_STRING: i32 = 9;

/// One field of a message of the API, with what is said about it.
struct Field {
    /// `fiveledger.rounds.v1.Organisation.name`.
    full_name: String,
    /// `Organisation` (nested messages: `Outer.Inner`).
    message: String,
    name: String,
    number: i32,
    is_string: bool,
    behaviours: Vec<i32>,
    reference: Option<ResourceReference>,
    comment: String,
    message_comment: String,
}

impl Field {
    fn has(&self, behaviour: i32) -> bool {
        self.behaviours.contains(&behaviour)
    }
}

/// A resource message: its package, message name and descriptor.
struct Resource {
    package: String,
    message: String,
    descriptor: ResourceDescriptor,
}

struct Api {
    files: Vec<FileDescriptorProto>,
    fields: Vec<Field>,
    resources: Vec<Resource>,
}

fn api() -> Api {
    let set = FileDescriptorSet::decode(fiveledger_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    let files: Vec<_> = set
        .file
        .into_iter()
        .filter(|f| f.name.starts_with("fiveledger/"))
        .collect();
    let mut api = Api {
        files: Vec::new(),
        fields: Vec::new(),
        resources: Vec::new(),
    };
    for file in &files {
        let comments: BTreeMap<Vec<i32>, String> = file
            .source_code_info
            .as_ref()
            .map(|info| {
                info.location
                    .iter()
                    .map(|l| {
                        let comment = l.leading_comments.clone().unwrap_or_default();
                        (
                            l.path.clone(),
                            comment.split_whitespace().collect::<Vec<_>>().join(" "),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (i, message) in file.message_type.iter().enumerate() {
            collect(&mut api, file, &comments, message, "", vec![4, i as i32]);
        }
    }
    api.files = files;
    api
}

fn collect(
    api: &mut Api,
    file: &FileDescriptorProto,
    comments: &BTreeMap<Vec<i32>, String>,
    message: &DescriptorProto,
    outer: &str,
    path: Vec<i32>,
) {
    let name = if outer.is_empty() {
        message.name.clone()
    } else {
        format!("{outer}.{}", message.name)
    };
    let message_comment = comments.get(&path).cloned().unwrap_or_default();
    if let Some(resource) = message.options.as_ref().and_then(|o| o.resource.clone()) {
        api.resources.push(Resource {
            package: file.package.clone(),
            message: name.clone(),
            descriptor: resource,
        });
    }
    for (j, field) in message.field.iter().enumerate() {
        let mut field_path = path.clone();
        field_path.extend([2, j as i32]);
        let options = field.options.clone().unwrap_or_default();
        api.fields.push(Field {
            full_name: format!("{}.{name}.{}", file.package, field.name),
            message: name.clone(),
            name: field.name.clone(),
            number: field.number,
            is_string: field.r#type == TYPE_STRING,
            behaviours: options.field_behavior,
            reference: options.resource_reference,
            comment: comments.get(&field_path).cloned().unwrap_or_default(),
            message_comment: message_comment.clone(),
        });
    }
    for (k, nested) in message.nested_type.iter().enumerate() {
        let mut nested_path = path.clone();
        nested_path.extend([3, k as i32]);
        collect(api, file, comments, nested, &name, nested_path);
    }
}

/// `rounds` for `fiveledger.rounds.v1`.
fn service_of(package: &str) -> &str {
    package.split('.').nth(1).expect("fiveledger.<service>.v1")
}

/// The clauses of a comment, lower-cased: "Required, immutable." gives
/// `required` and `immutable`.
fn clauses(comment: &str) -> Vec<String> {
    comment
        .split(['.', ';', ','])
        .map(|c| c.trim().to_lowercase())
        .filter(|c| !c.is_empty())
        .collect()
}

/// The comment says the field is required, unconditionally ("Required for
/// ROUND_KIND_SPECIAL" or "required in the first message" are conditions the
/// annotation cannot say).
fn says_required(comment: &str) -> bool {
    clauses(comment).iter().any(|c| {
        c.starts_with("required")
            && !["required for", "required in", "required when"]
                .iter()
                .any(|cond| c.starts_with(cond))
    })
}

#[test]
fn the_annotations_survive_into_the_served_descriptor_set() {
    // The issue counted 36 required, 77 output-only and 10 immutable fields
    // documented in comments only; the annotations say at least as much. A
    // build that drops extension options (prost_types encoding) fails here.
    let api = api();
    let count = |b: i32| api.fields.iter().filter(|f| f.has(b)).count();
    assert!(count(REQUIRED) >= 36, "{} required", count(REQUIRED));
    assert!(
        count(OUTPUT_ONLY) >= 77,
        "{} output only",
        count(OUTPUT_ONLY)
    );
    assert!(count(IMMUTABLE) >= 10, "{} immutable", count(IMMUTABLE));
    assert!(
        api.resources.len() >= 13,
        "{} resources",
        api.resources.len()
    );
}

#[test]
fn every_file_names_its_go_and_java_packages() {
    for file in api().files {
        let options = file.options.clone().unwrap_or_default();
        let service = service_of(&file.package);
        assert_eq!(
            options.go_package.as_deref(),
            Some(
                format!(
                    "github.com/fiveledger/fiveledger/gen/go/fiveledger/{service}/v1;{service}v1"
                )
                .as_str()
            ),
            "{}",
            file.name
        );
        assert_eq!(
            options.java_package.as_deref(),
            Some(format!("org.{}", file.package).as_str()),
            "{}",
            file.name
        );
        assert_eq!(options.java_multiple_files, Some(true), "{}", file.name);
    }
}

#[test]
fn comments_and_annotations_say_the_same() {
    let mut wrong = Vec::new();
    for f in api().fields {
        let all_output = f.message_comment.contains("Every field is output only")
            || f.message_comment.contains("All fields are output only");
        let output = f.comment.starts_with("Output only") || all_output;
        // A resource's name identifies it; AIP-203 gives it IDENTIFIER alone.
        let identifier = f.has(IDENTIFIER);
        if output && !f.has(OUTPUT_ONLY) && !identifier {
            wrong.push(format!("{}: documented output only", f.full_name));
        }
        if f.has(OUTPUT_ONLY) && !output && !f.comment.to_lowercase().contains("output only") {
            // Output-only fields of messages only the service writes
            // (ProblemList, Publication, RectificationPlan's signatures) are
            // allowed without the words; every documented one is annotated.
            if !["ProblemList", "Publication", "RectificationPlan"].contains(&f.message.as_str()) {
                wrong.push(format!(
                    "{}: annotated output only, not documented",
                    f.full_name
                ));
            }
        }
        let immutable = clauses(&f.comment).iter().any(|c| c == "immutable");
        if immutable != f.has(IMMUTABLE) {
            wrong.push(format!("{}: immutable in comment {immutable}", f.full_name));
        }
        if says_required(&f.comment) && !f.has(REQUIRED) {
            wrong.push(format!("{}: documented required", f.full_name));
        }
        if identifier && f.behaviours.len() != 1 {
            wrong.push(format!("{}: IDENTIFIER with other behaviours", f.full_name));
        }
        if f.has(REQUIRED) && f.has(OUTPUT_ONLY) {
            wrong.push(format!("{}: required and output only", f.full_name));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn no_service_package_imports_another_services() {
    // A service's package imports its own files and the shared vocabulary
    // (`fiveledger.type.v1`) only; what two services both speak of lives
    // there, once. The shared vocabulary imports no service.
    let mut wrong = Vec::new();
    for file in api().files {
        let own = format!("fiveledger/{}/", service_of(&file.package));
        for dependency in &file.dependency {
            if dependency.starts_with("fiveledger/")
                && !dependency.starts_with(&own)
                && !dependency.starts_with("fiveledger/type/")
            {
                wrong.push(format!("{} imports {dependency}", file.name));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// `entries/{}/postings/{}` for `entries/{entry}/postings/{seq}`: the shape
/// of a name, whatever its variables are called.
fn shape(pattern: &str) -> String {
    let mut out = String::new();
    let mut in_var = false;
    for c in pattern.chars() {
        match c {
            '{' => {
                in_var = true;
                out.push_str("{}");
            }
            '}' => in_var = false,
            _ if !in_var => out.push(c),
            _ => {}
        }
    }
    out
}

/// The spans of a comment quoted in backticks.
fn quoted(comment: &str) -> impl Iterator<Item = &str> {
    comment.split('`').skip(1).step_by(2)
}

#[test]
fn every_resource_is_named_the_one_way_its_handlers_parse() {
    let api = api();
    let mut wrong = Vec::new();
    for r in &api.resources {
        let d = &r.descriptor;
        let expected = format!("{}.fiveledger.gov/{}", service_of(&r.package), r.message);
        if d.r#type != expected {
            wrong.push(format!(
                "{}: type {} (want {expected})",
                r.message, d.r#type
            ));
        }
        if d.pattern.len() != 1 || d.singular.is_empty() || d.plural.is_empty() {
            wrong.push(format!("{}: one pattern, singular and plural", r.message));
        }
        let fields: Vec<_> = api
            .fields
            .iter()
            .filter(|f| f.message == r.message && f.full_name.starts_with(&r.package))
            .collect();
        match fields.iter().find(|f| f.name == "name") {
            Some(name) => {
                if !(name.number == 1 && name.is_string && name.behaviours == [IDENTIFIER]) {
                    wrong.push(format!("{}: string name = 1, IDENTIFIER", name.full_name));
                }
                // The documented format is the one the annotation claims.
                let documented: Vec<_> = quoted(&name.comment).map(shape).collect();
                if !d.pattern.iter().all(|p| documented.contains(&shape(p))) {
                    wrong.push(format!(
                        "{}: pattern {:?}, documented {documented:?}",
                        name.full_name, d.pattern
                    ));
                }
            }
            None => wrong.push(format!("{}: no name field", r.message)),
        }
        for f in &fields {
            if matches!(f.name.as_str(), "create_time" | "update_time") && !f.has(OUTPUT_ONLY) {
                wrong.push(format!("{}: output only", f.full_name));
            }
        }
    }
    // Whatever carries a resource name in `name = 1` is a resource, unless
    // it is a request or an event payload naming one.
    let resources: BTreeSet<_> = api.resources.iter().map(|r| r.message.as_str()).collect();
    for f in &api.fields {
        if f.name == "name"
            && f.number == 1
            && f.is_string
            && !f.message.ends_with("Request")
            && f.message != "ProblemDeleted"
            && !resources.contains(f.message.as_str())
        {
            wrong.push(format!(
                "{}: a resource without google.api.resource",
                f.message
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Strings that hold a resource name or something else (a notice goes to
/// organisations by name or by path, or to a measure's owner).
const MIXED: &[&str] = &["fiveledger.type.v1.Notice.addressees"];

#[test]
fn every_resource_name_field_references_a_resource_that_exists() {
    let api = api();
    let types: BTreeSet<_> = api
        .resources
        .iter()
        .map(|r| r.descriptor.r#type.as_str())
        .collect();
    let shapes: BTreeSet<_> = api
        .resources
        .iter()
        .flat_map(|r| r.descriptor.pattern.iter().map(|p| shape(p)))
        .collect();
    let mut wrong = Vec::new();
    for f in &api.fields {
        if let Some(r) = &f.reference {
            let named = if r.r#type.is_empty() {
                &r.child_type
            } else {
                &r.r#type
            };
            if named != "*" && !types.contains(named.as_str()) {
                wrong.push(format!("{}: references unknown {named}", f.full_name));
            }
        }
        // A request's `name` and `parent` are required and say what they
        // name (`parent` by the child it holds, AIP-122).
        if f.message.ends_with("Request") && matches!(f.name.as_str(), "name" | "parent") {
            let ok = f.has(REQUIRED)
                && f.reference.as_ref().is_some_and(|r| {
                    if f.name == "name" {
                        !r.r#type.is_empty()
                    } else {
                        !r.child_type.is_empty()
                    }
                });
            if !ok {
                wrong.push(format!(
                    "{}: required, with its resource reference",
                    f.full_name
                ));
            }
        }
        // A string documented as holding a resource name (in the format of
        // one) says which resource it references; a resource's own name
        // identifies it instead.
        let documents_a_name = quoted(&f.comment).any(|q| shapes.contains(&shape(q)));
        if f.is_string
            && documents_a_name
            && f.reference.is_none()
            && !f.has(IDENTIFIER)
            && !MIXED.contains(&f.full_name.as_str())
        {
            wrong.push(format!(
                "{}: documented as a name, no resource_reference",
                f.full_name
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
