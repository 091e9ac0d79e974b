//! The EWS session against a scripted HTTP server on loopback: what the
//! login sends, and how HTTP statuses, oversize and slow answers, per-item
//! errors and NTLM come back to the engine as error codes and classes.
//! (HTTPS with the harness CA and schema validation of every request are
//! covered by the EWS replay server tests.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use crmsync_core::ErrorClass;
use crmsync_protocols::ews::autodiscover::How;
use crmsync_protocols::ews::*;
use crmsync_tests::scripted_http::{Answer, ScriptedHttp};

fn fixture(rel: &str) -> String {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("shared/fixtures/ews"))
        .find(|d| d.is_dir())
        .expect("the shared EWS fixtures (shared/fixtures/ews beside the checkout)");
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

fn xml(status: u16, body: String) -> Answer {
    Answer::Full {
        status,
        headers: vec![("Content-Type".into(), "text/xml; charset=utf-8".into())],
        body: body.into_bytes(),
    }
}

fn basic() -> EwsAuth {
    EwsAuth::Basic { user: "CONTOSO\\anna".into(), password: "s3cret".into() }
}

fn settings(base: &str, auth: EwsAuth) -> EwsSettings {
    let mut s = EwsSettings::new(format!("{base}/EWS/Exchange.asmx"), auth);
    s.allow_insecure = true;
    s.timeout = Duration::from_secs(5);
    s
}

fn inbox() -> GetFolder {
    GetFolder { shape: BaseShape::Default, folders: vec![DistinguishedFolder::Inbox.into()] }
}

