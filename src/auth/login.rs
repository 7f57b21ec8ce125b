//! The admin's username and password, checked with bcrypt off the async threads (~200 ms of CPU
//! at cost 12), behind three limits: failed logins per network (`LoginThrottle`), guesses
//! at one username (`UsernameBackoff`), and password checks running at once (a semaphore sized
//! to about half the cores: beyond it a login is refused at once, not queued). A check whose
//! caller has gone finishes on the blocking pool and keeps its permit until then.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use super::username_backoff::UsernameBackoff;
use super::{AuthError, LoginThrottle};
use crate::config::Settings;

/// What a refused login is told to wait when every password check is busy.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct AdminLogin {
    username: String,
    password_hash: SecretString,
    throttle: LoginThrottle,
    backoff: UsernameBackoff,
    checks: Arc<Semaphore>,
}

impl AdminLogin {
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new(
            settings.master_username.clone(),
            settings.master_password_hash.clone(),
            LoginThrottle::new(settings.login_max_failures_per_minute),
            settings.login_concurrent_checks,
        )
    }

    /// `concurrent_checks` 0 means about half the cores.
    pub fn new(
        username: String,
        password_hash: SecretString,
        throttle: LoginThrottle,
        concurrent_checks: usize,
    ) -> Self {
        let checks = match concurrent_checks {
            0 => std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1)),
            n => n,
        };
        Self {
            username,
            password_hash,
            throttle,
            backoff: UsernameBackoff::default(),
            checks: Arc::new(Semaphore::new(checks)),
        }
    }

    /// Checks the credentials; a refusal by any of the limits checks nothing. `peer`: the
    /// address the attempt came from.
    pub async fn log_in(
        &self,
        peer: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<(), AuthError> {
        let limited = |retry_after| AuthError::RateLimited { retry_after };
        self.backoff.admit(username, peer).map_err(limited)?;
        // Before the attempt counts: a busy server must not spend the caller's budget.
        let permit = Arc::clone(&self.checks)
            .try_acquire_owned()
            .map_err(|_| limited(BUSY_RETRY_AFTER))?;
        let attempt = self.throttle.begin(peer).map_err(limited)?;
        let hash = self.password_hash.expose_secret().to_owned();
        let password = password.to_owned();
        // The hash is checked even for an unknown user, so both take the same time.
        let password_ok = tokio::task::spawn_blocking(move || {
            let verified = bcrypt::verify(password, &hash);
            drop(permit);
            verified
        })
        .await
        .map_err(|err| AuthError::Hashing(err.to_string()))?
        .map_err(|err| AuthError::Hashing(err.to_string()))?;
        let username_ok = constant_time_eq(username.as_bytes(), self.username.as_bytes());
        if !(password_ok && username_ok) {
            self.backoff.failed(username);
            return Err(AuthError::InvalidCredentials);
        }
        self.backoff.succeeded(username, peer);
        attempt.succeeded();
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn login() -> AdminLogin {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        AdminLogin::new("admin".into(), hash.into(), LoginThrottle::new(10), 1)
    }

    #[tokio::test]
    async fn the_right_credentials_pass() {
        login().log_in(LOCALHOST, "admin", "s3cret").await.unwrap();
    }

    #[tokio::test]
    async fn wrong_user_and_wrong_password_look_the_same() {
        let login = login();
        let wrong_user = login.log_in(LOCALHOST, "root", "s3cret").await.unwrap_err();
        let wrong_password = login.log_in(LOCALHOST, "admin", "nope").await.unwrap_err();
        assert_eq!(wrong_user.to_string(), wrong_password.to_string());
    }
}
