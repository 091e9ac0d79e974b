//! `crmsync profile ...`

use crmsync_core::Store;
use crmsync_core::model::{Endpoint, Profile, ProfileTest};
use crmsync_core::oauth::AuthMethod;
use crmsync_core::secrets::Secret;
use crmsync_engine::admin::profiles::{self, ConnectionTest, ProfileInput};
use serde_json::json;

use super::Ctx;
use crate::cli::{PasswordArgs, ProfileArgs, ProfileCmd};
use crate::output::{self, opt};
use crate::{CliError, secrets};

fn input(a: ProfileArgs, disallow_insecure: bool) -> Result<ProfileInput, CliError> {
    let o = *a.oauth;
    let client_secret = secrets::read_password(o.client_secret_stdin, o.client_secret_env.as_deref())
        .map_err(|e| match e {
            CliError::Invalid(m) => CliError::Invalid(
                m.replace("password-stdin", "client-secret-stdin")
                    .replace("password-env", "client-secret-env")
                    .replace("no password", "no client secret"),
            ),
            other => other,
        })?;
    Ok(ProfileInput {
        auth: o.auth,
        preset: o.preset,
        oauth_provider: o.provider,
        oauth_client_id: o.client_id,
        oauth_client_secret: client_secret,
        oauth_tenant: o.tenant,
        oauth_issuer: o.issuer,
        oauth_authorize_url: o.authorize_url,
        oauth_token_url: o.token_url,
        oauth_device_url: o.device_url,
        oauth_scopes: o.scopes,
        password: secrets::read_password(a.password.password_stdin, a.password.password_env.as_deref())?,
        kind: a.kind,
        incoming_host: a.incoming_host,
        incoming_port: a.incoming_port,
        incoming_security: a.incoming_security,
        outgoing_host: a.outgoing_host,
        outgoing_port: a.outgoing_port,
        outgoing_security: a.outgoing_security,
        ews_url: a.ews_url,
        graph_url: a.graph_url,
        dav_url: a.dav_url,
        outgoing_auth: a.outgoing_auth,
        credentials: a.credentials,
        username: a.username,
        max_connections: a.max_connections,
        min_poll_interval: a.min_poll_interval,
        timeout: a.timeout,
        process_from: a.process_from,
        allow_insecure: if a.allow_insecure {
            Some(true)
        } else if disallow_insecure {
            Some(false)
        } else {
            None
        },
    })
}

fn endpoint(e: &Option<Endpoint>) -> String {
    e.as_ref().map_or("-".into(), |e| format!("{}:{} ({})", e.host, e.port, e.security))
}

fn print(p: &Profile, last_test: Option<&ProfileTest>) {
    let d = &p.data;
    let mut pairs = vec![
        ("name", d.name.clone()),
        ("kind", d.kind.to_string()),
        ("incoming", endpoint(&d.incoming)),
        ("outgoing", endpoint(&d.outgoing)),
        ("outgoing auth", d.outgoing_auth.to_string()),
        ("ews url", opt(&d.ews_url)),
        ("graph url", opt(&d.graph_url)),
        ("dav url", opt(&d.dav_url)),
        ("credentials", d.credentials.to_string()),
        ("username", opt(&d.username)),
        ("password", if p.has_password { "(stored, encrypted)".into() } else { "-".into() }),
        ("auth", d.auth.to_string()),
        ("max connections", d.max_connections.to_string()),
        ("min poll interval", format!("{} s", d.min_poll_interval)),
        ("timeout", format!("{} s", d.timeout)),
        ("process from", opt(&d.process_from)),
        ("allow insecure", d.allow_insecure.to_string()),
    ];
    if let Some(o) = d.oauth.as_ref().filter(|_| d.auth == AuthMethod::Oauth2) {
        pairs.extend([
            ("oauth provider", o.provider.to_string()),
            ("client id", o.client_id.clone()),
            ("client secret", if p.has_client_secret { "(stored, encrypted)".into() } else { "-".into() }),
            ("tenant", opt(&o.tenant)),
            ("authorize url", o.authorize_url.clone()),
            ("token url", o.token_url.clone()),
            ("device url", opt(&o.device_url)),
            ("scopes", o.scopes.join(" ")),
        ]);
    }
    pairs.push((
        "last test",
        match last_test {
            Some(t) => format!("{} {}: {}", t.on.to_rfc3339(), if t.ok { "ok" } else { "FAILED" }, t.message),
            None => "never (run `crmsync profile test`)".into(),
        },
    ));
    output::fields(&pairs);
}

