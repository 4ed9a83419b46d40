//! The OpenAPI 3.1 document served at `GET /openapi.json`, generated from the
//! `#[utoipa::path]` attributes on the handlers and the schemas in `models`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDocument;
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
to authgate; authgate verifies it and forwards the request with a short-lived \
`X-Auth-Assertion` that this service verifies. Requests that reach this service without \
a valid assertion get 401."
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
    modifiers(&BearerAuth),
    security(("bearerAuth" = [])),
    tags(
        (name = "tasks", description = "A user's tasks; every call needs authgate's assertion"),
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

/// The document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|err| {
        tracing::error!(error = %err, "OpenAPI document does not serialize");
        serde_json::Value::Null
    })
}
