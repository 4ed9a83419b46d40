//! The OpenAPI 3.1 document served at `GET /openapi.json`, generated from the
//! `#[utoipa::path]` attributes on the handlers, the schemas in `models` and the path
//! parameters in `routing`, plus what authgate itself answers on the routes it guards.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDocument, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::handlers;
use crate::models::{CreateTaskRequest, ErrorBody, Health, StatusFilter, Task, UpdateTaskRequest};

/// Name of the security scheme every task endpoint requires.
pub const SECURITY_SCHEME: &str = "bearerAuth";

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "upstream-api",
        description = "Per-user task API behind authgate. Clients send `Authorization: Bearer <JWT>` \
to authgate; authgate verifies it and forwards the request with a short-lived, one-use \
`X-Auth-Assertion` that this service verifies. Every `/api` operation can also get \
authgate's own answers: 400 (request target or `Authorization` header unusable), 401 (no \
or invalid token, with `WWW-Authenticate`), 403 (the token's subject does not own the \
path, with `WWW-Authenticate`), 502/504 (this service unreachable or slow) and 503 \
(signing keys not loaded yet, with `Retry-After`). Error bodies are always \
`{\"error\": \"<code>\", \"message\": \"<text>\"}`. A method a path does not take is 405 \
with `Allow`."
    ),
    paths(
        handlers::list_tasks,
        handlers::create_task,
        handlers::get_task,
        handlers::update_task,
        handlers::delete_task,
        handlers::toggle_task,
        handlers::health,
    ),
    components(schemas(Task, CreateTaskRequest, UpdateTaskRequest, StatusFilter, ErrorBody, Health)),
    modifiers(&BearerAuth, &GuardedResponses, &UpdateNeedsAField),
    security(("bearerAuth" = [])),
    tags(
        (name = "tasks", description = "A user's tasks; every call needs a bearer token at authgate"),
        (name = "health", description = "Liveness and database check, no auth"),
    )
)]
pub struct ApiDoc;

/// Adds the `bearerAuth` scheme (HTTP bearer, JWT).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SECURITY_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT presented to authgate, which forwards an X-Auth-Assertion",
                    ))
                    .build(),
            ),
        );
    }
}

/// One answer every guarded operation can get: (status, component name, description,
/// response headers as (name, description)).
type Guarded = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The answers every guarded operation can get, from authgate or from this service's
/// own checks before any handler runs.
const GUARDED: &[Guarded] = &[
    (
        "400",
        "BadRequest",
        "Malformed request. From authgate: a request target it cannot canonicalise \
         safely, ambiguous framing, or more than one Authorization header. From \
         upstream-api: a `{user_id}` outside its pattern, or a body that is not JSON.",
        &[],
    ),
    (
        "401",
        "Unauthorized",
        "No valid credentials. From authgate (`missing_token`, `invalid_token`): no, \
         malformed or refused bearer token. From upstream-api (`unauthorized`): no valid, \
         unused X-Auth-Assertion for this very request.",
        &[(
            "WWW-Authenticate",
            "`Bearer realm=\"authgate\"`, with `error` and `error_description` when a token \
             was refused; `Bearer realm=\"upstream-api\"` from upstream-api",
        )],
    ),
    (
        "403",
        "Forbidden",
        "The token's subject is not the `{user_id}` in the path (authgate: \
         `insufficient_scope`, upstream-api: `forbidden`).",
        &[(
            "WWW-Authenticate",
            "From authgate: `Bearer realm=\"authgate\", error=\"insufficient_scope\", …`",
        )],
    ),
    (
        "500",
        "InternalError",
        "An internal failure; no database detail is ever included.",
        &[],
    ),
    (
        "502",
        "BadGateway",
        "From authgate: upstream-api could not be reached.",
        &[],
    ),
    (
        "503",
        "ServiceUnavailable",
        "Not ready. From authgate: its signing keys are not loaded yet. From \
         upstream-api: too many live assertions to check this one for replay.",
        &[("Retry-After", "Seconds to wait before retrying")],
    ),
    (
        "504",
        "GatewayTimeout",
        "From authgate: upstream-api did not answer in time.",
        &[],
    ),
];

/// Adds [`GUARDED`] as shared responses to every operation under `/api`.
struct GuardedResponses;

impl Modify for GuardedResponses {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description, headers) in GUARDED {
            let mut response = ResponseBuilder::new().description(*description).content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            );
            for (header, about) in *headers {
                response = response.header(
                    *header,
                    HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(Type::String))
                        .description(Some(*about))
                        .build(),
                );
            }
            components
                .responses
                .insert((*name).to_owned(), RefOr::T(response.build()));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, name, _, _) in GUARDED {
                    operation
                        .responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
                }
            }
        }
    }
}

/// `PUT` needs at least one field: `minProperties: 1` on `UpdateTaskRequest`. Set here
/// because utoipa-gen 5.5.0 turns `#[schema(min_properties = …)]` into `maxProperties`.
struct UpdateNeedsAField;

impl Modify for UpdateNeedsAField {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let schemas = &mut openapi
            .components
            .get_or_insert_with(Default::default)
            .schemas;
        if let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut("UpdateTaskRequest") {
            object.min_properties = Some(1);
        }
    }
}

/// The document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|err| {
        tracing::error!(error = %err, "OpenAPI document does not serialize");
        serde_json::Value::Null
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{DESCRIPTION_PATTERN, TITLE_PATTERN};
    use crate::routing::USER_ID_PATTERN;

    #[test]
    fn the_documented_patterns_are_the_enforced_ones() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        for schema in ["CreateTaskRequest", "UpdateTaskRequest"] {
            let properties = &schemas[schema]["properties"];
            assert_eq!(properties["title"]["pattern"], TITLE_PATTERN, "{schema}");
            assert_eq!(
                properties["description"]["pattern"], DESCRIPTION_PATTERN,
                "{schema}"
            );
            assert_eq!(schemas[schema]["additionalProperties"], false, "{schema}");
        }
        assert_eq!(schemas["UpdateTaskRequest"]["minProperties"], 1);
        assert!(schemas["UpdateTaskRequest"].get("maxProperties").is_none());
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    match parameter["name"].as_str() {
                        Some("user_id") => assert_eq!(
                            parameter["schema"]["pattern"], USER_ID_PATTERN,
                            "{method} {path}"
                        ),
                        Some("id") => {
                            assert_eq!(parameter["schema"]["format"], "uuid", "{method} {path}")
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    #[test]
    fn every_guarded_operation_lists_authgates_answers() {
        let doc = document();
        let mut seen = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                let responses = &operation["responses"];
                if path.starts_with("/api/") {
                    seen += 1;
                    for (status, ..) in GUARDED {
                        assert!(responses[*status].is_object(), "{method} {path} {status}");
                    }
                    assert!(
                        operation["security"]
                            .as_array()
                            .is_some_and(|s| s.iter().any(|r| r.get(SECURITY_SCHEME).is_some())),
                        "{method} {path} security"
                    );
                }
            }
        }
        assert_eq!(seen, 6);
        let unauthorized = &doc["components"]["responses"]["Unauthorized"];
        assert!(unauthorized["headers"]["WWW-Authenticate"].is_object());
    }
}
