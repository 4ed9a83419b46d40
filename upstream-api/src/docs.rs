//! `GET /docs`: Swagger UI over `/openapi.json`, entirely from this service. The UI's
//! assets (the npm package `swagger-ui-dist`) are embedded at build time by `build.rs`;
//! the page's Content-Security-Policy lets it load nothing from anywhere else.

use warp::filters::BoxedFilter;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};
use warp::Filter;

use crate::models::ErrorBody;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/docs_assets.rs"));
}

/// The page. Its asset URLs are relative, so it also works under a path prefix.
const INDEX_HTML: &str = include_str!("docs/index.html");
/// Starts Swagger UI (a file, not an inline script, so the CSP needs no `unsafe-inline`).
const INIT_JS: &str = include_str!("docs/init.js");

/// Sent with every `/docs` response: same-origin only, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The Swagger UI version embedded, if the assets were there at build time.
#[cfg(docs_assets)]
pub const SWAGGER_UI_VERSION: Option<&str> = Some(assets::SWAGGER_UI_VERSION);
/// The Swagger UI version embedded, if the assets were there at build time.
#[cfg(not(docs_assets))]
pub const SWAGGER_UI_VERSION: Option<&str> = None;

/// Bytes of the embedded assets the page loads (JS and CSS).
#[cfg(docs_assets)]
pub const ASSET_BYTES: usize = assets::SWAGGER_UI_BUNDLE_JS.len() + assets::SWAGGER_UI_CSS.len();
/// Bytes of the embedded assets the page loads (JS and CSS).
#[cfg(not(docs_assets))]
pub const ASSET_BYTES: usize = 0;

/// `GET /docs` and `GET /docs/{asset}`.
pub fn routes() -> BoxedFilter<(Response,)> {
    let page = warp::path!("docs")
        .and(warp::get())
        .map(|| serve("text/html; charset=utf-8", INDEX_HTML.as_bytes(), false));
    let init = warp::path!("docs" / "init.js")
        .and(warp::get())
        .map(|| serve("text/javascript; charset=utf-8", INIT_JS.as_bytes(), false));
    let asset = warp::path!("docs" / String)
        .and(warp::get())
        .and_then(
            |name: String| async move { embedded(&name).ok_or_else(warp::reject::not_found) },
        );
    page.or(init).unify().or(asset).unify().boxed()
}

/// One embedded asset by its file name, or the 503 that says how to get them.
fn embedded(name: &str) -> Option<Response> {
    #[cfg(docs_assets)]
    {
        let (content_type, bytes) = match name {
            "swagger-ui-bundle.js" => (
                "text/javascript; charset=utf-8",
                assets::SWAGGER_UI_BUNDLE_JS,
            ),
            "swagger-ui.css" => ("text/css; charset=utf-8", assets::SWAGGER_UI_CSS),
            "LICENSE" => ("text/plain; charset=utf-8", assets::LICENSE),
            "NOTICE" => ("text/plain; charset=utf-8", assets::NOTICE),
            _ => return None,
        };
        Some(serve(content_type, bytes, true))
    }
    #[cfg(not(docs_assets))]
    {
        matches!(name, "swagger-ui-bundle.js" | "swagger-ui.css").then(not_built)
    }
}

fn serve(content_type: &'static str, body: &'static [u8], cacheable: bool) -> Response {
    if cfg!(not(docs_assets)) && content_type.starts_with("text/html") {
        return not_built();
    }
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if cacheable {
            "public, max-age=86400"
        } else {
            "no-cache"
        }),
    );
    response
}

/// 503: this binary was built before the assets were installed.
fn not_built() -> Response {
    let body = ErrorBody {
        error: "docs_unavailable".to_owned(),
        message: "built without the Swagger UI assets: run scripts/ci/docs-assets.sh \
                  (npm ci in upstream-api/docs-ui), then rebuild"
            .to_owned(),
        field: None,
    };
    warp::reply::with_status(warp::reply::json(&body), StatusCode::SERVICE_UNAVAILABLE)
        .into_response()
}