#[tokio::test]
async fn a_plaintext_url_is_refused_before_anything_is_sent_unless_the_profile_allows_it() {
    let server = ScriptedHttp::start(|_| xml(200, fixture("docs/getfolder.response.xml"))).await.unwrap();
    let mut s = settings(&server.base_url(), basic());
    s.allow_insecure = false;
    let e = EwsClient::new(&s).unwrap_err();
    assert_eq!(e.code(), "PLAINTEXT_REFUSED");
    assert!(server.requests().is_empty());

    s.allow_insecure = true;
    let client = EwsClient::new(&s).unwrap();
    let folders = client.get_folders(&inbox()).await.unwrap();
    assert_eq!(folders[0].as_ref().unwrap().display_name.as_deref(), Some("Inbox"));
    let req = &server.requests()[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/EWS/Exchange.asmx"));
    let auth = req.header("authorization").unwrap();
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(auth.strip_prefix("Basic ").unwrap()).unwrap();
    assert_eq!(decoded, b"CONTOSO\\anna:s3cret");
    assert!(req.header("content-type").unwrap().starts_with("text/xml"));
    assert!(req.body.contains("<m:GetFolder>") && req.body.contains(r#"Version="Exchange2010_SP2""#));
}

#[tokio::test]
async fn http_401_is_a_permanent_login_error_with_a_hint_and_403_is_access_denied() {
    let server = ScriptedHttp::start(|r| {
        if r.body.contains("calendar") { Answer::status(403) } else { Answer::status(401) }
    })
    .await
    .unwrap();
    let client = EwsClient::new(&settings(&server.base_url(), basic())).unwrap();
    let e = client.get_folders(&inbox()).await.unwrap_err();
    assert_eq!((e.code(), e.class()), ("EWS_AUTH_FAILED", ErrorClass::Permanent));
    assert!(e.to_string().contains("CONTOSO\\anna") && e.to_string().contains("DOMAIN\\user"), "{e}");
    assert!(!e.to_string().contains("s3cret"));
    let cal = GetFolder { shape: BaseShape::IdOnly, folders: vec![DistinguishedFolder::Calendar.into()] };
    let e = client.get_folders(&cal).await.unwrap_err();
    assert_eq!((e.code(), e.class()), ("EWS_ACCESS_DENIED", ErrorClass::Permanent));
}

#[tokio::test]
async fn server_errors_are_transient_and_a_soap_fault_in_a_500_names_the_element() {
    let server = ScriptedHttp::start(|r| {
        if r.body.contains("inbox") {
            Answer::status(502)
        } else if r.body.contains("calendar") {
            Answer::Full { status: 503, headers: vec![("Retry-After".into(), "7".into())], body: vec![] }
        } else {
            xml(500, fixture("docs/updateitem-contact-error-schemavalidation-soapfault.response.xml"))
        }
    })
    .await
    .unwrap();
    let client = EwsClient::new(&settings(&server.base_url(), basic())).unwrap();
    let e = client.get_folders(&inbox()).await.unwrap_err();
    assert_eq!((e.code(), e.class()), ("SERVER_BUSY", ErrorClass::Transient));
    let cal = GetFolder { shape: BaseShape::IdOnly, folders: vec![DistinguishedFolder::Calendar.into()] };
    let e = client.get_folders(&cal).await.unwrap_err();
    assert_eq!((e.code(), e.retry_after()), ("THROTTLED", Some(Duration::from_secs(7))));
    let tasks = GetFolder { shape: BaseShape::IdOnly, folders: vec![DistinguishedFolder::Tasks.into()] };
    let e = client.get_folders(&tasks).await.unwrap_err();
    assert_eq!(e.code(), "EWS_SCHEMA_ERROR");
    assert!(e.to_string().contains("'Key' attribute") && e.to_string().contains("line 17"), "{e}");
}

#[tokio::test]
async fn an_answer_over_the_bound_is_refused_without_reading_it_all() {
    for announce_length in [true, false] {
        let server = ScriptedHttp::start(move |_| Answer::Repeated {
            status: 200,
            announce_length,
            prefix: b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>".to_vec(),
            chunk: vec![b' '; 64 << 10],
            times: 1024,
        })
        .await
        .unwrap();
        let mut s = settings(&server.base_url(), basic());
        s.max_response_bytes = 1 << 20;
        let client = EwsClient::new(&s).unwrap();
        let e = client.get_folders(&inbox()).await.unwrap_err();
        assert_eq!((e.code(), e.class()), ("RESPONSE_TOO_LARGE", ErrorClass::Permanent), "{e}");
        assert!(server.body_bytes_written() < 16 << 20, "stopped reading early");
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_transient() {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let mut s = settings(&format!("http://127.0.0.1:{port}"), basic());
    s.timeout = Duration::from_secs(1);
    let client = EwsClient::new(&s).unwrap();
    let e = client.get_folders(&inbox()).await.unwrap_err();
    assert_eq!((e.code(), e.class()), ("TIMEOUT", ErrorClass::Transient), "{e}");
    hold.abort();
}

#[tokio::test]
async fn batch_answers_give_one_result_per_item_and_sync_errors_ask_for_a_resync() {
    let server = ScriptedHttp::start(|r| {
        if r.body.contains("SyncFolderItems") {
            xml(200, fixture("docs/syncfolderitems-error-invalidsyncstatedata.response.xml"))
        } else {
            xml(200, fixture("gromox/054-getitem-batch-over-limit-serverbusy.response.xml"))
        }
    })
    .await
    .unwrap();
    let client = EwsClient::new(&settings(&server.base_url(), basic())).unwrap();
    let got = client
        .get_items(&GetItem { shape: ItemShape::default(), ids: ["a", "b", "c"].map(ItemId::new).to_vec() })
        .await
        .unwrap();
    assert!(matches!(got[0], Ok(Item::CalendarItem(_))));
    assert!(matches!(got[1], Ok(Item::Contact(_))));
    let e = got[2].as_ref().unwrap_err();
    assert_eq!((e.code(), e.class()), ("SERVER_BUSY", ErrorClass::Transient));
    let e = client
        .sync_folder_items(&SyncFolderItems {
            shape: ItemShape::default(),
            folder: DistinguishedFolder::Inbox.into(),
            sync_state: Some("stale".into()),
            max_changes: 100,
            normal_items_scope: false,
        })
        .await
        .unwrap_err();
    assert!(e.is_resync_required(), "{e}");
    assert!(e.to_string().contains("inbox"));
}

/// The server side of NTLM (sspi's acceptor) for user CONTOSO\anna.
struct NtlmServer {
    ntlm: sspi::Ntlm,
    creds: Option<sspi::AuthIdentityBuffers>,
}

impl NtlmServer {
    fn new(password: &str) -> NtlmServer {
        use sspi::{CredentialUse, Sspi};
        let identity = sspi::AuthIdentity {
            username: sspi::Username::parse("CONTOSO\\anna").unwrap(),
            password: password.to_string().into(),
        };
        let mut ntlm = sspi::Ntlm::new();
        let creds = ntlm
            .acquire_credentials_handle()
            .with_credential_use(CredentialUse::Inbound)
            .with_auth_data(&identity)
            .execute(&mut ntlm)
            .unwrap()
            .credentials_handle;
        NtlmServer { ntlm, creds }
    }

    /// Accepts one client token; the server's token (CHALLENGE) or None when authenticated.
    fn accept(&mut self, token: Vec<u8>) -> Result<Option<Vec<u8>>, String> {
        use sspi::{
            BufferType, DataRepresentation, SecurityBuffer, SecurityStatus, ServerRequestFlags, Sspi,
            SspiImpl,
        };
        let mut input = vec![SecurityBuffer::new(token, BufferType::Token)];
        let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let builder = self
            .ntlm
            .accept_security_context()
            .with_credentials_handle(&mut self.creds)
            .with_context_requirements(ServerRequestFlags::ALLOCATE_MEMORY)
            .with_target_data_representation(DataRepresentation::Native)
            .with_input(&mut input)
            .with_output(&mut output);
        let result = self
            .ntlm
            .accept_security_context_impl(builder)
            .and_then(|mut g| g.resolve_to_result())
            .map_err(|e| e.to_string())?;
        if [SecurityStatus::CompleteAndContinue, SecurityStatus::CompleteNeeded].contains(&result.status) {
            self.ntlm.complete_auth_token(&mut output).map_err(|e| e.to_string())?;
        }
        Ok((result.status == SecurityStatus::ContinueNeeded).then(|| output.remove(0).buffer))
    }
}

async fn ntlm_server(password: &'static str) -> ScriptedHttp {
    let state: Arc<Mutex<Option<NtlmServer>>> = Arc::default();
    ScriptedHttp::start(move |r| {
        let b64 = base64::engine::general_purpose::STANDARD;
        let deny = || Answer::Full {
            status: 401,
            headers: vec![
                ("WWW-Authenticate".into(), "Negotiate".into()),
                ("WWW-Authenticate".into(), "NTLM".into()),
            ],
            body: vec![],
        };
        let Some(token) =
            r.header("authorization").and_then(|a| a.strip_prefix("NTLM ")).and_then(|t| b64.decode(t).ok())
        else {
            return deny();
        };
        let mut st = state.lock().unwrap();
        if token.get(8) == Some(&1) {
            *st = Some(NtlmServer::new(password));
        }
        let Some(server) = st.as_mut() else { return deny() };
        match server.accept(token) {
            Ok(Some(challenge)) => Answer::Full {
                status: 401,
                headers: vec![("WWW-Authenticate".into(), format!("NTLM {}", b64.encode(challenge)))],
                body: vec![],
            },
            Ok(None) => xml(200, fixture("docs/getfolder.response.xml")),
            Err(_) => deny(),
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn ntlm_logs_in_with_the_right_password_and_reports_a_wrong_one() {
    let server = ntlm_server("s3cret").await;
    let ntlm = EwsAuth::Ntlm { user: "CONTOSO\\anna".into(), password: "s3cret".into() };
    let client = EwsClient::new(&settings(&server.base_url(), ntlm)).unwrap();
    let folders = client.get_folders(&inbox()).await.unwrap();
    assert_eq!(folders[0].as_ref().unwrap().display_name.as_deref(), Some("Inbox"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "NEGOTIATE, then AUTHENTICATE with the request");
    assert!(reqs[0].body.is_empty() && reqs[1].body.contains("GetFolder"));

    let server = ntlm_server("another").await;
    let ntlm = EwsAuth::Ntlm { user: "CONTOSO\\anna".into(), password: "s3cret".into() };
    let client = EwsClient::new(&settings(&server.base_url(), ntlm)).unwrap();
    let e = client.get_folders(&inbox()).await.unwrap_err();
    assert_eq!((e.code(), e.class()), ("EWS_AUTH_FAILED", ErrorClass::Permanent), "{e}");
}

#[tokio::test]
async fn a_server_without_ntlm_says_which_logins_it_offers() {
    let server = ScriptedHttp::start(|_| Answer::Full {
        status: 401,
        headers: vec![("WWW-Authenticate".into(), "Basic realm=\"mail\"".into())],
        body: vec![],
    })
    .await
    .unwrap();
    let ntlm = EwsAuth::Ntlm { user: "anna@contoso.com".into(), password: "pw".into() };
    let client = EwsClient::new(&settings(&server.base_url(), ntlm)).unwrap();
    let e = client.get_folders(&inbox()).await.unwrap_err();
    assert_eq!(e.code(), "EWS_AUTH_MECHANISM_UNAVAILABLE");
    assert!(e.to_string().contains("Basic"), "{e}");
}

#[tokio::test]
async fn autodiscover_follows_a_redirect_address_and_says_how_the_url_was_found() {
    let server = ScriptedHttp::start(|r| {
        if r.body.contains("elvin@mail.contoso.com") {
            xml(200, fixture("docs/autodiscover-pox.response.xml"))
        } else {
            xml(200, fixture("docs/autodiscover-pox-redirectaddr.response.xml"))
        }
    })
    .await
    .unwrap();
    let s = AutodiscoverSettings {
        email: "anna@contoso.com".into(),
        auth: basic(),
        base_url: Some(server.base_url()),
        allow_insecure: true,
        timeout: Duration::from_secs(5),
        extra_roots: vec![],
    };
    let found = discover_ews_url(&s).await.unwrap();
    assert_eq!(found.ews_url, "https://mail.contoso.com/ews/exchange.asmx");
    assert_eq!(found.how, How::Override);
    assert_eq!(found.redirects, vec!["elvin@mail.contoso.com".to_string()]);
    assert_eq!(found.email, "elvin@mail.contoso.com");
    assert!(found.describe().contains("/autodiscover/autodiscover.xml"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, "/autodiscover/autodiscover.xml");

    // A server that redirects for ever is given up on.
    let looping =
        ScriptedHttp::start(|_| xml(200, fixture("docs/autodiscover-pox-redirectaddr.response.xml")))
            .await
            .unwrap();
    let e = discover_ews_url(&AutodiscoverSettings { base_url: Some(looping.base_url()), ..s.clone() })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("redirected more than"), "{e}");
    assert!(looping.requests().len() <= autodiscover::MAX_HOPS + 1);

    // Plain HTTP needs the insecure opt-in even for an override.
    let e = discover_ews_url(&AutodiscoverSettings { allow_insecure: false, ..s }).await.unwrap_err();
    assert!(e.to_string().contains("unencrypted"), "{e}");
}

/// What the HTTPS test server answers: status, headers, body.
type Reply = (u16, Vec<(String, String)>, String);

/// An HTTPS server with the harness CA's certificate; `handler` gets each
/// request's Authorization header and body. Connections are kept alive.
async fn https_server(
    ca: &crmsync_tests::tls::TestCa,
    handler: impl Fn(Option<&str>, &str) -> Reply + Send + Sync + 'static,
) -> (u16, tokio::task::JoinHandle<()>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(ca.cert_path()).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(ca.key_path()).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handler = Arc::new(handler);
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, handler) = (acceptor.clone(), handler.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let complete = text.find("\r\n\r\n").and_then(|end| {
                        let head = &text[..end];
                        let header = |name: &str| {
                            head.lines().find_map(|l| {
                                let (n, v) = l.split_once(':')?;
                                n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                            })
                        };
                        let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                        (buf.len() >= end + 4 + len).then(|| {
                            (end + 4 + len, header("authorization"), text[end + 4..end + 4 + len].to_string())
                        })
                    });
                    let Some((used, auth, body)) = complete else {
                        match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    buf.drain(..used);
                    let (status, headers, body) = handler(auth.as_deref(), &body);
                    let mut head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n",
                        body.len()
                    );
                    for (n, v) in headers {
                        head.push_str(&format!("{n}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    if tls.write_all(head.as_bytes()).await.is_err()
                        || tls.write_all(body.as_bytes()).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, task)
}

#[tokio::test]
async fn https_is_verified_with_the_profiles_extra_ca_and_an_unknown_issuer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = crmsync_tests::tls::TestCa::generate(dir.path()).unwrap();
    let answer = fixture("docs/getfolder.response.xml");
    let (port, task) = https_server(&ca, move |_, _| (200, vec![], answer.clone())).await;
    let mut s = EwsSettings::new(format!("https://localhost:{port}/EWS/Exchange.asmx"), basic());
    s.timeout = Duration::from_secs(5);

    let e = EwsClient::new(&s).unwrap().get_folders(&inbox()).await.unwrap_err();
    assert_eq!((e.code(), e.class()), ("TLS_CERT_INVALID", ErrorClass::Permanent), "{e}");

    s.extra_roots = ca.ca_pem().as_bytes().to_vec();
    let folders = EwsClient::new(&s).unwrap().get_folders(&inbox()).await.unwrap();
    assert_eq!(folders[0].as_ref().unwrap().display_name.as_deref(), Some("Inbox"));
    task.abort();
}

/// An HTTPS server doing NTLM for CONTOSO\anna that expects `binding` as the channel binding.
async fn ntlm_https_server(
    ca: &crmsync_tests::tls::TestCa,
    binding: Vec<u8>,
) -> (u16, tokio::task::JoinHandle<()>) {
    let state: Arc<Mutex<Option<NtlmServer>>> = Arc::default();
    let answer = fixture("docs/getfolder.response.xml");
    https_server(ca, move |auth, _body| {
        let b64 = base64::engine::general_purpose::STANDARD;
        let deny = || (401, vec![("WWW-Authenticate".to_string(), "NTLM".to_string())], String::new());
        let Some(token) = auth.and_then(|a| a.strip_prefix("NTLM ")).and_then(|t| b64.decode(t).ok()) else {
            return deny();
        };
        let mut st = state.lock().unwrap();
        if token.get(8) == Some(&1) {
            let mut server = NtlmServer::new("s3cret");
            server.ntlm.set_channel_bindings(&binding);
            *st = Some(server);
        }
        let Some(server) = st.as_mut() else { return deny() };
        match server.accept(token) {
            Ok(Some(challenge)) => (
                401,
                vec![("WWW-Authenticate".to_string(), format!("NTLM {}", b64.encode(challenge)))],
                String::new(),
            ),
            Ok(None) => (200, vec![], answer.clone()),
            Err(_) => deny(),
        }
    })
    .await
}

#[tokio::test]
async fn ntlm_over_https_carries_the_channel_binding_extended_protection_requires() {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use sha2::Digest as _;
    let dir = tempfile::tempdir().unwrap();
    let ca = crmsync_tests::tls::TestCa::generate(dir.path()).unwrap();
    // The binding of the server's certificate (ECDSA with SHA-256: SHA-256 of the DER).
    let cert = CertificateDer::pem_file_iter(ca.cert_path()).unwrap().next().unwrap().unwrap();
    let mut binding = b"tls-server-end-point:".to_vec();
    binding.extend_from_slice(&sha2::Sha256::digest(cert.as_ref()));
    let settings = |port: u16| {
        let ntlm = EwsAuth::Ntlm { user: "CONTOSO\\anna".into(), password: "s3cret".into() };
        let mut s = EwsSettings::new(format!("https://localhost:{port}/EWS/Exchange.asmx"), ntlm);
        s.extra_roots = ca.ca_pem().as_bytes().to_vec();
        s.timeout = Duration::from_secs(5);
        s
    };

    let (port, task) = ntlm_https_server(&ca, binding.clone()).await;
    let folders = EwsClient::new(&settings(port)).unwrap().get_folders(&inbox()).await.unwrap();
    assert_eq!(folders[0].as_ref().unwrap().display_name.as_deref(), Some("Inbox"));
    task.abort();

    // A server that sees another certificate (a TLS-intercepting proxy) refuses the login:
    // the client did bind it to the certificate it saw.
    let mut other = binding.clone();
    *other.last_mut().unwrap() ^= 1;
    let (port, task) = ntlm_https_server(&ca, other).await;
    let e = EwsClient::new(&settings(port)).unwrap().get_folders(&inbox()).await.unwrap_err();
    assert_eq!(e.code(), "EWS_AUTH_FAILED", "{e}");
    task.abort();
}
