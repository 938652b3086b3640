//! The docs page: the OpenAPI document rendered as one HTML page on the
//! server, with inline CSS and no script, so that it works offline. Each
//! operation shows its method, path, summary, keys, parameters, body and
//! answers; the schemas follow with their fields.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// `text` with HTML's special characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The little Markdown the descriptions use: paragraphs, `code` and
/// **bold**, escaped.
fn markdown(text: &str) -> String {
    let mut html = String::new();
    for paragraph in text.split("\n\n") {
        let mut out = String::new();
        let mut code = false;
        let mut bold = false;
        let escaped = escape(paragraph.trim());
        let mut rest = escaped.as_str();
        while let Some(c) = rest.chars().next() {
            if rest.starts_with("**") && !code {
                out.push_str(if bold { "</strong>" } else { "<strong>" });
                bold = !bold;
                rest = &rest[2..];
                continue;
            }
            if c == '`' {
                out.push_str(if code { "</code>" } else { "<code>" });
                code = !code;
            } else {
                out.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
        if code {
            out.push_str("</code>");
        }
        if bold {
            out.push_str("</strong>");
        }
        let _ = write!(html, "<p>{out}</p>");
    }
    html
}

/// The component a `$ref` points to, if it is one.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(pointer) => document
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or(value),
        None => value,
    }
}

