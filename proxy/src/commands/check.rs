//! `authgate check`: the effective configuration, secrets and URL passwords redacted.

use crate::auth::jwks::redact_password;
use crate::config::schema::SourceSection;
use crate::config::Settings;

/// The report `check` prints for valid settings.
pub(super) fn report(settings: &Settings) -> Result<String, toml::ser::Error> {
    let mut effective = settings.effective.clone();
    for source in &mut effective.auth.sources {
        if let SourceSection::JwksUrl(s) = source {
            s.url = redact_password(&s.url);
        }
    }
    if let Some(url) = effective.redis.as_mut().and_then(|r| r.url.as_mut()) {
        *url = crate::redis::shown(url);
    }
    let text = toml::to_string_pretty(&effective)?;
    let mut out = format!(
        "# authgate: configuration OK ({})\n# secrets (values never printed):\n",
        settings.file.display()
    );
    for s in &settings.secret_sources {
        out.push_str(&format!("#   {s} = \"***\"\n"));
    }
    out.push_str(&text);
    Ok(out)
}
