//! The admin's username and password, checked with bcrypt off the async threads (~200 ms of CPU
//! at cost 12), behind the login throttle.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};

use super::{AuthError, LoginThrottle};

#[derive(Clone)]
pub struct AdminLogin {
    username: String,
    password_hash: SecretString,
    throttle: LoginThrottle,
}

impl AdminLogin {
    pub fn new(username: String, password_hash: SecretString, throttle: LoginThrottle) -> Self {
        Self {
            username,
            password_hash,
            throttle,
        }
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// Checks the credentials. Too many failures from `client` refuse the attempt without
    /// checking anything.
    pub async fn check(
        &self,
        client: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<(), AuthError> {
        let attempt = self
            .throttle
            .begin(client)
            .map_err(|retry_after| AuthError::RateLimited { retry_after })?;
        let hash = self.password_hash.expose_secret().to_owned();
        let password = password.to_owned();
        // The hash is checked even for an unknown user, so both take the same time.
        let password_ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .map_err(|err| AuthError::Hashing(err.to_string()))?
            .map_err(|err| AuthError::Hashing(err.to_string()))?;
        let username_ok = constant_time_eq(username.as_bytes(), self.username.as_bytes());
        if !(password_ok && username_ok) {
            return Err(AuthError::InvalidCredentials);
        }
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
        AdminLogin::new("admin".into(), hash.into(), LoginThrottle::new(10))
    }

    #[tokio::test]
    async fn the_right_credentials_pass() {
        login().check(LOCALHOST, "admin", "s3cret").await.unwrap();
    }

    #[tokio::test]
    async fn wrong_user_and_wrong_password_look_the_same() {
        let login = login();
        let wrong_user = login.check(LOCALHOST, "root", "s3cret").await.unwrap_err();
        let wrong_password = login.check(LOCALHOST, "admin", "nope").await.unwrap_err();
        assert_eq!(wrong_user.to_string(), wrong_password.to_string());
    }
}