/// A schema in a few words: its name if it is a reference, else its type.
fn schema_label(schema: &Value) -> String {
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    if let Some(options) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
    {
        let labels: Vec<String> = options.iter().map(schema_label).collect();
        return labels.join(" | ");
    }
    if let Some(options) = schema.get("allOf").and_then(Value::as_array) {
        let labels: Vec<String> = options.iter().map(schema_label).collect();
        return labels.join(" + ");
    }
    if let Some(value) = schema.get("const") {
        return format!("<code>{}</code>", escape(&value.to_string()));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values
            .iter()
            .map(|v| escape(v.as_str().unwrap_or_default()))
            .collect();
        return format!("<code>{}</code>", values.join(" | "));
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => escape(kind),
        Some(Value::Array(kinds)) => {
            let kinds: Vec<String> = kinds
                .iter()
                .map(|k| escape(k.as_str().unwrap_or_default()))
                .collect();
            kinds.join(" | ")
        }
        _ => "any".to_owned(),
    };
    match schema.get("items") {
        Some(items) if kind == "array" => format!("array of {}", schema_label(items)),
        _ => kind,
    }
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;max-width:64rem;margin:0 auto;padding:1rem 2rem;color:#1d2430;line-height:1.45}\
h1{margin-bottom:0}h2{border-bottom:2px solid #d0d7e2;padding-bottom:.2rem;margin-top:2.5rem}\
code{background:#f1f3f7;padding:0 .25rem;border-radius:3px;font-size:.92em}\
.op{border:1px solid #d0d7e2;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}\
.op h3{margin:.2rem 0;font-size:1.05rem;font-family:ui-monospace,monospace}\
.m{display:inline-block;min-width:4.5rem;text-align:center;color:#fff;border-radius:4px;padding:0 .4rem;margin-right:.5rem}\
.get{background:#2f7d32}.post{background:#1c5fb8}.put{background:#a86500}.delete{background:#b3261e}.options{background:#5b6270}\
.summary{font-weight:600}.keys{color:#5b6270;font-size:.9em}\
table{border-collapse:collapse;width:100%;margin:.4rem 0;font-size:.92em}\
th,td{text-align:left;border-bottom:1px solid #e4e8ef;padding:.2rem .4rem;vertical-align:top}\
th{background:#f6f8fb}nav ul{columns:2}";

/// The methods in the order a page lists them.
const METHODS: [&str; 5] = ["get", "post", "put", "delete", "options"];

fn security_label(document: &Value, operation: &Value) -> &'static str {
    let security = operation
        .get("security")
        .or_else(|| document.get("security"));
    match security.and_then(Value::as_array) {
        Some(list) if list.is_empty() => "No key.",
        Some(list) => {
            let first = list.first().map(ToString::to_string).unwrap_or_default();
            if first.contains("clientId") {
                "Client key (X-Client-Application-Id, X-Client-Token) from an allowed Origin."
            } else {
                "Server key (X-App-Id, X-App-Token)."
            }
        }
        None => "No key.",
    }
}

fn render_parameters(out: &mut String, document: &Value, operation: &Value) {
    let Some(parameters) = operation.get("parameters").and_then(Value::as_array) else {
        return;
    };
    out.push_str("<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>");
    for parameter in parameters {
        let parameter = resolve(document, parameter);
        let name = parameter.get("name").and_then(Value::as_str).unwrap_or("");
        let place = parameter.get("in").and_then(Value::as_str).unwrap_or("");
        let required = parameter.get("required").and_then(Value::as_bool) == Some(true);
        let description = parameter
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("");
        let _ = write!(
            out,
            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            if required { " (required)" } else { "" },
            escape(place),
            parameter
                .get("schema")
                .map(schema_label)
                .unwrap_or_default(),
            markdown(description),
        );
    }
    out.push_str("</table>");
}

fn content_labels(content: Option<&Value>) -> String {
    let Some(Value::Object(content)) = content else {
        return String::new();
    };
    content
        .iter()
        .map(|(media, body)| {
            let schema = body.get("schema").map(schema_label).unwrap_or_default();
            format!("<code>{}</code> {schema}", escape(media))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn render_operation(out: &mut String, document: &Value, method: &str, path: &str, op: &Value) {
    let text = |name: &str| op.get(name).and_then(Value::as_str).unwrap_or("");
    let id = text("operationId");
    let _ = write!(
        out,
        "<div class=\"op\" id=\"op-{id}\"><h3><span class=\"m {method}\">{}</span>{}</h3>\
         <div class=\"summary\">{}</div><div class=\"keys\">{}</div>{}",
        method.to_ascii_uppercase(),
        escape(path),
        escape(text("summary")),
        security_label(document, op),
        markdown(text("description")),
        id = escape(id),
    );
    render_parameters(out, document, op);
    if let Some(body) = op.get("requestBody") {
        let required = body.get("required").and_then(Value::as_bool) == Some(true);
        let _ = write!(
            out,
            "<p>Body{}: {}</p>",
            if required { " (required)" } else { "" },
            content_labels(body.get("content")),
        );
    }
    if let Some(Value::Object(responses)) = op.get("responses") {
        out.push_str("<table><tr><th>Answer</th><th>Description</th><th>Body</th></tr>");
        for (status, response) in responses {
            // A shared answer links to its description, given once.
            let shared = response
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/responses/"));
            let response = resolve(document, response);
            let description = match shared {
                Some(name) => format!("<a href=\"#response-{0}\">{0}</a>", escape(name)),
                None => markdown(
                    response
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                ),
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{description}</td><td>{}</td></tr>",
                escape(status),
                content_labels(response.get("content")),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</div>");
}

fn render_schema(out: &mut String, name: &str, schema: &Value) {
    let _ = write!(
        out,
        "<div class=\"op\" id=\"schema-{0}\"><h3>{0}</h3>{1}",
        escape(name),
        markdown(
            schema
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
    );
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if properties.is_empty() {
        let _ = write!(out, "<p>{}</p>", schema_label(schema));
    } else {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.push_str("<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>");
        for (field, property) in properties {
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                escape(field),
                if required.contains(&field.as_str()) {
                    ""
                } else {
                    " (optional)"
                },
                schema_label(property),
                markdown(
                    property
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                ),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</div>");
}

/// The page of `document`.
pub(super) fn render(document: &Value) -> String {
    let info = &document["info"];
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} API</title><style>{STYLE}</style></head><body>\
         <h1>{title} API</h1><p>Version {version}. The machine-readable document: \
         <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI {openapi}).</p>{description}",
        title = escape(info["title"].as_str().unwrap_or("")),
        version = escape(info["version"].as_str().unwrap_or("")),
        openapi = escape(document["openapi"].as_str().unwrap_or("")),
        description = markdown(info["description"].as_str().unwrap_or("")),
    );
    // Operations by tag, in the order of the document's tags.
    let empty = Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    let tags: Vec<&str> = document["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    out.push_str("<nav><h2>Contents</h2><ul>");
    for tag in &tags {
        let _ = write!(
            out,
            "<li><a href=\"#tag-{0}\">{0}</a></li>",
            escape(&tag.replace(' ', "-"))
        );
    }
    out.push_str(
        "<li><a href=\"#errors\">error answers</a></li>\
         <li><a href=\"#schemas\">schemas</a></li></ul></nav>",
    );
    for tag in &tags {
        let mut section = String::new();
        for (path, item) in paths {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let in_tag = op["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t.as_str() == Some(tag)));
                if in_tag {
                    render_operation(&mut section, document, method, path, op);
                }
            }
        }
        if section.is_empty() {
            continue;
        }
        let description = document["tags"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"].as_str() == Some(tag)))
            .and_then(|t| t["description"].as_str())
            .unwrap_or("");
        let _ = write!(
            out,
            "<h2 id=\"tag-{}\">{}</h2>{}{section}",
            escape(&tag.replace(' ', "-")),
            escape(tag),
            markdown(description),
        );
    }
    out.push_str("<h2 id=\"errors\">Error answers</h2>");
    if let Some(responses) = document
        .pointer("/components/responses")
        .and_then(Value::as_object)
    {
        for (name, response) in responses {
            let _ = write!(
                out,
                "<div class=\"op\" id=\"response-{0}\"><h3>{0}</h3>{1}<p>{2}</p></div>",
                escape(name),
                markdown(
                    response
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                ),
                content_labels(response.get("content")),
            );
        }
    }
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            render_schema(&mut out, name, schema);
        }
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_and_marks_code() {
        assert_eq!(
            markdown("a `<b>` **c**\n\nd"),
            "<p>a <code>&lt;b&gt;</code> <strong>c</strong></p><p>d</p>"
        );
    }
}
