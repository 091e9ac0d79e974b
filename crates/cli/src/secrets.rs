//! Reading passwords from stdin or an environment variable — never from argv.

use std::io::BufRead;

use crmsync_core::secrets::Secret;

use crate::CliError;

/// Reads the password named by `--password-stdin` / `--password-env VAR`, if any.
pub fn read_password(stdin: bool, env: Option<&str>) -> Result<Option<Secret>, CliError> {
    if stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Runtime(format!("cannot read the password from stdin: {e}")))?;
        let pw = line.trim_end_matches(['\r', '\n']);
        if pw.is_empty() {
            return Err(CliError::Invalid("password-stdin: no password on standard input".into()));
        }
        return Ok(Some(Secret::new(pw)));
    }
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
            _ => Err(CliError::Invalid(format!(
                "password-env: environment variable {var} is not set or empty"
            ))),
        };
    }
    Ok(None)
}