/// A profile as JSON with the result of its last Test Connection
/// (`last_test`, null when none ran).
fn with_last_test(p: &Profile, last_test: Option<ProfileTest>) -> Result<serde_json::Value, CliError> {
    let mut v = serde_json::to_value(p).map_err(|e| CliError::Runtime(e.to_string()))?;
    if let Some(obj) = v.as_object_mut() {
        obj.insert("last_test".into(), json!(last_test));
    }
    Ok(v)
}

/// The typed credentials of `profile test`: both a user name and a password, or neither.
fn test_credentials(
    username: Option<String>,
    password: &PasswordArgs,
) -> Result<Option<(String, Secret)>, CliError> {
    let secret = secrets::read_password(password.password_stdin, password.password_env.as_deref())?;
    match (username, secret) {
        (Some(u), Some(p)) => Ok(Some((u, p))),
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err(CliError::Invalid("password: --username needs --password-stdin or --password-env VAR".into()))
        }
        (None, Some(_)) => Err(CliError::Invalid("username: a password needs --username".into())),
    }
}

fn print_test(t: &ConnectionTest) {
    let login = match &t.login_as {
        Some(u) => format!("login as {u}"),
        None => "connection only, no login".into(),
    };
    println!("profile '{}': {} ({login})", t.profile, if t.ok { "ok" } else { "FAILED" });
    let rows = t
        .servers
        .iter()
        .map(|s| {
            vec![
                if s.ok { "ok".into() } else { "FAIL".into() },
                s.proto.clone(),
                format!("{}:{}", s.host, s.port),
                s.security.to_string(),
                format!("{} ms", s.elapsed_ms),
                s.code.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["RESULT", "PROTO", "SERVER", "SECURITY", "TIME", "CODE"], &rows);
    for s in &t.servers {
        println!("{} {}:{}: {}", s.proto, s.host, s.port, s.message);
        if let Some(h) = &s.hint {
            println!("  what to do: {}", crate::hints::what_to_do(h, s.action, None));
        }
    }
}

/// Runs a profile command.
pub fn run(ctx: &Ctx, store: &mut Store, cmd: ProfileCmd) -> Result<(), CliError> {
    match cmd {
        ProfileCmd::Add { name, args } => {
            let p = profiles::add(store, &name, &input(args, false)?)?;
            if ctx.json {
                output::json(&p)
            } else {
                println!("profile '{}' added", p.data.name);
                Ok(())
            }
        }
        ProfileCmd::Update { name, args, disallow_insecure } => {
            let p = profiles::update(store, &name, &input(args, disallow_insecure)?)?;
            if ctx.json {
                output::json(&p)
            } else {
                println!("profile '{}' updated", p.data.name);
                Ok(())
            }
        }
        ProfileCmd::Remove { name } => {
            profiles::remove(store, &name)?;
            if ctx.json {
                output::json(&json!({ "removed": name }))
            } else {
                println!("profile '{name}' removed");
                Ok(())
            }
        }
        ProfileCmd::List => {
            let list = profiles::list(store)?;
            if ctx.json {
                let mut out = Vec::with_capacity(list.len());
                for p in &list {
                    out.push(with_last_test(p, profiles::last_test(store, &p.data.name)?)?);
                }
                return output::json(&out);
            }
            let rows = list
                .iter()
                .map(|p| {
                    vec![
                        p.data.name.clone(),
                        p.data.kind.to_string(),
                        endpoint(&p.data.incoming),
                        endpoint(&p.data.outgoing),
                    ]
                })
                .collect::<Vec<_>>();
            output::table(&["NAME", "KIND", "INCOMING", "OUTGOING"], &rows);
            Ok(())
        }
        ProfileCmd::Test { name, username, mailbox, password } => {
            let credentials = test_credentials(username, &password)?;
            let report = super::runtime()?.block_on(profiles::test_connection_as(
                store,
                &name,
                credentials,
                mailbox.as_deref(),
            ))?;
            if ctx.json {
                output::json(&report)?;
            } else {
                print_test(&report);
            }
            if !report.ok {
                return Err(CliError::Reported(format!(
                    "Test Connection of profile '{}' failed for at least one server (see above)",
                    report.profile
                )));
            }
            Ok(())
        }
        ProfileCmd::Show { name } => {
            let p = profiles::show(store, &name)?;
            let last_test = profiles::last_test(store, &name)?;
            if ctx.json {
                output::json(&with_last_test(&p, last_test)?)
            } else {
                print(&p, last_test.as_ref());
                Ok(())
            }
        }
    }
}
