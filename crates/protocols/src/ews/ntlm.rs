//! NTLM for EWS (Exchange on premises answers `WWW-Authenticate: NTLM`),
//! using the `sspi` crate (Devolutions' pure-Rust SSPI): the client side of
//! the three-message handshake, without I/O. The session sends the NEGOTIATE
//! token, passes the server's CHALLENGE in and sends the AUTHENTICATE token
//! on the same connection. Over HTTPS the AUTHENTICATE message carries the
//! channel binding of the server's certificate (RFC 5929
//! `tls-server-end-point`), which Exchange's Extended Protection (on by
//! default since Exchange 2019 CU14) requires.

use sspi::{
    AuthIdentity, AuthIdentityBuffers, BufferType, ClientRequestFlags, CredentialUse, DataRepresentation,
    Ntlm, SecurityBuffer, SecurityStatus, Sspi, SspiImpl, Username,
};

use crate::settings::Password;

/// One NTLM handshake in progress.
pub(crate) struct NtlmHandshake {
    ntlm: Ntlm,
    creds: Option<AuthIdentityBuffers>,
    target: String,
}

impl std::fmt::Debug for NtlmHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtlmHandshake").field("target", &self.target).finish_non_exhaustive()
    }
}

impl NtlmHandshake {
    /// Starts a handshake for `user` (`DOMAIN\user`, `user@domain` or `user`)
    /// against `host`; returns the NEGOTIATE token.
    pub fn start(user: &str, password: &Password, host: &str) -> Result<(NtlmHandshake, Vec<u8>), String> {
        let username = Username::parse(user).map_err(|e| format!("user name '{user}': {e}"))?;
        let identity = AuthIdentity { username, password: password.expose().to_string().into() };
        let mut ntlm = Ntlm::new();
        let creds = ntlm
            .acquire_credentials_handle()
            .with_credential_use(CredentialUse::Outbound)
            .with_auth_data(&identity)
            .execute(&mut ntlm)
            .map_err(|e| format!("NTLM credentials: {e}"))?
            .credentials_handle;
        let mut hs = NtlmHandshake { ntlm, creds, target: format!("HTTP/{host}") };
        let token = hs.step(None)?;
        Ok((hs, token))
    }

    /// Answers the server's CHALLENGE with the AUTHENTICATE token, bound to
    /// the TLS server certificate `server_cert` (DER) when the connection is TLS.
    pub fn respond(&mut self, challenge: &[u8], server_cert: Option<&[u8]>) -> Result<Vec<u8>, String> {
        if let Some(cert) = server_cert {
            self.ntlm.set_channel_bindings(&tls_server_end_point(cert));
        }
        self.step(Some(challenge))
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let mut input_buf = input.map(|i| vec![SecurityBuffer::new(i.to_vec(), BufferType::Token)]);
        let target = self.target.clone();
        let mut builder = self
            .ntlm
            .initialize_security_context()
            .with_credentials_handle(&mut self.creds)
            .with_context_requirements(ClientRequestFlags::ALLOCATE_MEMORY)
            .with_target_data_representation(DataRepresentation::Native)
            .with_target_name(&target)
            .with_output(&mut output);
        if let Some(buf) = input_buf.as_mut() {
            builder = builder.with_input(buf);
        }
        let result = self
            .ntlm
            .initialize_security_context_impl(&mut builder)
            .and_then(|mut g| g.resolve_to_result())
            .map_err(|e| format!("NTLM: {e}"))?;
        if [SecurityStatus::CompleteAndContinue, SecurityStatus::CompleteNeeded].contains(&result.status) {
            self.ntlm.complete_auth_token(&mut output).map_err(|e| format!("NTLM: {e}"))?;
        }
        Ok(std::mem::take(&mut output[0].buffer))
    }
}

/// Reads one DER element at `pos`: (tag, content start, content length).
fn der(data: &[u8], pos: usize) -> Option<(u8, usize, usize)> {
    let tag = *data.get(pos)?;
    let first = *data.get(pos + 1)? as usize;
    if first < 0x80 {
        return Some((tag, pos + 2, first));
    }
    let n = first & 0x7f;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *data.get(pos + 2 + i)? as usize;
    }
    Some((tag, pos + 2 + n, len))
}

/// The signature algorithm OID of a certificate (DER content bytes).
fn signature_oid(cert: &[u8]) -> Option<&[u8]> {
    let (_, body, _) = der(cert, 0)?;
    let (_, tbs, tbs_len) = der(cert, body)?;
    let (_, alg, _) = der(cert, tbs + tbs_len)?;
    let (tag, oid, oid_len) = der(cert, alg)?;
    (tag == 0x06).then(|| cert.get(oid..oid + oid_len)).flatten()
}

/// The `tls-server-end-point` channel binding of a server certificate (RFC
/// 5929 section 4.1): the certificate hashed with its signature's hash
/// function, SHA-256 for MD5, SHA-1 and SHA-256, prefixed with the type.
pub(crate) fn tls_server_end_point(cert: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    const SHA384: [&[u8]; 2] = [
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c],
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],
    ];
    const SHA512: [&[u8]; 2] = [
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d],
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],
    ];
    let oid = signature_oid(cert).unwrap_or_default();
    let hash = if SHA384.contains(&oid) {
        sha2::Sha384::digest(cert).to_vec()
    } else if SHA512.contains(&oid) {
        sha2::Sha512::digest(cert).to_vec()
    } else {
        sha2::Sha256::digest(cert).to_vec()
    };
    let mut token = b"tls-server-end-point:".to_vec();
    token.extend_from_slice(&hash);
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_binding_hashes_the_certificate_with_its_signature_hash() {
        // A certificate skeleton: SEQUENCE { tbs SEQUENCE {}, alg SEQUENCE { OID }, BIT STRING }.
        let cert = |oid: &[u8]| {
            let mut alg = vec![0x06, oid.len() as u8];
            alg.extend_from_slice(oid);
            let mut body = vec![0x30, 0x00, 0x30, alg.len() as u8];
            body.extend_from_slice(&alg);
            body.extend_from_slice(&[0x03, 0x01, 0x00]);
            let mut c = vec![0x30, body.len() as u8];
            c.extend_from_slice(&body);
            c
        };
        let sha256_rsa = cert(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]);
        let sha384_ec = cert(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03]);
        let prefix = b"tls-server-end-point:".len();
        assert_eq!(tls_server_end_point(&sha256_rsa).len(), prefix + 32);
        assert_eq!(tls_server_end_point(&sha384_ec).len(), prefix + 48);
        assert_eq!(tls_server_end_point(b"garbage").len(), prefix + 32, "unknown: SHA-256");
    }

    #[test]
    fn the_negotiate_token_is_an_ntlm_type_1_message() {
        let (_hs, token) =
            NtlmHandshake::start("CONTOSO\\anna", &Password::new("pw"), "mail.contoso.com").unwrap();
        assert_eq!(&token[..8], b"NTLMSSP\0");
        assert_eq!(token[8], 1, "message type 1 (NEGOTIATE)");
    }
}
