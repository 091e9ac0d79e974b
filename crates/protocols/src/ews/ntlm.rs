//! NTLM for EWS (Exchange on premises answers `WWW-Authenticate: NTLM`),
//! using the `sspi` crate (Devolutions' pure-Rust SSPI): the client side of
//! the three-message handshake, without I/O. The session sends the NEGOTIATE
//! token, passes the server's CHALLENGE in and sends the AUTHENTICATE token
//! on the same connection.

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

    /// Answers the server's CHALLENGE with the AUTHENTICATE token.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_negotiate_token_is_an_ntlm_type_1_message() {
        let (_hs, token) =
            NtlmHandshake::start("CONTOSO\\anna", &Password::new("pw"), "mail.contoso.com").unwrap();
        assert_eq!(&token[..8], b"NTLMSSP\0");
        assert_eq!(token[8], 1, "message type 1 (NEGOTIATE)");
    }
}
